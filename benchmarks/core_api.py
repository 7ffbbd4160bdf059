"""HTTP benchmark of the core API: one real ``fichas serve`` (Hypercorn on uvloop) under wrk.

What it measures, in one run against one server process:

- ``GET /health`` (the app's liveness route: no key, no database; the "bare Starlette endpoint on
  the same server" every other row is divided by), ``GET /clientes?limit=50``,
  ``GET /clientes/{id}`` (random id) and ``POST /pedidos`` (random cliente and tipo, a unique
  ``Idempotency-Key`` per request);
- at each number of concurrent connections (default 25 and 100), on a SQLite database of
  10,000 clientes and 50,000 pedidos (``fichas demo-data``) in a throw-away data directory;
- req/s, p50 and p99 latency, errors (non-2xx answers, socket errors, and wrk "timeouts":
  requests still unanswered after wrk's default 2 s, even if answered later), the ratio to
  ``/health`` at the same connections, and the CPU used by the server (share of its core and
  CPU µs per request, the figure least disturbed by other load on the machine) and by wrk;
- afterwards, that the database holds 50,000 + every acknowledged ``POST /pedidos`` (nothing
  acknowledged was lost or written twice).

The server is pinned to CPU 0 and wrk (one thread, ``benchmarks/wrk/fichas.lua``) to CPU 1 with
``taskset`` so the two do not compete for a core (``--no-pin`` lets them share both CPUs, as a
server and its clients would on this machine). Each cell gets a short warm-up first. Every
process started here is stopped by PID before the script ends; traffic goes to 127.0.0.1 only.

Needs ``wrk`` (``apt-get install wrk``) and ``taskset`` (util-linux). Run with::

    uv run python -m benchmarks.core_api [--duration 10] [--warmup 2] [--connections 25,100]
                                     [--out results/bench-<date>.json]

It prints a Markdown table and writes the same results as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pysqlite3 import dbapi2 as sqlite

from fichas.processes import free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
LUA_SCRIPT = Path(__file__).resolve().parent / "wrk" / "fichas.lua"
FICHAS = Path(sys.executable).with_name("fichas")  # the project's console script, in the venv
CLIENTES, PEDIDOS = 10_000, 50_000
SERVER_CPU, WRK_CPU = 0, 1
P99_TARGET_MS, P99_TARGET_CONNECTIONS = 50.0, 25
SOCKET_ERRORS = ("connect_errors", "read_errors", "write_errors", "timeouts")


@dataclass(frozen=True)
class Endpoint:
    """One benchmarked route: its label, the URL path wrk starts from and the Lua mode."""

    name: str
    path: str
    mode: str  # see benchmarks/wrk/fichas.lua
    target_rps: int | None = None
    authorised: bool = True


BASELINE = Endpoint("GET /health", "/health", "static", authorised=False)
ENDPOINTS = (
    BASELINE,
    Endpoint("GET /clientes?limit=50", "/clientes?limit=50", "static", target_rps=1_000),
    Endpoint("GET /clientes/{id}", "/clientes/1", "cliente", target_rps=2_000),
    Endpoint("POST /pedidos", "/pedidos", "pedido", target_rps=500),
)


@dataclass(frozen=True)
class Sample:
    """CPU counters at one instant: the server's, finished children's (wrk), SERVER_CPU's."""

    at: float
    server: float
    children: float
    core_busy: int
    core_idle: int

    @classmethod
    def now(cls, server_pid: int) -> Sample:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy, idle = cpu_busy_idle(SERVER_CPU)
        return cls(
            time.monotonic(), cpu_seconds(server_pid), usage.ru_utime + usage.ru_stime, busy, idle
        )


@dataclass(frozen=True)
class Usage:
    """CPU used between two samples, in % of one CPU over the wall time."""

    server_seconds: float
    server_pct: float
    wrk_pct: float
    others_on_server_cpu_pct: float  # SERVER_CPU busy with anything but the server

    @classmethod
    def between(cls, a: Sample, b: Sample) -> Usage:
        wall = b.at - a.at
        busy, idle = b.core_busy - a.core_busy, b.core_idle - a.core_idle
        server = b.server - a.server
        server_pct = 100 * server / wall
        core_pct = 100 * busy / max(busy + idle, 1)
        return cls(server, server_pct, 100 * (b.children - a.children) / wall,
                   max(core_pct - server_pct, 0.0))  # fmt: skip


