"""Fichas: the production-order API that the shop-floor PCs talk to."""

__version__ = "0.1.0"
