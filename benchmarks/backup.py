"""Backup benchmark: snapshot, sizes, restore (RTO), and what a snapshot costs concurrent writes.

On a SQLite database of 10,000 clientes and 100,000 pedidos (``fichas demo-data``) in a
throw-away data directory, in one run:

- snapshot time (``backup.snapshot.take``: online copy, integrity_check, row counts, zstd) and
  the full ``run_backup`` (snapshot + verify + prune), several times each; ``VACUUM INTO`` timed
  on the same file for comparison with the backup API's page copy;
- database size raw vs. compressed;
- restore time (the RTO): ``fichas restore``'s work into a new file (unpack, checksum,
  integrity_check, row counts, page copy), then in place (plus saving the replaced database);
- p50/p99 of ``POST /pedidos`` (wrk, ``benchmarks/wrk/fichas.lua``, one ``fichas serve``) with
  no snapshot running and with snapshots back to back for the whole window, alternating
  A B A B A B so the drift of a shared machine falls on both; the ratio of the p99s.

Nothing is pinned: the snapshot, the server and wrk share the machine's CPUs as the scheduler,
the instances and the PCs' requests would. Traffic goes to 127.0.0.1 only; the server is
stopped by PID before the script ends.

Run from the repository root with::

    uv run python -m benchmarks.backup [--window 10] [--connections 16] [--repeat 3] [--rounds 3]
                                       [--out results/backup-<date>.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

from backup import snapshot, sqlite
from backup.job import run_backup
from backup.restore import restore
from benchmarks import core_api
from fichas.settings import Settings

CLIENTES, PEDIDOS = 10_000, 100_000
POST = next(e for e in core_api.ENDPOINTS if e.mode == "pedido")
MAX_P99_RATIO = 2.0


def prepare(data_dir: Path) -> str:
    core_api.fichas(data_dir, "migrate")
    core_api.fichas(data_dir, "demo-data", "--clientes", str(CLIENTES), "--pedidos", str(PEDIDOS))
    return core_api.fichas(data_dir, "keys", "create", "bench").strip().splitlines()[-1]


def timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - started, result


def vacuum_into_seconds(database: Path, target: Path) -> float:
    with closing(sqlite.connect(database)) as connection:
        seconds, _ = timed(connection.execute, f"VACUUM INTO '{target}'")
    target.unlink()
    return seconds


def page_copy_seconds(database: Path, target: Path) -> float:
    seconds, _ = timed(sqlite.copy, database, target)
    target.unlink()
    return seconds


def offline_figures(settings: Settings, repeat: int) -> dict[str, Any]:
    """Snapshot, full run, VACUUM INTO and restore, with no load on the database."""
    directory = settings.resolved_backup_dir
    directory.mkdir(parents=True, exist_ok=True)
    database = sqlite.database_file(settings)
    snapshots = [timed(snapshot.take, settings, directory) for _ in range(repeat)]
    runs = [timed(run_backup, settings) for _ in range(repeat)]
    vacuums = [
        vacuum_into_seconds(database, database.with_name("vacuum.db")) for _ in range(repeat)
    ]
    copies = [page_copy_seconds(database, database.with_name("copy.db")) for _ in range(repeat)]
    newest = runs[-1][1].taken
    to_new = []
    for n in range(repeat):
        target = settings.data_dir / f"restored-{n}.db"
        to_new.append(timed(restore, settings, newest.id, to=target, force=False)[0])
        target.unlink()
    in_place = [timed(restore, settings, newest.id, to=None, force=False)[0] for _ in range(repeat)]
    for previous in database.parent.glob("fichas.db.before-restore-*"):
        previous.unlink()
    return {
        "raw_bytes": newest.raw_bytes,
        "stored_bytes": newest.stored_bytes,
        "compression_ratio": round(newest.raw_bytes / newest.stored_bytes, 2),
        "row_counts": newest.row_counts,
        "snapshot_seconds": [round(s, 3) for s, _ in snapshots],
        "run_backup_seconds": [round(s, 3) for s, _ in runs],
        "vacuum_into_seconds": [round(s, 3) for s in vacuums],
        "page_copy_seconds": [round(s, 3) for s in copies],
        "restore_to_new_file_seconds": [round(s, 3) for s in to_new],
        "restore_in_place_seconds": [round(s, 3) for s in in_place],
    }


class SnapshotLoop(threading.Thread):
    """Snapshots back to back until stopped (the worst case for writers)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings, self.stop, self.seconds = settings, threading.Event(), list[float]()

    def run(self) -> None:
        directory = self.settings.resolved_backup_dir
        while not self.stop.is_set():
            seconds, taken = timed(snapshot.take, self.settings, directory)
            self.seconds.append(seconds)
            (directory / taken.file).unlink()  # keep the disk from filling over the window
            (directory / f"{taken.id}.json").unlink()


