"""``fichas backup run`` on PostgreSQL: ``pg_dump`` in its custom format, same manifest.

The row counts are taken in the very snapshot pg_dump dumps (``pg_export_snapshot`` handed to
``pg_dump --snapshot``), so the manifest describes exactly what the archive holds. The custom
format is compressed by pg_dump itself; it is stored as it comes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from api.db.engine import build_engine
from backup import manifest, store
from backup.archive import sha256_of
from backup.manifest import BackupError, Manifest
from fichas.settings import Settings

SUFFIX = ".pgdump"


class ToolMissing(BackupError):
    """A PostgreSQL client program the backup needs is not installed (exit status 2)."""


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(
            f"{name} is not installed, so a PostgreSQL database cannot be backed up here: "
            "install the PostgreSQL client programs (Debian: apt-get install postgresql-client), "
            "of the server's major version or newer"
        )
    return found


def libpq_target(settings: Settings) -> tuple[str, dict[str, str]]:
    """(connection URL without the password, environment carrying it): never on a command line,
    where any user of the machine could read it in the process list."""
    url: URL = make_url(settings.resolved_database_url).set(drivername="postgresql")
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return url.set(password=None).render_as_string(hide_password=False), env


def take(settings: Settings, directory: Path) -> Manifest:
    """Dump the database into ``directory``; call with the directory's lock held."""
    pg_dump = tool("pg_dump")
    started, created_at = time.monotonic(), datetime.now(UTC)
    backup_id = manifest.new_id(created_at)
    dumped = directory / f"{backup_id}{SUFFIX}"
    target, env = libpq_target(settings)
    engine = build_engine(settings)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            exported = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            tables = conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            ).scalars()
            counts = {
                t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()  # noqa: S608
                for t in sorted(tables)
            }
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            raw_bytes = conn.execute(
                text("SELECT pg_database_size(current_database())")
            ).scalar_one()
            done = subprocess.run(  # noqa: S603 - fixed arguments, the URL from our settings
                [pg_dump, "--format=custom", f"--snapshot={exported}",
                 f"--file={store.temporary(dumped)}", target],
                env=env, capture_output=True, text=True, check=False,
            )  # fmt: skip
            conn.rollback()  # the snapshot stays valid only while this transaction is open
    finally:
        engine.dispose()
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed ({done.returncode}): {done.stderr.strip()}")
    store.publish(store.temporary(dumped), dumped)
    version = subprocess.run(  # noqa: S603
        [pg_dump, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    taken = Manifest(
        id=backup_id,
        kind="postgresql",
        file=dumped.name,
        created_at=created_at,
        raw_bytes=int(raw_bytes),
        stored_bytes=dumped.stat().st_size,
        sha256=sha256_of(dumped),
        engine_version=version,
        schema_revision=None if revision is None else str(revision),
        row_counts=counts,
        duration_seconds=round(time.monotonic() - started, 3),
    )
    manifest.write(directory, taken)
    return taken


def archive_problems(data: Path) -> list[str]:
    """``pg_restore --list`` reads the whole table of contents: a damaged archive fails it."""
    try:
        pg_restore = tool("pg_restore")
    except ToolMissing as exc:
        return [str(exc)]
    done = subprocess.run(  # noqa: S603
        [pg_restore, "--list", str(data)], capture_output=True, text=True, check=False
    )
    return [] if done.returncode == 0 else [f"pg_restore cannot read it: {done.stderr.strip()}"]
