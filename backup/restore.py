"""``fichas restore``: put a database back, checked first, keeping what it replaces.

Two sources: a snapshot (``fichas restore ID``), or Litestream's replica — its newest state
(``--latest``) or the state at a moment (``--at``), see backup/replication.py. Either is first
written to a temporary file beside the target and checked (a snapshot: checksum,
``integrity_check``, row counts; the replica: ``integrity_check`` and the schema) before
anything is touched. The target is then overwritten
*through SQLite's backup API* (the restored file's pages copied into the target's connection),
not by renaming a file over it: a running instance keeps its file open, and after a rename it
would go on reading and writing the old, unlinked inode — its writes lost, its readers seeing
the past. Copied through SQLite, the target takes the write lock for the copy (writers wait on
their busy timeout, so writes stop for that moment), and every other connection sees the new
content at its next transaction. The replaced database is first saved, again through the
backup API (a consistent copy even while written), as ``<name>.before-restore-<time>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from redis import Redis
from redis.exceptions import RedisError

from api.auth import revocations
from api.cache.responses import GENERATION_KEYS
from api.data import generations
from api.db.engine import is_sqlite, sqlite_file, sqlite_module
from backup import manifest, replication, sqlite, store
from backup.archive import decompress
from backup.manifest import BackupError
from backup.verify import file_problems, unpacked_problems
from fichas import owner
from fichas.settings import Settings


class RestoreRefused(BackupError):
    """Restoring now would harm a running cluster; ``--force`` overrides."""


@dataclass(frozen=True)
class Restored:
    checked: str  # what was restored, and what was checked of it before anything was touched
    target: Path
    previous: Path | None  # where the replaced database was saved, if there was one
    row_counts: dict[str, int]
    schema_revision: str | None
    cache: str = "none"  # what became of the instances' Redis cache: none, emptied, or why not
    previous_unreadable: bool = False  # it was not a database SQLite could read: moved aside


def running_cluster(settings: Settings) -> int | None:
    """The pid of the ``fichas up`` running on this data directory, if one is (it holds the data
    dir's lock for its whole life, fichas/owner.py: no status file or pid to go stale)."""
    return owner.holder(settings.cluster_dir)


def lost_database(settings: Settings) -> str | None:
    """Why starting now would begin an empty SQLite database although a replica or backups of
    one exist (the file deleted, the disk replaced, the wrong data dir): what was found, and the
    restore command; None when there is a database, or nothing to restore it from."""
    if not is_sqlite(settings) or (database := sqlite_file(settings)) is None:
        return None
    if database.exists() and database.stat().st_size > 0:
        return None
    found = []
    if settings.replication:
        try:
            state = replication.replica_state(settings)
        except BackupError:
            state = None  # unreadable now: the snapshots may still say enough
        if state is not None:
            found.append(
                f"{replication.replica_url(settings)} holds a replica of one (newest change "
                f"{datetime.fromtimestamp(state.synced_at, UTC):%Y-%m-%d %H:%M:%S} UTC): "
                "restore it with `fichas restore --latest`"
            )
    directory = settings.resolved_backup_dir
    sqlite_backups = [m for m in manifest.complete(directory) if m.kind == "sqlite" and m.verified]
    if sqlite_backups:
        newest = sqlite_backups[-1]  # complete() lists them oldest first
        found.append(
            f"{directory} holds backups of one (the newest verified: {newest.id}, taken "
            f"{newest.created_at:%Y-%m-%d %H:%M} UTC): restore it with "
            f"`fichas restore {newest.id}`"
        )
    if not found:
        return None
    return (
        f"there is no database at {database}, but {'; and '.join(found)}; or start an empty "
        "database with `fichas up --new-database`"
    )


def restore(settings: Settings, backup_id: str, *, to: Path | None, force: bool) -> Restored:
    """Put snapshot ``backup_id`` back (checksum, integrity and row counts checked first)."""
    directory = settings.resolved_backup_dir
    found = manifest.read(directory, backup_id)
    if found.kind != "sqlite":
        raise BackupError(
            f"{backup_id} is a PostgreSQL archive: restore it with "
            f"pg_restore --clean --if-exists -d <database> {directory / found.file}"
        )
    target, pid = _target(settings, to, force)
    problems = file_problems(directory / found.file, found)
    if problems:
        raise BackupError(f"backup {backup_id} is not usable: {'; '.join(problems)}")

    def unpack(unpacked: Path) -> None:
        decompress(directory / found.file, unpacked)
        problems = unpacked_problems(unpacked, found)
        if problems:
            raise BackupError(f"backup {backup_id} is not usable: {'; '.join(problems)}")

    checked = f"backup {backup_id}: checksum, integrity_check and row counts match"
    return _put_back(settings, target, pid, unpack, checked, live_target=to is None)


def restore_from_replica(
    settings: Settings, *, at: datetime | None, to: Path | None, force: bool
) -> Restored:
    """Rebuild the database from Litestream's replica — its newest state, or the state at ``at``
    — and put it back, checked first (integrity_check, and that it is a Fichas schema)."""
    target, pid = _target(settings, to, force)
    when = "newest state" if at is None else f"state at {at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    source = f"the replica's {when} ({replication.replica_url(settings)})"

    def rebuild(unpacked: Path) -> None:
        replication.restore_replica(settings, unpacked, at)
        problems = sqlite.integrity_problems(unpacked)
        if not problems and sqlite.schema_revision(unpacked) is None:
            problems = ["it holds no Fichas schema (no alembic_version)"]
        if problems:
            raise BackupError(f"{source} is not usable: {'; '.join(problems)}")

    checked = f"{source}: integrity_check passes"
    return _put_back(settings, target, pid, rebuild, checked, live_target=to is None)


def _target(settings: Settings, to: Path | None, force: bool) -> tuple[Path, int | None]:
    """Where the restore writes, and the pid of the cluster using it (None: none does);
    RestoreRefused when one does and ``force`` is not given."""
    target = to if to is not None else sqlite.database_file(settings)
    pid = running_cluster(settings) if to is None else None  # a cluster has the target open
    if pid is not None and not force:
        raise RestoreRefused(
            f"a running cluster (supervisor pid {pid}) uses {target}: stop it first "
            "(`kill -TERM` the pid, or Ctrl+C on `fichas up`), or pass --force to restore into "
            "it live (writes wait while the pages are copied); nothing was changed"
        )
    return target, pid


def _put_back(
    settings: Settings,
    target: Path,
    pid: int | None,
    fill: Callable[[Path], None],
    checked: str,
    *,
    live_target: bool,
) -> Restored:
    """``fill`` writes the database to restore into a temporary file beside ``target`` and
    checks it (BackupError if unusable); only then is what ``target`` holds kept aside and the
    new content copied in."""
    target.parent.mkdir(parents=True, exist_ok=True)
    unpacked = target.with_name(f".{target.name}.restore{store.TEMPORARY}")
    unpacked.unlink(missing_ok=True)  # left by an interrupted restore
    try:
        fill(unpacked)
        _renew_generations(unpacked)
        row_counts = sqlite.row_counts(unpacked)
        revision = sqlite.schema_revision(unpacked)
        previous, unreadable = _save_previous(
            target, settings.db_busy_timeout_ms, live=pid is not None
        )
        sqlite.copy(unpacked, target, settings.db_busy_timeout_ms)
    finally:
        for part in (unpacked, *sqlite.sidecars(unpacked)):
            part.unlink(missing_ok=True)
    cache = _forget_cached_answers(settings) if live_target else "none"
    return Restored(checked, target, previous, row_counts, revision, cache, unreadable)


def _renew_generations(database: Path) -> None:
    """New generations for the cached families in the database about to be put back, so that an
    instance caching without Redis (api/cache/local.py) never takes the restored generations,
    which it may have seen before, for the ones its entries were cached at."""
    engine = sa.create_engine("sqlite://", creator=lambda: sqlite.connect(database))
    try:
        with engine.begin() as conn:
            generations.renew(conn, GENERATION_KEYS)
    finally:
        engine.dispose()


def _forget_cached_answers(settings: Settings) -> str:
    """The restored rows replace what the instances may have cached in Redis: bump every cached
    family's generation, as a write does, so that no instance serves an answer from before; and
    the keys' generation, as a revocation does, so that no instance goes on trusting a key the
    restored database does not have (one made after the backup)."""
    if settings.redis_url is None:
        return "none"
    try:
        with Redis.from_url(settings.redis_url, socket_timeout=5) as client:
            for key in (*GENERATION_KEYS, revocations.KEY):
                client.incr(key)
    except RedisError as exc:
        return f"NOT emptied ({exc}): cached answers may be stale for up to the cache TTL"
    return "emptied"


def _save_previous(target: Path, busy_timeout_ms: int, *, live: bool) -> tuple[Path | None, bool]:
    """Keep what the restore replaces: a copy of a readable database (through the backup API, so
    a consistent one even while written); an unreadable file (corrupt, not a database) moved
    aside whole with its -wal/-shm, since SQLite can neither copy it nor restore into it. Where
    it went, and whether it was unreadable. A -wal/-shm left by a deleted database is moved
    aside too: SQLite would replay that stale log into the restored file."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    if not target.exists():
        _move_aside(target, f"orphan-{stamp}")
        return None, False
    previous = target.with_name(f"{target.name}.before-restore-{stamp}")
    try:
        sqlite.copy(target, previous, busy_timeout_ms)
    except sqlite_module().DatabaseError as exc:
        previous.unlink(missing_ok=True)  # the copy's empty start: never left as a "backup"
        if live:
            raise BackupError(
                f"{target} cannot be read ({exc}) and a running cluster has it open: stop the "
                "cluster, then restore again (the unreadable file is then moved aside)"
            ) from None
        return _move_aside(target, f"unreadable-{stamp}"), True
    return previous, False


def _move_aside(database: Path, label: str) -> Path:
    """Rename ``database`` and its -wal/-shm, those that exist, to ``<name>.<label>``."""
    aside = database.with_name(f"{database.name}.{label}")
    for part, moved in zip(
        (database, *sqlite.sidecars(database)), (aside, *sqlite.sidecars(aside)), strict=True
    ):
        if part.exists():
            part.rename(moved)
    return aside
