"""HTTP benchmark of the Redis cache: hits against misses, on SQLite and on PostgreSQL.

In one run, for each database (a SQLite file, then a throw-away PostgreSQL database; both of
10,000 clientes and 50,000 pedidos, as in ``benchmarks/core_api.py``):

- one ``fichas serve`` pinned to CPU 0 with ``FICHAS_REDIS_URL`` pointing at a ``redis-server``
  of this script's own (free loopback port, nothing on disk), wrk pinned to CPU 1;
- ``GET /clientes?limit=50`` and ``GET /clientes/{id}``, each as **hits** (the same page; ids
  1..100 — all cached after the warm-up) and as **misses** (URLs never requested before: pages
  walked in order, ids in order, a leading zero added on each pass — ``limit=050`` is 50 —
  after Redis is emptied), and **without Redis** for reference (since issue 21, each instance
  then caches in-process, told of writes by the database: api/cache/local.py; the same URLs as
  the hits, so these are that cache's hits);
- req/s, p50, p99, server CPU per request, and the ratio of hits to misses.

Run from the repository root with::

    uv run python -m benchmarks.cache [--duration 8] [--warmup 2] [--connections 25]
                                      [--out results/cache-<date>.json]

Needs wrk, taskset, redis-server and, for the PostgreSQL half, the server of
``FICHAS_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``).
Every process started here is stopped by PID; traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from api.http.pagination import encode_cursor
from benchmarks import core_api
from loadtest.target import RedisServer, redis_server
from tests.support import POSTGRES_URL, throwaway_postgres

MIN_HIT_RATIO = 2.0


@dataclass(frozen=True)
class Case:
    endpoint: str
    kind: str  # hit, miss, no Redis
    path: str
    mode: str  # benchmarks/wrk/fichas.lua


CASES = (
    Case("GET /clientes?limit=50", "hit", "/clientes?limit=50", "static"),
    Case("GET /clientes?limit=50", "miss", "/clientes", "page-unique"),
    Case("GET /clientes/{id}", "hit", "/clientes/1", "cliente-few"),
    Case("GET /clientes/{id}", "miss", "/clientes/1", "cliente-unique"),
)
NO_REDIS = (
    Case("GET /clientes?limit=50", "no Redis", "/clientes?limit=50", "static"),
    Case("GET /clientes/{id}", "no Redis", "/clientes/1", "cliente-few"),
)


@dataclass
class Row:
    database: str
    endpoint: str
    kind: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu_us_per_request: int
    hit_ratio: float = 0.0  # hits' req/s over misses'


def flush(redis: RedisServer) -> None:
    with socket.create_connection(("127.0.0.1", redis.port), timeout=5) as conn:
        conn.sendall(b"FLUSHALL\r\n")
        if not conn.recv(16).startswith(b"+OK"):
            raise RuntimeError("FLUSHALL failed")


def write_cursors(path: Path) -> Path:
    """Cursors of every 50-row page but the first, as the API encodes them."""
    lines = [str(encode_cursor(last)) for last in range(50, core_api.CLIENTES - 50 + 1, 50)]
    path.write_text("\n".join(lines) + "\n")
    return path


def measure(
    database: str, cases: Sequence[Case], server: tuple[int, int], token: str,
    redis: RedisServer | None, args: argparse.Namespace, cursors: Path,
) -> list[Row]:  # fmt: skip
    pid, port = server
    rows = []
    for connections in args.connections:
        for case in cases:
            endpoint = core_api.Endpoint(case.endpoint, case.path, case.mode)
            run = None
            for phase, seconds in (("warmup", args.warmup), ("measure", args.duration)):
                if phase == "measure" and case.kind == "miss" and redis is not None:
                    flush(redis)  # nothing the warm-up cached may be hit
                env = core_api.wrk_env(endpoint, token, f"cache-{phase}")
                env["BENCH_CURSORS"] = str(cursors)
                run = core_api.run_wrk(pid, port, endpoint, connections, seconds, env, True)
            assert run is not None
            rows.append(
                Row(database, case.endpoint, case.kind, connections, round(run.rps, 1),
                    round(run.p50_ms, 2), round(run.p99_ms, 2), run.errors,
                    round(run.server_cpu_us_per_request))
            )  # fmt: skip
            print(f"  {database:<10} {case.endpoint:<24} {case.kind:<8} c={connections:<4}"
                  f" {run.rps:8.0f} req/s", flush=True)  # fmt: skip
    return rows


def run_database(
    name: str, settings: dict[str, str], work: Path, args: argparse.Namespace
) -> list[Row]:
    data_dir = work / name
    data_dir.mkdir()
    print(f"{name}: loading {core_api.CLIENTES:,} clientes and {core_api.PEDIDOS:,} pedidos ...")
    token = core_api.prepare_database(data_dir, settings)
    cursors = write_cursors(work / f"cursors-{name}.txt")
    rows = []
    with redis_server(data_dir) as redis:
        cached = {**settings, "FICHAS_REDIS_URL": redis.url}
        with core_api.running_server(data_dir, True, cached) as (server, port):
            rows += measure(name, CASES, (server.pid, port), token, redis, args, cursors)
    with core_api.running_server(data_dir, True, settings) as (server, port):
        rows += measure(name, NO_REDIS, (server.pid, port), token, None, args, cursors)
    misses = {(r.endpoint, r.connections): r.rps for r in rows if r.kind == "miss"}
    for row in rows:
        if row.kind == "hit" and misses.get((row.endpoint, row.connections)):
            row.hit_ratio = round(row.rps / misses[(row.endpoint, row.connections)], 2)
    return rows


def markdown(rows: list[Row]) -> str:
    lines = [
        "| database | endpoint | kind | conns | req/s | p50 ms | p99 ms | errors | µs CPU/req "
        "| hit ÷ miss |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        ratio = f"{r.hit_ratio:.2f}×" if r.hit_ratio else ""
        lines.append(
            f"| {r.database} | `{r.endpoint}` | {r.kind} | {r.connections} | {r.rps:,.0f} | "
            f"{r.p50_ms} | {r.p99_ms} | {r.errors} | {r.server_cpu_us_per_request} | {ratio} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument(
        "--connections", type=lambda text: [int(n) for n in text.split(",")], default=[25]
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    core_api.require_tools()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M")
    out = args.out or core_api.ROOT / "results" / f"cache-{stamp}.json"
    rows: list[Row] = []
    print(f"PostgreSQL half on {POSTGRES_URL}")
    with tempfile.TemporaryDirectory(prefix="fichas-cache-bench-") as tmp:
        rows += run_database("sqlite", {}, Path(tmp), args)
        with throwaway_postgres(f"fichas_cache_bench_{uuid.uuid4().hex[:8]}") as url:
            rows += run_database("postgresql", {"FICHAS_DATABASE_URL": url}, Path(tmp), args)
    print()
    print(markdown(rows))
    print()
    for row in rows:
        if row.hit_ratio:
            verdict = "met" if row.hit_ratio >= MIN_HIT_RATIO else "MISSED"
            print(f"- {row.database} `{row.endpoint}` hit ÷ miss {row.hit_ratio:.2f}× "
                  f"(≥ {MIN_HIT_RATIO:g}×): {verdict}")  # fmt: skip
    core_api.write_report(out, {"machine": core_api.machine(), "rows": [asdict(r) for r in rows]})
    failed = [f"{r.database} {r.endpoint} {r.kind}" for r in rows if r.errors]
    if failed:  # answers that were errors measure nothing: a wrong URL, not the cache
        print(f"errors in: {', '.join(failed)}; these figures are not the cache's", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
