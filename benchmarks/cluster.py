"""HTTP benchmark of the cluster: ``fichas up`` (N instances behind Caddy) against one instance.

In one run, on one SQLite database of 10,000 clientes and 50,000 pedidos (prepared once, as in
``benchmarks/core_api.py``, whose helpers this reuses):

- setups: one ``fichas serve`` directly, then ``fichas up --instances 1``, ``2`` and ``3``
  (each on the same data directory, each stopped by PID with SIGTERM before the next);
- endpoints ``GET /clientes/{id}`` (random id) and ``GET /clientes?limit=50``, at 25 and 100
  connections (wrk, one thread, ``benchmarks/wrk/fichas.lua``), a warm-up then a measured run;
- req/s, p50, p99, errors, the ratio to the direct single instance at the same endpoint and
  connections, and where the CPU went during the measured run: CPU time of the ``fichas up``
  supervisor, its API instances and Caddy (from ``/proc/<pid>/stat`` of the process tree), of
  wrk, and of everything else on the machine, in % of one CPU (the machine has ``nproc`` × 100 %).

Nothing is pinned: the cluster is meant to use every core, and wrk shares them. Traffic goes to
127.0.0.1 only; every process started here is stopped by PID before the script ends.

Run from the repository root with::

    uv run python -m benchmarks.cluster [--duration 8] [--warmup 2] [--connections 25,100]
                                        [--instances 1,2,3] [--out results/cluster-<date>.json]

It prints a Markdown table and the issue's targets, and writes the results as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import core_api
from fichas.processes import free_port, stop_process

ENDPOINTS = tuple(e for e in core_api.ENDPOINTS if e.name.startswith("GET /clientes"))
TARGET_ENDPOINT = "GET /clientes?limit=50"
MAX_PROXY_OVERHEAD, MIN_SCALING, MIN_RPS = 0.15, 1.4, 1_400
DIRECT = "direct (1 × serve)"
TICK = os.sysconf("SC_CLK_TCK")


def cluster_label(instances: int) -> str:
    return f"caddy + {instances} instance{'s' if instances > 1 else ''}"


# ---------------------------------------------------------------------------------------------
# CPU of a process tree
# ---------------------------------------------------------------------------------------------


def stat_fields(pid: int) -> tuple[str, int, float]:
    """(command name, parent pid, user + system CPU seconds) of one process."""
    text = Path(f"/proc/{pid}/stat").read_text()
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text.rpartition(")")[2].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def tree(root: int) -> dict[int, str]:
    """Every process under ``root`` (itself included): pid -> group (supervisor, instances,
    caddy, litestream).

    For a direct ``fichas serve``, the root is the instance itself.
    """
    parents: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name, ppid, _ = stat_fields(int(entry.name))
            except (OSError, ValueError):
                continue
            parents[int(entry.name)] = (name, ppid)
    found = {root}
    changed = True
    while changed:
        changed = False
        for pid, (_, ppid) in parents.items():
            if ppid in found and pid not in found:
                found.add(pid)
                changed = True
    groups: dict[int, str] = {}
    for pid in found:
        name = parents.get(pid, ("?", 0))[0]
        if name.startswith("caddy"):
            groups[pid] = "caddy"
        elif name.startswith("litestream"):
            groups[pid] = "litestream"
        elif pid == root and len(found) > 1:
            groups[pid] = "supervisor"
        else:
            groups[pid] = "instances"
    return groups


def cpu_by_pid(pids: Iterator[int] | Sequence[int]) -> dict[int, float]:
    seconds: dict[int, float] = {}
    for pid in pids:
        try:
            seconds[pid] = stat_fields(pid)[2]
        except (OSError, ValueError):
            continue
    return seconds


def machine_busy() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot."""
    values = [int(t) for t in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return sum(values) - values[3] - values[4], sum(values)


# ---------------------------------------------------------------------------------------------
# setups
# ---------------------------------------------------------------------------------------------


@contextmanager
def running_cluster(data_dir: Path, instances: int) -> Iterator[tuple[int, int]]:
    """``fichas up --instances N`` on a free loopback port; yields (supervisor pid, port)."""
    port = free_port()
    log_path = data_dir / f"up-{instances}.log"
    argv = [str(core_api.FICHAS), "up", "--instances", str(instances), "--listen",
            f"127.0.0.1:{port}"]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (our console script, fixed arguments)
            argv, env=core_api.fichas_env(data_dir), cwd=core_api.ROOT, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 60
        while not ("fichas is up" in log_path.read_text() and core_api.health_ok(port)):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fichas up did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield process.pid, port
    finally:
        stop_process(process, timeout=30)  # the supervisor drains its children first


@contextmanager
def running_direct(data_dir: Path) -> Iterator[tuple[int, int]]:
    with core_api.running_server(data_dir, pin=False) as (server, port):
        yield server.pid, port


def running(data_dir: Path, instances: int | None) -> AbstractContextManager[tuple[int, int]]:
    return running_direct(data_dir) if instances is None else running_cluster(data_dir, instances)


# ---------------------------------------------------------------------------------------------
# measuring
# ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    setup: str
    endpoint: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_pct: dict[str, float]  # % of one CPU: supervisor, instances, caddy, wrk, others
    ratio_to_direct: float = 0.0


def measure_cell(
    root: int, port: int, endpoint: core_api.Endpoint, connections: int, token: str,
    seconds: float, label: str,
) -> Row:  # fmt: skip
    """One measured wrk run with the CPU of every group over it."""
    groups = tree(root)
    env = core_api.wrk_env(endpoint, token, label)
    busy0, total0 = machine_busy()
    before, t0 = cpu_by_pid(list(groups)), time.monotonic()
    run = core_api.run_wrk(root, port, endpoint, connections, seconds, env, pin=False)
    after, wall = cpu_by_pid(list(groups)), time.monotonic() - t0
    busy1, total1 = machine_busy()
    cpu = {"supervisor": 0.0, "instances": 0.0, "caddy": 0.0}
    for pid, group in groups.items():
        if pid in before and pid in after:
            cpu[group] += 100 * (after[pid] - before[pid]) / wall
    cpu["wrk"] = run.usage.wrk_pct
    ncpu = os.cpu_count() or 1
    machine_pct = ncpu * 100 * (busy1 - busy0) / max(total1 - total0, 1)
    cpu["others"] = max(machine_pct - sum(cpu.values()), 0.0)
    return Row(
        setup="",
        endpoint=endpoint.name,
        connections=connections,
        rps=round(run.rps, 1),
        p50_ms=round(run.p50_ms, 2),
        p99_ms=round(run.p99_ms, 2),
        errors=run.errors,
        cpu_pct={k: round(v, 1) for k, v in cpu.items()},
    )


def measure_setup(
    data_dir: Path, instances: int | None, token: str, args: argparse.Namespace
) -> list[Row]:
    setup = DIRECT if instances is None else cluster_label(instances)
    rows: list[Row] = []
    with running(data_dir, instances) as (root, port):
        print(f"{setup}: pid {root} on 127.0.0.1:{port}", flush=True)
        for endpoint in ENDPOINTS:
            for connections in args.connections:
                label = f"cluster-{instances or 0}-{connections}"
                warm_env = core_api.wrk_env(endpoint, token, f"{label}-warmup")
                core_api.run_wrk(root, port, endpoint, connections, args.warmup, warm_env, False)
                row = measure_cell(
                    root, port, endpoint, connections, token, args.duration, f"{label}-measure"
                )
                row.setup = setup
                rows.append(row)
                print(f"  {endpoint.name:<24} c={connections:<4} {row.rps:8.0f} req/s", flush=True)
    return rows


def add_ratios(rows: list[Row]) -> None:
    direct = {(r.endpoint, r.connections): r.rps for r in rows if r.setup == DIRECT}
    for row in rows:
        base = direct.get((row.endpoint, row.connections), 0.0)
        row.ratio_to_direct = round(row.rps / base, 3) if base else 0.0


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------


def cpu_text(cpu: dict[str, float]) -> str:
    serving = cpu["supervisor"] + cpu["instances"]
    return (
        f"inst {serving:.0f} · caddy {cpu['caddy']:.0f} · wrk {cpu['wrk']:.0f}"
        f" · other {cpu['others']:.0f}"
    )


def markdown_table(rows: list[Row]) -> str:
    lines = [
        "| setup | endpoint | conns | req/s | p50 ms | p99 ms | errors | × direct"
        " | CPU % (of 200): instances · caddy · wrk · other |",
        "|---|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.setup} | `{r.endpoint}` | {r.connections} | {r.rps:,.0f} | {r.p50_ms:.1f}"
            f" | {r.p99_ms:.1f} | {r.errors} | {r.ratio_to_direct:.2f} | {cpu_text(r.cpu_pct)} |"
        )
    return "\n".join(lines)


def target_lines(rows: list[Row], connections: Sequence[int]) -> list[str]:
    def rps(setup: str, conns: int) -> float | None:
        for r in rows:
            if r.setup == setup and r.endpoint == TARGET_ENDPOINT and r.connections == conns:
                return r.rps
        return None

    lines: list[str] = []
    for conns in connections:
        direct, one, three = (
            rps(DIRECT, conns),
            rps(cluster_label(1), conns),
            rps(cluster_label(3), conns),
        )
        if not direct:
            continue
        verdicts = []
        if one is not None:
            overhead = 1 - one / direct
            ok = overhead <= MAX_PROXY_OVERHEAD
            verdicts.append(
                f"proxy overhead {100 * overhead:.0f} % (≤ {100 * MAX_PROXY_OVERHEAD:.0f} %): "
                f"{'met' if ok else 'MISSED'}"
            )
        if three is not None:
            ratio = three / direct
            verdicts.append(
                f"3 instances {ratio:.2f}× direct (≥ {MIN_SCALING}×): "
                f"{'met' if ratio >= MIN_SCALING else 'MISSED'}"
            )
            verdicts.append(
                f"3 instances {three:,.0f} req/s (≥ {MIN_RPS:,}): "
                f"{'met' if three >= MIN_RPS else 'MISSED'}"
            )
        lines.append(f"- `{TARGET_ENDPOINT}` at {conns}: " + "; ".join(verdicts))
    return lines


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=8, help="seconds per measured cell")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per cell")
    parser.add_argument("--connections", default="25,100", help="comma-separated, e.g. 25,100")
    parser.add_argument("--instances", default="1,2,3", help="cluster sizes, comma-separated")
    parser.add_argument("--out", type=Path, help="JSON (default results/cluster-<date>.json)")
    args = parser.parse_args(argv)
    args.connections = [int(c) for c in args.connections.split(",")]
    args.instances = [int(n) for n in args.instances.split(",")]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    core_api.require_tools()
    started = datetime.now(UTC)
    out: Path = args.out or core_api.ROOT / "results" / f"cluster-{started:%Y%m%d-%H%M%S}.json"
    info = {**core_api.machine(), "date": started.isoformat(timespec="seconds"), "argv": sys.argv}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="fichas-cluster-") as tmp:
        data_dir = Path(tmp)
        print(f"loading {core_api.CLIENTES:,} clientes and {core_api.PEDIDOS:,} pedidos ...")
        token = core_api.prepare_database(data_dir)
        for instances in [None, *args.instances]:
            rows.extend(measure_setup(data_dir, instances, token, args))
    add_ratios(rows)
    info["load_average_at_end"] = os.getloadavg()
    print("\n" + markdown_table(rows) + "\n")
    print("\n".join(target_lines(rows, args.connections)))
    plan = {k: v for k, v in vars(args).items() if k != "out"}
    core_api.write_report(
        out, {"machine": info, "plan": plan, "results": [asdict(r) for r in rows]}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
