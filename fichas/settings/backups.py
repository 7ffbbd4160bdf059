"""Backups (``fichas backup``, and the scheduler under ``fichas up``) and the continuous
replication of the SQLite database with Litestream (backup/replication.py)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from fichas.settings.values import Duration


class BackupSettings(BaseModel):
    backup_dir: Path | None = Field(
        None, description="Where snapshots are kept; default: <data_dir>/backups."
    )
    backup_interval: Duration = Field(
        3600.0,
        gt=0,
        description="Seconds between scheduled backups, or a duration: 90s, 30m, 1h, 1d.",
    )
    backup_offsite_dir: Path | None = Field(
        None, description="A second folder (e.g. a NAS mount) each verified snapshot is copied to."
    )
    backup_keep_hourly: int = Field(24, ge=0, description="Retention: newest per hour, last N.")
    backup_keep_daily: int = Field(14, ge=0, description="Retention: newest per day, last N.")
    backup_keep_weekly: int = Field(8, ge=0, description="Retention: newest per week, last N.")
    backup_keep_monthly: int = Field(12, ge=0, description="Retention: newest per month, last N.")
    replication: bool = Field(
        True, description="Run Litestream beside the cluster when the database is SQLite."
    )
    replica_url: str | None = Field(
        None,
        description="Where Litestream replicates to: a folder (another disk, a NAS mount) or an "
        "s3://, sftp://, gs://, abs://, webdav:// URL; default: <backup_dir>/replica. "
        "Credentials go in Litestream's own variables (AWS_ACCESS_KEY_ID...), not in the URL.",
    )

    @field_validator("replica_url")
    @classmethod
    def _no_password_in_url(cls, value: str | None) -> str | None:
        # The URL is written into Litestream's configuration and shown by `fichas status`.
        if value is not None and "://" in value and urlsplit(value).password is not None:
            raise ValueError(
                "holds a password: give it to Litestream through its own environment variables "
                "(or an SFTP key file), not in the URL"
            )
        return value
