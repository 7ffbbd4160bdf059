"""The files fichas ships from the repository's top-level folders: the alert rules and
Alertmanager's configuration (``alerting/``) and the Grafana dashboards (``grafana/``).

In a checkout they are read where they are kept, beside this package; an installed wheel
carries them inside this package instead (``force-include`` in pyproject.toml), since a wheel
should not install folders with names as generic as ``alerting`` at the top of site-packages.
One function finds them in either place, so the code reads them the same way from both.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def bundled(relative: str) -> Path:
    """The path of ``relative`` (as in the repository: ``alerting/rules/*.yml``), wherever this
    installation keeps it; its last part may be a glob pattern."""
    installed = PACKAGE / relative
    return installed if installed.parent.exists() else PACKAGE.parent / relative
