"""Fichas: the production-order API that the shop-floor PCs talk to.

This package is the product's shell: the ``fichas`` command (``fichas.cli``, the top layer) and
what every part shares (settings, process and port helpers, the data files it ships; the bottom
layer). docs/ARCHITECTURE.md describes the layers between.
"""


def __getattr__(name: str) -> str:
    # One source for the version: the package's metadata (pyproject.toml), as /metrics reports
    # it too. Read when asked: importing importlib.metadata costs every command ~70 ms here.
    if name == "__version__":
        from importlib.metadata import version

        return version("fichas")
    raise AttributeError(f"module 'fichas' has no attribute {name!r}")
