"""What the CLI's tests share."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data dir for the commands run in-process, on SQLite whatever the environment says."""
    monkeypatch.delenv("FICHAS_DATABASE_URL", raising=False)
    monkeypatch.setenv("FICHAS_DATA_DIR", str(tmp_path))
    return tmp_path