def write_latency(
    data_dir: Path, settings: Settings, token: str, args: argparse.Namespace
) -> dict[str, Any]:
    """POST /pedidos p99 without (A) and during (B) snapshots, A B A B ..."""
    phases: dict[str, list[core_api.WrkRun]] = {"without": [], "during": []}
    snapshot_seconds: list[float] = []
    with core_api.running_server(data_dir, pin=False) as (server, port):
        warm = core_api.wrk_env(POST, token, "backup-warmup")
        core_api.run_wrk(server.pid, port, POST, args.connections, 2, warm, False)
        for n, phase in enumerate(["without", "during"] * args.rounds):
            env = core_api.wrk_env(POST, token, f"backup-{n}-{phase}")
            loop = SnapshotLoop(settings) if phase == "during" else None
            if loop is not None:
                loop.start()
            try:
                run = core_api.run_wrk(server.pid, port, POST, args.connections, args.window,
                                       env, False)  # fmt: skip
            finally:
                if loop is not None:
                    loop.stop.set()
                    loop.join()
                    snapshot_seconds += loop.seconds
            phases[phase].append(run)
            print(f"  {phase:<8} {run.rps:7.0f} req/s  p99 {run.p99_ms:7.1f} ms  "
                  f"errors {run.errors}", flush=True)  # fmt: skip
    summary: dict[str, Any] = {}
    for phase, runs in phases.items():
        summary[phase] = {
            "rps": [round(r.rps, 1) for r in runs],
            "p50_ms": [round(r.p50_ms, 2) for r in runs],
            "p99_ms": [round(r.p99_ms, 2) for r in runs],
            "max_ms": [round(r.max_ms, 2) for r in runs],
            "errors": sum(r.errors for r in runs),
        }
    without = median(summary["without"]["p99_ms"])
    during = median(summary["during"]["p99_ms"])
    summary["p99_ratio"] = round(during / without, 2) if without else None
    summary["snapshots_during_load"] = len(snapshot_seconds)
    summary["snapshot_seconds_under_load"] = [round(s, 3) for s in snapshot_seconds]
    return summary


def report(offline: dict[str, Any], writes: dict[str, Any]) -> str:
    def span(values: list[float]) -> str:
        return f"{median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"

    ratio = writes["p99_ratio"]
    lines = [
        "| what | figure |",
        "|---|---|",
        f"| database (raw) | {offline['raw_bytes'] / 1e6:,.1f} MB |",
        f"| snapshot (zstd) | {offline['stored_bytes'] / 1e6:,.1f} MB "
        f"({offline['compression_ratio']}×) |",
        f"| snapshot time (copy + integrity_check + counts + zstd) | "
        f"{span(offline['snapshot_seconds'])} |",
        f"| full run (snapshot + verify + prune) | {span(offline['run_backup_seconds'])} |",
        f"| of which the online copy (backup API) | {span(offline['page_copy_seconds'])} |",
        f"| `VACUUM INTO` instead, for comparison | {span(offline['vacuum_into_seconds'])} |",
        f"| restore to a new file (RTO) | {span(offline['restore_to_new_file_seconds'])} |",
        f"| restore in place (+ saving the old file) | "
        f"{span(offline['restore_in_place_seconds'])} |",
        f"| snapshot time under write load | {span(writes['snapshot_seconds_under_load'])} "
        f"({writes['snapshots_during_load']} snapshots) |",
        "",
        "| POST /pedidos | req/s | p50 ms | p99 ms | max ms | errors |",
        "|---|---|---|---|---|--:|",
    ]
    for phase in ("without", "during"):
        figures = writes[phase]
        lines.append(
            f"| {phase} snapshots | {' · '.join(f'{v:,.0f}' for v in figures['rps'])} | "
            f"{' · '.join(str(v) for v in figures['p50_ms'])} | "
            f"{' · '.join(str(v) for v in figures['p99_ms'])} | "
            f"{' · '.join(str(v) for v in figures['max_ms'])} | {figures['errors']} |"
        )
    verdict = "met" if ratio is not None and ratio <= MAX_P99_RATIO else "MISSED"
    lines += ["", f"p99 during ÷ without (medians): **{ratio}×** (≤ {MAX_P99_RATIO}×: {verdict})"]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--window", type=float, default=10, help="seconds of each load phase")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--repeat", type=int, default=3, help="times each offline figure")
    parser.add_argument("--rounds", type=int, default=3, help="A B pairs of load phases")
    parser.add_argument("--out", type=Path, help="JSON (default results/backup-<date>.json)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    core_api.require_tools()
    started = datetime.now(UTC)
    out: Path = args.out or core_api.ROOT / "results" / f"backup-{started:%Y%m%d-%H%M%S}.json"
    info = {**core_api.machine(), "date": started.isoformat(timespec="seconds"), "argv": sys.argv}
    with tempfile.TemporaryDirectory(prefix="fichas-backup-", dir=os.environ.get("TMPDIR")) as tmp:
        data_dir = Path(tmp)
        print(f"loading {CLIENTES:,} clientes and {PEDIDOS:,} pedidos ...", flush=True)
        token = prepare(data_dir)
        settings = Settings(data_dir=data_dir)
        print("offline: snapshot, run, VACUUM INTO, restore ...", flush=True)
        offline = offline_figures(settings, args.repeat)
        print("POST /pedidos without and during snapshots ...", flush=True)
        writes = write_latency(data_dir, settings, token, args)
    info["load_average_at_end"] = os.getloadavg()
    print("\n" + report(offline, writes))
    plan = {k: v for k, v in vars(args).items() if k != "out"}
    core_api.write_report(
        out, {"machine": info, "plan": plan, "offline": offline, "writes": writes}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
