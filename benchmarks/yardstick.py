"""Fichas against the yardstick: the old system's workload on ``fichas up`` and on a bare app.

The bare app (docs/ARCHITECTURE.md, "The yardstick": the old system's four endpoints in plain
Starlette with raw SQL, no auth, validation, metrics or middleware) says what this machine can do
for that work; Fichas' speed is stated as a ratio to it, measured side by side in one run — the
only kind of figure that survives a shared, noisy host. Alternating A B A B … (``--pairs``),
each run on a fresh copy of the same demo database:

- A, "bare": three Hypercorn processes of the bare app (uvloop, access log on) behind a Caddy
  with the ``reverse_proxy`` block ``fichas up`` renders (see :func:`bare_caddyfile`);
- B, "fichas": ``fichas up`` with its defaults (3 instances, access log at info), as
  ``benchmarks/versus.py`` starts it.

The load: 25 PCs (k6, ``benchmarks/yardstick.js``), think 0, each from a loopback address and
with an API key of its own, for ``--seconds``; each request drawn by weight: ``GET /health``
25 %, ``GET /producoes/tipos`` 20 %, ``GET /clientes?limit=20`` 30 %, ``GET /pedidos?limit=20``
15 %, ``POST /pedidos`` (a fresh Idempotency-Key) 10 %. Anything but a 2xx (201 for the POST)
counts as failed. Per run: req/s, p50, p99, failures, and CPU milliseconds per request of the
three app processes and of Caddy (from ``/proc``, over the load); at the end the medians per side
and fichas / bare, as a Markdown table and as JSON (``--out``).

The targets (issue 21): fichas ≥ 0.8 × bare req/s, p99 ≤ 1.5 × bare, instance CPU per request
≤ 1.3 × bare. Run from the repository root with::

    uv run python -m benchmarks.yardstick [--pairs 2] [--seconds 30] [--pcs 25]
                                          [--baseline <checkout>]
                                          [--out results/yardstick-<date>.json]

With ``--baseline``, a third side, "before": ``fichas up`` of that checkout (prepared with
``git worktree add /tmp/base <commit> && cd /tmp/base && uv sync``), in the same alternation —
so that a change's before and after are both ratios to the bare app of the same run.

Traffic goes to 127.0.0.1 only (from 127.0.0.2 and up); every process started here is stopped by
PID when its run ends, and everything is written in temporary directories.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pysqlite3 import dbapi2 as sqlite

from benchmarks.cluster import cpu_by_pid, machine_busy, tree
from benchmarks.core_api import ROOT, alternating_options, fichas, query, serving, write_report
from benchmarks.versus import cluster_of
from fichas.processes import binary, free_port, stop_process
from fichas.settings import load_settings
from loadtest.target import temporary_keys
from proxy.caddy import ProxyConfig, caddy_binary

BARE_APP_DIR = ROOT.parent / "shared" / "perf"
SCRIPT = Path(__file__).with_suffix(".js")
INSTANCES = 3  # fichas up's default
# fichas / bare: (figure, "≥" or "≤", ratio) — the issue's targets.
TARGETS = (
    ("req_per_s", "≥", 0.8),
    ("p99_ms", "≤", 1.5),
    ("instances_cpu_ms_per_request", "≤", 1.3),
)
# The medians of each side; fichas / bare of all but the failures.
FIGURES = (
    "req_per_s",
    "p50_ms",
    "p99_ms",
    "failed_pct",
    "instances_cpu_ms_per_request",
    "caddy_cpu_ms_per_request",
)
RATIOS = tuple(k for k in FIGURES if k != "failed_pct")


@dataclass(frozen=True)
class System:
    """One side, running: where the PCs send their requests, their keys, and the root pids of
    its processes by group ("instances", "caddy")."""

    url: str
    tokens: list[str]
    processes: dict[str, list[int]]


# ---------------------------------------------------------------------------------------------
# the demo database both sides serve
# ---------------------------------------------------------------------------------------------


def demo_database(directory: Path) -> Path:
    """``fichas migrate`` and ``fichas demo-data`` (its defaults, as ``cluster_of`` loads them)."""
    fichas(directory, "migrate")
    fichas(directory, "demo-data")
    return directory / "fichas.db"


def copy_database(source: Path, target: Path) -> Path:
    """A copy through SQLite's backup API, so nothing still in a -wal file is left behind;
    private (0600), as Fichas keeps its files, so that ``fichas up`` has nothing to warn about."""
    target.touch(mode=0o600)
    with closing(sqlite.connect(source)) as original, closing(sqlite.connect(target)) as copy:
        original.backup(copy)
    return target


def pedido_ids(database: Path) -> dict[str, list[int]]:
    """The clientes and active tipos a new pedido may name."""
    return {
        "clientes": [row[0] for row in query(database, "SELECT id FROM clientes")],
        "tipos": [row[0] for row in query(database, "SELECT id FROM tipos_producao WHERE ativo")],
    }


# ---------------------------------------------------------------------------------------------
# the sides
# ---------------------------------------------------------------------------------------------


def fichas_reverse_proxy(upstreams: list[str]) -> str:
    """The ``reverse_proxy`` block of the Caddyfile ``fichas up`` renders for these upstreams,
    word for word (its comments included), so that the two sides cannot drift apart."""
    rendered = ProxyConfig(
        listen="127.0.0.1:0",
        upstreams=upstreams,
        admin="127.0.0.1:0",
        max_body_bytes=load_settings().max_body_bytes,  # its request_buffers follow the limit
    ).render()
    lines = rendered.splitlines()
    start = next(n for n, line in enumerate(lines) if line.strip().startswith("reverse_proxy "))
    depth = 0
    for end in range(start, len(lines)):
        if not lines[end].strip().startswith("#"):  # a comment's braces are not the block's
            depth += lines[end].count("{") - lines[end].count("}")
        if depth == 0:
            break
    return textwrap.dedent("\n".join(lines[start : end + 1]))


def bare_caddyfile(port: int, upstreams: list[str]) -> str:
    """The bare side's Caddy, in front of the bare app as Fichas' is in front of its instances.

    Mirrored: the whole ``reverse_proxy`` block (load balancing ``least_conn``, the upstream
    keep-alive, retries and ``lb_try_duration``, request buffers, active health checks on
    /health, passive ones), taken from the rendered configuration itself; ``encode zstd gzip``;
    the site's access log (JSON to stdout); the listener (any Host, bound to loopback).

    Not mirrored, being Fichas' own work rather than the proxying the old system also needed:
    the request ids, the ``Server``/``Via`` headers taken off, the ``/metrics`` refusal, the body
    limits (413), the problem bodies of Caddy's errors, Caddy's Prometheus metrics (``metrics``)
    and tracing; nor its admin API, which no request goes through.
    """
    block = textwrap.indent(fichas_reverse_proxy(upstreams), "\t")
    return f"""{{
	admin off
	auto_https off
}}

