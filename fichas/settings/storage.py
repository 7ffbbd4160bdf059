"""Where fichas keeps things: the data folder, the database, and how it is reached."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator


class StorageSettings(BaseModel):
    data_dir: Path = Field(Path("data"), description="Folder for the SQLite file and key files.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default: SQLite at <data_dir>/fichas.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
    )
    db_threads: int = Field(
        4, ge=1, le=64, description="PostgreSQL: threads (each) for reads and for writes."
    )
    db_busy_timeout_ms: int = Field(5000, ge=0, le=60_000)

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'fichas.db'}"

    @property
    def cluster_dir(self) -> Path:
        """Where ``fichas up`` keeps its lock, status and generated configs."""
        return self.data_dir / "cluster"

    @property
    def status_file(self) -> Path:
        """What the running cluster's supervisor writes: its processes, for ``fichas status``."""
        return self.cluster_dir / "status.json"
