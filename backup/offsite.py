"""A copy of each verified backup in a second folder (``FICHAS_BACKUP_OFFSITE_DIR``), e.g. a
NAS mount: the same layout, so ``fichas`` can list, verify and restore from it as from the
first (point ``FICHAS_BACKUP_DIR`` at it)."""

from __future__ import annotations

import shutil
from pathlib import Path

from backup import manifest, store
from backup.manifest import Manifest


def copy(directory: Path, verified: Manifest, offsite: Path) -> Path:
    """Copy one backup, data file first and manifest last, each whole or not at all."""
    offsite.mkdir(parents=True, exist_ok=True)
    target = offsite / verified.file
    shutil.copyfile(directory / verified.file, store.temporary(target))
    store.publish(store.temporary(target), target)
    manifest.write(offsite, verified)
    return target