http://:{port} {{
	bind 127.0.0.1
	log {{
		output stdout
		format json
	}}
	encode zstd gzip
{block}
}}
"""


def look_alike_tokens(count: int) -> list[str]:
    """Keys shaped like Fichas' (``fichas_<8 hex>_<43 url-safe>``), for the bare app to ignore:
    the PCs send it the same bytes."""
    return [f"fichas_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}" for _ in range(count)]


@contextmanager
def bare_cluster(template: Path, scratch: Path, pcs: int) -> Iterator[System]:
    """Three Hypercorn processes of the bare app, as its README starts them, behind Caddy."""
    database = copy_database(template, scratch / "bare.db")
    env = {**os.environ, "BARE_DB": str(database), "PYTHONPATH": str(BARE_APP_DIR)}
    ports = [free_port() for _ in range(INSTANCES)]
    listen = free_port()
    caddyfile = scratch / "Caddyfile"
    caddyfile.write_text(bare_caddyfile(listen, [f"127.0.0.1:{port}" for port in ports]))
    # Caddy keeps its state in the scratch directory, not in $HOME (as fichas up does).
    caddy_env = {**os.environ, "XDG_DATA_HOME": str(scratch), "XDG_CONFIG_HOME": str(scratch)}
    hypercorn = [
        binary("hypercorn", "hypercorn"),
        "--worker-class",
        "uvloop",
        "--access-logfile",
        "-",
    ]
    caddy = [caddy_binary(), "run", "--config", str(caddyfile), "--adapter", "caddyfile"]
    with ExitStack() as stack:  # unwound in reverse: Caddy stops first, then the instances
        instances = []
        for port in ports:
            argv = [*hypercorn, "--bind", f"127.0.0.1:{port}", "bare_app:app"]
            log_path = scratch / f"bare-{port}.log"
            instances.append(stack.enter_context(serving(argv, env, log_path, port)).pid)
        proxy = stack.enter_context(serving(caddy, caddy_env, scratch / "caddy.log", listen)).pid
        yield System(
            f"http://127.0.0.1:{listen}",
            look_alike_tokens(pcs),
            {"instances": instances, "caddy": [proxy]},
        )


@contextmanager
def fichas_cluster(
    template: Path, scratch: Path, pcs: int, checkout: Path = ROOT
) -> Iterator[System]:
    """``fichas up`` of ``checkout`` on a copy of the demo database (``cluster_of``'s migrate and
    demo-data find it current and loaded, and leave it as it is), with a key per PC."""
    copy_database(template, scratch / "fichas.db")  # where fichas looks in its data dir
    with (
        cluster_of(checkout, scratch) as (target, supervisor),
        temporary_keys(target, "yardstick", pcs) as tokens,
    ):
        groups = tree(supervisor)
        yield System(
            target.url,
            tokens,
            {
                side: [pid for pid, g in groups.items() if g == side]
                for side in ("instances", "caddy")
            },
        )


# ---------------------------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------------------------


def run_k6(
    system: System, ids: dict[str, list[int]], args: argparse.Namespace, scratch: Path
) -> dict[str, Any]:
    """The PCs' load on ``system``; k6's end-of-test summary."""
    summary = scratch / "k6-summary.json"
    plan = scratch / "k6-run.json"  # holds the keys: in the private scratch directory
    plan.write_text(
        json.dumps(
            {
                "url": system.url,
                "pcs": args.pcs,
                "seconds": args.seconds,
                "tokens": system.tokens,
                "summary": str(summary),
                **ids,
            }
        )
    )
    argv = [
        binary("k6", "k6"),
        "run",
        "--quiet",
        "--local-ips",
        f"127.0.0.2-127.0.0.{args.pcs + 1}",
        str(SCRIPT),
    ]
    env = {**os.environ, "YARDSTICK_RUN": str(plan), "K6_NO_USAGE_REPORT": "true"}
    log_path = scratch / "k6.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (our binary, our script)
            argv, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        code = process.wait(timeout=args.seconds + 120)
    finally:
        stop_process(process, timeout=10)
    if code != 0 or not summary.exists():
        raise RuntimeError(f"k6 failed ({code}):\n{log_path.read_text()[-2000:]}")
    result: dict[str, Any] = json.loads(summary.read_text())
    return result


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the processes used between the two readings (those alive at both)."""
    return sum(after[pid] - before[pid] for pid in before if pid in after)


