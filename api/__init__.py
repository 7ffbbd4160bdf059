"""Fichas: the production-order API that the shop-floor PCs talk to."""

from importlib.metadata import version

# One source: the package's metadata (pyproject.toml), as /metrics reports it too.
__version__ = version("fichas")
