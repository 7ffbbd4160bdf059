"""The HTTP API the shop-floor PCs talk to: a Starlette app (``api.app``) in layers, see
docs/ARCHITECTURE.md."""
