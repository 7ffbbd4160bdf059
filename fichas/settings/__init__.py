"""Every knob of fichas, read once from ``FICHAS_*`` environment variables.

One place reads the environment (``load_settings``) and rejects what it does not know; the
knobs themselves are grouped by concern, one module each: where data lives (``storage``), how
an instance serves (``api``), Redis, limits and breakers (``resilience``), backups and
replication (``backups``), where alerts go (``alerts``). ``Settings`` is all of them in one
object. Tracing takes OpenTelemetry's own ``OTEL_*`` variables (observability/tracing.py).

Settings are validated when read, so a bad value stops the process at start-up with a message
naming the variable, instead of failing on the first request that needs it. The bottom layer
(docs/ARCHITECTURE.md): every package may import it, and it imports none of theirs.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from fichas.settings.alerts import AlertSettings
from fichas.settings.api import ApiSettings
from fichas.settings.backups import BackupSettings
from fichas.settings.resilience import ResilienceSettings
from fichas.settings.storage import StorageSettings

__all__ = ["Settings", "SettingsError", "load_settings"]


class SettingsError(Exception):
    """Raised with a readable, multi-line explanation of every bad ``FICHAS_*`` value."""


# Fields are listed (and reported) base by base from the last: storage first, alerts last.
class Settings(
    BaseSettings, AlertSettings, BackupSettings, ResilienceSettings, ApiSettings, StorageSettings
):
    model_config = SettingsConfigDict(env_prefix="FICHAS_", extra="forbid", frozen=True)

    @property
    def resolved_backup_dir(self) -> Path:
        return self.backup_dir or self.data_dir / "backups"


def load_settings(**overrides: object) -> Settings:
    """Read the environment (plus explicit overrides); raise SettingsError listing every problem."""
    lines = [
        f"  {name}: {_unknown(name)}"
        for name in sorted(os.environ)
        if name.startswith("FICHAS_")
        and not name.startswith("FICHAS_TEST_")  # the test suite's own variables
        and name.removeprefix("FICHAS_").lower() not in Settings.model_fields
    ]
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines += [
            f"  FICHAS_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
    if lines:
        raise SettingsError("invalid settings:\n" + "\n".join(lines))
    return settings


def _unknown(name: str) -> str:
    """What to say of an unknown ``FICHAS_*`` variable: the known name it is closest to, if one
    is close (names compared without the prefix they all share, which would make any two look
    alike)."""
    close = difflib.get_close_matches(
        name.removeprefix("FICHAS_").lower(), list(Settings.model_fields), n=1
    )
    if not close:
        return "unknown setting (a typo?)"
    return f"unknown setting; did you mean FICHAS_{close[0].upper()}?"