@dataclass(frozen=True)
class WrkRun:
    """What one wrk run reported (its Lua ``done()`` JSON) plus the CPU both sides used."""

    requests: int
    seconds: float
    sent: int
    ok: int
    not_2xx: int
    socket_errors: dict[str, int]
    statuses: dict[str, int]
    replayed: int
    acked_ids: list[int]
    p50_ms: float
    p99_ms: float
    max_ms: float
    usage: Usage
    server_cpu_us_per_request: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.not_2xx + sum(self.socket_errors.values())


@dataclass
class Cell:
    """One row of the results table."""

    endpoint: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    statuses: dict[str, int]
    socket_errors: dict[str, int]
    server_cpu_pct: float
    server_cpu_us_per_request: float
    others_on_server_cpu_pct: float
    wrk_cpu_pct: float
    ratio_to_health: float = 0.0


@dataclass
class PostTally:
    """Every ``POST /pedidos`` wrk sent and every one acknowledged (2xx), warm-ups included."""

    sent: int = 0
    acknowledged: int = 0
    rejected: int = 0
    replayed: int = 0
    acked_ids: list[int] = field(default_factory=list)

    def add(self, run: WrkRun) -> None:
        self.sent += run.sent
        self.acknowledged += run.ok
        self.rejected += run.not_2xx
        self.replayed += run.replayed
        self.acked_ids.extend(run.acked_ids)

    @property
    def unanswered(self) -> int:
        """Sent but never answered: in flight when wrk stopped, or lost to a socket error."""
        return self.sent - self.acknowledged - self.rejected


@dataclass(frozen=True)
class PedidosCheck:
    """The database after the run against what wrk was told (see :func:`pedidos_check`)."""

    before: int
    stored: int
    acknowledged: int
    stored_unanswered: int
    unanswered: int
    acknowledged_missing: int
    acknowledged_twice: int
    replayed: int
    one_key_per_pedido: bool

    @property
    def ok(self) -> bool:
        return (
            self.stored == self.before + self.acknowledged + self.stored_unanswered
            and self.stored_unanswered <= self.unanswered
            and self.acknowledged_missing == self.acknowledged_twice == self.replayed == 0
            and self.one_key_per_pedido
        )


# ---------------------------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------------------------


def pinned(cpu: int, argv: Sequence[str], pin: bool) -> list[str]:
    """``argv`` run on one CPU with taskset, when asked and the machine has that CPU."""
    if not pin or len(os.sched_getaffinity(0)) < 2:
        return list(argv)
    return ["taskset", "--cpu-list", str(cpu), *argv]


# One key sends everything here, far past what the API allows a PC: these benchmarks measure
# the API, not its rate limiter (which then costs one in-memory or Redis count per request).
UNLIMITED = {
    f"FICHAS_RATE_LIMIT_{kind}": "100000000/minute" for kind in ("READ", "WRITE", "HEALTH", "ROOT")
}


def fichas_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment minus any inherited FICHAS_* (so SQLite in ``data_dir`` is used)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FICHAS_")}
    return {
        **env, "FICHAS_DATA_DIR": str(data_dir), "FICHAS_LOG_LEVEL": "warning", **UNLIMITED,
        **extra,
    }  # fmt: skip