def by_endpoint(metrics: dict[str, Any], metric: str, value: str, scale: float) -> dict[str, float]:
    """``metric``'s ``value`` (times ``scale``) for each endpoint, from k6's tagged figures."""
    prefix = f"{metric}{{name:"
    return {
        name.removeprefix(prefix).removesuffix("}"): round(scale * figures["values"][value], 2)
        for name, figures in metrics.items()
        if name.startswith(prefix)
    }


def measure(
    system: System, ids: dict[str, list[int]], args: argparse.Namespace, scratch: Path
) -> dict[str, Any]:
    """One load run and its figures, with the CPU of each group of processes over it."""
    # Every process under each root: Hypercorn's command runs its worker as a child.
    pids = {
        group: [pid for root in roots for pid in tree(root)]
        for group, roots in system.processes.items()
    }
    busy_before, cpu_before = machine_busy(), {g: cpu_by_pid(p) for g, p in pids.items()}
    metrics = run_k6(system, ids, args, scratch)["metrics"]
    cpu_after, busy_after = {g: cpu_by_pid(p) for g, p in pids.items()}, machine_busy()
    requests = metrics["http_reqs"]["values"]["count"]
    duration = metrics["http_req_duration"]["values"]
    return {
        "requests": requests,
        "req_per_s": round(metrics["http_reqs"]["values"]["rate"], 1),
        "p50_ms": round(duration["med"], 1),
        "p99_ms": round(duration["p(99)"], 1),
        "failed_pct": round(100 * metrics["http_req_failed"]["values"]["rate"], 2),
        "failed_pct_by_endpoint": by_endpoint(metrics, "http_req_failed", "rate", 100),
        "p99_ms_by_endpoint": by_endpoint(metrics, "http_req_duration", "p(99)", 1),
        **{
            f"{group}_cpu_ms_per_request": round(
                1000 * cpu_used(cpu_before[group], cpu_after[group]) / max(requests, 1), 3
            )
            for group in pids
        },
        # Of all the cores: how much else (k6 and anything else on the host) was going on.
        "machine_busy_pct": round(
            100 * (busy_after[0] - busy_before[0]) / max(busy_after[1] - busy_before[1], 1), 1
        ),
    }


def one_run(
    side: str, template: Path, ids: dict[str, list[int]], args: argparse.Namespace
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"fichas-yardstick-{side}-") as directory:
        scratch = Path(directory)
        if side == "bare":
            cluster = bare_cluster(template, scratch, args.pcs)
        else:
            checkout = args.baseline if side == "before" else ROOT
            cluster = fichas_cluster(template, scratch, args.pcs, checkout)
        with cluster as system:
            figures = {"side": side, **measure(system, ids, args, scratch)}
    failing = ", ".join(f"{n} {p:.2f} %" for n, p in figures["failed_pct_by_endpoint"].items() if p)
    print(
        f"{side:<6} {figures['req_per_s']:>8,.1f} req/s  p50 {figures['p50_ms']:.1f} ms"
        f"  p99 {figures['p99_ms']:.1f} ms  failed {figures['failed_pct']:.2f} %"
        f"{f' ({failing})' if failing else ''}  CPU per request: instances"
        f" {figures['instances_cpu_ms_per_request']:.3f} ms, caddy"
        f" {figures['caddy_cpu_ms_per_request']:.3f} ms  (machine busy"
        f" {figures['machine_busy_pct']:.0f} %)",
        flush=True,
    )
    return figures


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------


