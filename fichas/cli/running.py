"""What the commands that look at a running cluster share (``status``, ``top``, ``alert``): the
status file its supervisor keeps, or the one line saying that no cluster runs here."""

from __future__ import annotations

import sys
from pathlib import Path


def status_file() -> Path | None:
    """The running cluster's status file; None, having said so on stderr, when none runs."""
    from fichas.settings import load_settings

    path = load_settings().status_file
    if path.exists():
        return path
    print(
        f"fichas: no cluster is running here ({path} is absent); start one with `fichas up`",
        file=sys.stderr,
    )
    return None