def fichas(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run one ``fichas`` verb to completion (``env``: more FICHAS_* settings); its stdout."""
    done = subprocess.run(  # noqa: S603 (our own console script, fixed arguments)
        [str(FICHAS), *args],
        env=fichas_env(data_dir, **(env or {})),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"fichas {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def prepare_database(data_dir: Path, env: dict[str, str] | None = None) -> str:
    """Migrate, load the demo data and create a read+write key; returns its token."""
    fichas(data_dir, "migrate", env=env)
    loaded = ("--clientes", str(CLIENTES), "--pedidos", str(PEDIDOS))
    fichas(data_dir, "demo-data", *loaded, env=env)
    return fichas(data_dir, "keys", "create", "bench", env=env).strip().splitlines()[-1]


def health_ok(port: int) -> bool:
    """``GET /health`` answers 200 (a raw socket: no HTTP client needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return sock.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


@contextmanager
def serving(
    argv: list[str], env: dict[str, str], log_path: Path, port: int
) -> Iterator[subprocess.Popen[bytes]]:
    """``argv`` running (from the repository root), once ``GET /health`` on ``port`` answers
    200. Stopped by PID when the block ends."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (our binaries, fixed arguments)
            argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while not health_ok(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        yield process
    finally:
        stop_process(process, timeout=15)


@contextmanager
def running_server(
    data_dir: Path, pin: bool, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """One ``fichas serve`` on a free loopback port, pinned to SERVER_CPU (``env``: more
    FICHAS_* settings); yields (it, port)."""
    port = free_port()
    env = fichas_env(data_dir, FICHAS_LISTEN=f"127.0.0.1:{port}", **(env or {}))
    argv = pinned(SERVER_CPU, [str(FICHAS), "serve"], pin)
    with serving(argv, env, data_dir / "server.log", port) as process:
        yield process, port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, all threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_busy_idle(cpu: int) -> tuple[int, int]:
    """(busy, idle) clock ticks of one CPU since boot, from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        name, *ticks = line.split()
        if name == f"cpu{cpu}":
            values = [int(t) for t in ticks[:8]]  # user nice system idle iowait irq softirq steal
            idle = values[3] + values[4]
            return sum(values) - idle, idle
    return 0, 0


# ---------------------------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------------------------


def wrk_command(url: str, connections: int, seconds: float, pin: bool) -> list[str]:
    return pinned(
        WRK_CPU,
        ["wrk", "--threads", "1", "--connections", str(connections), "--duration",
         f"{seconds:g}s", "--latency", "--script", str(LUA_SCRIPT), url],
        pin,
    )  # fmt: skip


def parse_wrk(stdout: str) -> dict[str, Any]:
    """The JSON line the Lua ``done()`` prints."""
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            parsed: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            return parsed
    raise RuntimeError(f"no BENCH_JSON line in wrk's output:\n{stdout}")


def run_wrk(
    server_pid: int, port: int, endpoint: Endpoint, connections: int, seconds: float,
    env: dict[str, str], pin: bool,
) -> WrkRun:  # fmt: skip
    """One wrk run against ``endpoint``, with the CPU each side used meanwhile."""
    url = f"http://127.0.0.1:{port}{endpoint.path}"
    before = Sample.now(server_pid)
    done = subprocess.run(  # noqa: S603 (fixed arguments)
        wrk_command(url, connections, seconds, pin), env=env, capture_output=True, text=True,
        timeout=seconds + 60, check=False,
    )  # fmt: skip
    used = Usage.between(before, Sample.now(server_pid))
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    data = parse_wrk(done.stdout)
    return WrkRun(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        sent=data["sent"],
        ok=data["ok"],
        not_2xx=data["not_2xx"],
        socket_errors={k: data[k] for k in SOCKET_ERRORS},
        statuses=data["statuses"],
        replayed=data["replayed"],
        acked_ids=data["acked_ids"],
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        usage=used,
        server_cpu_us_per_request=1e6 * used.server_seconds / max(data["requests"], 1),
    )


def wrk_env(endpoint: Endpoint, token: str, label: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FICHAS_", "BENCH_"))}
    return {
        **env,
        "BENCH_MODE": endpoint.mode,
        "BENCH_TOKEN": token if endpoint.authorised else "",
        "BENCH_RUN": label,
    }


# ---------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    duration: float
    warmup: float
    connections: list[int]
    pin: bool


def measure(
    server: subprocess.Popen[bytes], port: int, token: str, plan: Plan, tally: PostTally
) -> list[Cell]:
    """Every endpoint at every connection count: warm-up, then the measured run."""
    cells: list[Cell] = []
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    for connections in plan.connections:
        for endpoint in ENDPOINTS:
            label = f"bench-{stamp}-{connections}"
            for phase, seconds in (("warmup", plan.warmup), ("measure", plan.duration)):
                env = wrk_env(endpoint, token, f"{label}-{phase}")
                run = run_wrk(server.pid, port, endpoint, connections, seconds, env, plan.pin)
                if endpoint.mode == "pedido":
                    tally.add(run)
            cells.append(to_cell(endpoint, connections, run))
            print(f"  {endpoint.name:<24} c={connections:<4} {run.rps:8.0f} req/s", flush=True)
    add_ratios(cells)
    return cells


def to_cell(endpoint: Endpoint, connections: int, run: WrkRun) -> Cell:
    return Cell(
        endpoint=endpoint.name,
        connections=connections,
        rps=round(run.rps, 1),
        p50_ms=round(run.p50_ms, 2),
        p99_ms=round(run.p99_ms, 2),
        max_ms=round(run.max_ms, 2),
        errors=run.errors,
        statuses=run.statuses,
        socket_errors={k: v for k, v in run.socket_errors.items() if v},
        server_cpu_pct=round(run.usage.server_pct, 1),
        server_cpu_us_per_request=round(run.server_cpu_us_per_request),
        others_on_server_cpu_pct=round(run.usage.others_on_server_cpu_pct, 1),
        wrk_cpu_pct=round(run.usage.wrk_pct, 1),
    )


def add_ratios(cells: list[Cell]) -> None:
    baseline = {c.connections: c.rps for c in cells if c.endpoint == BASELINE.name}
    for cell in cells:
        base = baseline.get(cell.connections, 0.0)
        cell.ratio_to_health = round(cell.rps / base, 3) if base else 0.0


def query(db_path: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """Rows of one read-only query on the SQLite file."""
    conn = sqlite.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return list(conn.execute(sql, params).fetchall())
    finally:
        conn.close()


def pedidos_snapshot(db_path: Path) -> tuple[int, int]:
    """(count, highest id) of the pedidos table."""
    count, top = query(db_path, "SELECT count(*), coalesce(max(id), 0) FROM pedidos")[0]
    return int(count), int(top)


def pedidos_check(db_path: Path, before: tuple[int, int], tally: PostTally) -> PedidosCheck:
    """No acknowledged write lost or written twice.

    Every id wrk saw in a 201 must be in the database, once; the only other new pedidos allowed
    are requests wrk sent but never saw answered (in flight when a run stopped): the server may
    have committed them. Each new pedido must be named by exactly one stored Idempotency-Key.
    """
    count_before, top_before = before
    stored, _ = pedidos_snapshot(db_path)
    new_ids = {row[0] for row in query(db_path, "SELECT id FROM pedidos WHERE id > ?", top_before)}
    locations = query(db_path, "SELECT location FROM idempotency_keys WHERE key LIKE 'bench-%'")
    keyed = sorted(int(str(loc).rsplit("/", 1)[1]) for (loc,) in locations)
    acked = set(tally.acked_ids)
    return PedidosCheck(
        before=count_before,
        stored=stored,
        acknowledged=tally.acknowledged,
        stored_unanswered=len(new_ids - acked),
        unanswered=tally.unanswered,
        acknowledged_missing=len(acked - new_ids) + tally.acknowledged - len(tally.acked_ids),
        acknowledged_twice=len(tally.acked_ids) - len(acked),
        replayed=tally.replayed,
        one_key_per_pedido=keyed == sorted(new_ids),
    )


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------


def markdown_table(cells: list[Cell]) -> str:
    lines = [
        "| endpoint | conns | req/s | p50 ms | p99 ms | errors | × /health"
        " | server CPU | server µs/req | others on its CPU | wrk CPU |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for c in cells:
        lines.append(
            f"| `{c.endpoint}` | {c.connections} | {c.rps:,.0f} | {c.p50_ms:.1f} | {c.p99_ms:.1f}"
            f" | {error_text(c)} | {c.ratio_to_health:.2f} | {c.server_cpu_pct:.0f} %"
            f" | {c.server_cpu_us_per_request:,.0f} | {c.others_on_server_cpu_pct:.0f} %"
            f" | {c.wrk_cpu_pct:.0f} % |"
        )
    return "\n".join(lines)


def error_text(cell: Cell) -> str:
    """``0``, or the total with its kinds, e.g. ``2 (timeouts 1, 503 1)``."""
    kinds = {**cell.socket_errors, **{k: v for k, v in cell.statuses.items() if k[0] != "2"}}
    if not cell.errors:
        return "0"
    return f"{cell.errors} (" + ", ".join(f"{k} {v}" for k, v in kinds.items()) + ")"


def target_lines(cells: list[Cell]) -> list[str]:
    """Each target of the issue, per connection count, met or missed."""
    lines: list[str] = []
    targets = {e.name: e.target_rps for e in ENDPOINTS if e.target_rps}
    for c in cells:
        verdicts = []
        if c.endpoint in targets:
            goal = targets[c.endpoint]
            verdicts.append(f"≥ {goal:,} req/s: {'met' if c.rps >= goal else 'MISSED'}")
        if c.connections == P99_TARGET_CONNECTIONS:
            verdicts.append(
                f"p99 ≤ {P99_TARGET_MS:g} ms: {'met' if c.p99_ms <= P99_TARGET_MS else 'MISSED'}"
            )
        verdicts.append(f"0 errors: {'met' if c.errors == 0 else 'MISSED'}")
        lines.append(f"- `{c.endpoint}` at {c.connections}: " + "; ".join(verdicts))
    return lines


def pedidos_line(check: PedidosCheck) -> str:
    return (
        f"pedidos check: {'OK' if check.ok else 'FAILED'}: {check.before:,} before"
        f" + {check.acknowledged:,} acknowledged (201)"
        f" + {check.stored_unanswered} stored but never answered (in flight when wrk stopped;"
        f" {check.unanswered} POSTs went unanswered)"
        f" = {check.before + check.acknowledged + check.stored_unanswered:,};"
        f" the database holds {check.stored:,}."
        f" Acknowledged but missing: {check.acknowledged_missing};"
        f" acknowledged twice: {check.acknowledged_twice}; replayed: {check.replayed};"
        f" one Idempotency-Key record per new pedido: {'yes' if check.one_key_per_pedido else 'NO'}"
    )


def tool_version(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    return (done.stdout or done.stderr).splitlines()[0].strip()


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?"
    )
    return {
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite.sqlite_version,
        "wrk": tool_version(["wrk", "-v"]),
        "load_average_at_start": os.getloadavg(),
    }


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured cell")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per cell")
    parser.add_argument("--connections", default="25,100", help="comma-separated, e.g. 25,100")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="let server and wrk share both CPUs (default: server on CPU 0, wrk on CPU 1)",
    )
    parser.add_argument("--out", type=Path, help="JSON results (default results/bench-<date>.json)")
    return parser.parse_args(argv)


def alternating_options(
    parser: argparse.ArgumentParser, name: str, pairs: int, seconds: float
) -> None:
    """The options of a benchmark that alternates two sides of 25-PC runs (A B A B …)."""
    parser.add_argument("--pairs", type=int, default=pairs, help=f"A/B pairs (default {pairs})")
    parser.add_argument(
        "--seconds", type=float, default=seconds, help=f"per run (default {seconds:g})"
    )
    parser.add_argument("--pcs", type=int, default=25)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / f"{name}-{stamp}.json")


def write_report(out: Path, report: dict[str, Any]) -> None:
    """Write a benchmark's results as JSON to ``out`` and say where."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwritten {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


def require_tools() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    if len(os.sched_getaffinity(0)) >= 2 and shutil.which("taskset") is None:
        sys.exit("taskset is not installed: apt-get install util-linux")
    if not FICHAS.exists():
        sys.exit(f"no {FICHAS}: run this with `uv run python -m benchmarks.core_api`")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    require_tools()
    connections = [int(c) for c in args.connections.split(",")]
    plan = Plan(args.duration, args.warmup, connections, pin=not args.no_pin)
    started = datetime.now(UTC)
    out: Path = args.out or ROOT / "results" / f"bench-{started:%Y%m%d-%H%M%S}.json"
    info = {**machine(), "date": started.isoformat(timespec="seconds"), "argv": sys.argv}
    tally = PostTally()
    with tempfile.TemporaryDirectory(prefix="fichas-bench-") as tmp:
        data_dir = Path(tmp)
        print(
            f"loading {CLIENTES:,} clientes and {PEDIDOS:,} pedidos into {data_dir} ...", flush=True
        )
        token = prepare_database(data_dir)
        before = pedidos_snapshot(data_dir / "fichas.db")
        with running_server(data_dir, plan.pin) as (server, port):
            print(f"fichas serve pid {server.pid} on 127.0.0.1:{port}; wrk runs ...", flush=True)
            cells = measure(server, port, token, plan, tally)
        check = pedidos_check(data_dir / "fichas.db", before, tally)
    info["load_average_at_end"] = os.getloadavg()
    print("\n" + markdown_table(cells) + "\n")
    print("\n".join(target_lines(cells)))
    print("\n" + pedidos_line(check))
    report = {
        "machine": info,
        "plan": asdict(plan),
        "results": [asdict(c) for c in cells],
        "pedidos": {**asdict(check), "ok": check.ok},
    }
    write_report(out, report)
    return 0 if check.ok else 1


if __name__ == "__main__":
    sys.exit(main())