def host() -> dict[str, Any]:
    """The machine, and how busy it was before the run (core_api's machine() also asks wrk,
    which this benchmark does not use, for its version)."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?"
    )
    return {"cores": os.cpu_count(), "cpu_model": model, "load_average_before": os.getloadavg()}


def markdown(
    medians: dict[str, dict[str, float]], ratios: dict[str, dict[str, float]], pairs: int
) -> str:
    lines = [
        f"| median of {pairs} | req/s | p50 ms | p99 ms | failed % | instances CPU ms/req"
        " | Caddy CPU ms/req |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for side, m in medians.items():
        lines.append(
            f"| {side} | {m['req_per_s']:,.1f} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f}"
            f" | {m['failed_pct']:.2f} | {m['instances_cpu_ms_per_request']:.3f}"
            f" | {m['caddy_cpu_ms_per_request']:.3f} |"
        )
    for side, of_side in ratios.items():
        cells = [f"{of_side[k]:.2f}×" if k in of_side else "–" for k in FIGURES]
        lines.append(f"| {side} / bare | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def medians_of(runs: list[dict[str, Any]], sides: tuple[str, ...]) -> dict[str, dict[str, float]]:
    return {
        side: {k: statistics.median(r[k] for r in runs if r["side"] == side) for k in FIGURES}
        for side in sides
    }


def ratios_to_bare(medians: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Each Fichas side's medians over the bare app's."""
    bare = medians["bare"]
    return {
        side: {k: round(m[k] / bare[k], 3) if bare[k] else 0.0 for k in RATIOS}
        for side, m in medians.items()
        if side != "bare"
    }


def verdicts(ratios: dict[str, float]) -> dict[str, dict[str, Any]]:
    """Each of the issue's targets, met or not."""
    return {
        k: {
            "target": f"{sign} {limit}",
            "ratio": ratios[k],
            "met": ratios[k] >= limit if sign == "≥" else ratios[k] <= limit,
        }
        for k, sign, limit in TARGETS
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    alternating_options(parser, "yardstick", pairs=2, seconds=30.0)
    parser.add_argument(
        "--baseline",
        type=Path,
        help='another checkout (with its own .venv), measured too, as "before"',
    )
    args = parser.parse_args()
    sides = ("bare", "before", "fichas") if args.baseline else ("bare", "fichas")
    if not 1 <= args.pcs <= 253:
        parser.error("--pcs: 1 to 253 (one loopback address each, 127.0.0.2 and up)")
    machine = host()
    order = " then ".join(sides)
    print(f"{args.pairs} × {order}, {args.seconds:g} s each, {args.pcs} PCs", flush=True)
    with tempfile.TemporaryDirectory(prefix="fichas-yardstick-demo-") as directory:
        template = demo_database(Path(directory))
        ids = pedido_ids(template)
        runs = [one_run(side, template, ids, args) for _ in range(args.pairs) for side in sides]
    medians = medians_of(runs, sides)
    ratios = ratios_to_bare(medians)
    targets = verdicts(ratios["fichas"])
    load = " ".join(f"{x:.2f}" for x in machine["load_average_before"])
    print(f"\nhost: {machine['cores']} cores, {machine['cpu_model']}, load average {load} before")
    print(f"{args.pcs} PCs, think 0, {args.seconds:g} s per run\n")
    print(markdown(medians, ratios, args.pairs) + "\n")
    print(f"p99 ms by endpoint, median of {args.pairs}:")
    for side in sides:
        ours = [r["p99_ms_by_endpoint"] for r in runs if r["side"] == side]
        cells = ", ".join(f"{n} {statistics.median(r[n] for r in ours):.1f}" for n in ours[0])
        print(f"- {side}: {cells}")
    print()
    for k, verdict in targets.items():
        print(
            f"- {k}: fichas / bare {verdict['ratio']:.2f}, target {verdict['target']}:"
            f" {'met' if verdict['met'] else 'MISSED'}"
        )
    report = {"host": machine, "pairs": args.pairs, "pcs": args.pcs, "seconds": args.seconds,
              "baseline": str(args.baseline) if args.baseline else None}  # fmt: skip
    write_report(
        args.out,
        {**report, "runs": runs, "medians": medians, "ratios": ratios, "targets": targets},
    )


if __name__ == "__main__":
    main()
