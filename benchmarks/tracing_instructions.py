"""What tracing costs an instance, counted in instructions rather than seconds: repeatable on a
shared machine, where the end-to-end benchmark (benchmarks/observability.py) drifts by several
per cent between rounds.

For each configuration (tracing off; on, with callers that never sample; 10 %; 100 %) this
script runs itself under ``valgrind --tool=callgrind`` as a child that builds the app on a fresh
SQLite database, calls it in-process (no server, no sockets: only the app's own work is counted)
for ``--sessions`` PC sessions — the ten requests of ``loadtest/scripts/pcs.js``, each with a
``traceparent`` whose sampled flag is drawn at the configuration's ratio, as Caddy sends it — and
counts instructions only around those sessions and the export of their spans (switched on and
off with ``callgrind_control``). Random numbers are seeded, so a rerun counts the same within
~0.3 %. Spans go to an OTLP/HTTP receiver in this (parent) process.

Run from the repository root with (needs Debian's ``valgrind``; ~1 min per configuration)::

    uv run python -m benchmarks.tracing_instructions [--sessions 20]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.in_process import InProcess, counting, instructions_counted
from tests.otlp import otlp_receiver

ROOT = Path(__file__).resolve().parent.parent

PARENT_BASED_10 = {
    "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
    "OTEL_TRACES_SAMPLER_ARG": "0.1",
}
# name: (ratio of requests whose caller samples, or None for no traceparent; environment)
CONFIGS: dict[str, tuple[float | None, dict[str, str]]] = {
    "off": (None, {}),
    "callers not sampling": (0.0, PARENT_BASED_10),
    "10 %": (0.1, PARENT_BASED_10),
    "100 %": (1.0, {"OTEL_TRACES_SAMPLER": "parentbased_always_on"}),
}
WARM_UP = 10  # sessions before counting: caches, connections, the exporter's first post


def session(client: InProcess, ratio: float | None, cliente: int, tipo: int, n: int) -> None:
    """One operator's session, as in loadtest/scripts/pcs.js."""

    def traced(**headers: str) -> dict[str, str]:
        if ratio is not None:
            flags = "01" if random.random() < ratio else "00"
            ids = f"{random.getrandbits(128):032x}-{random.getrandbits(64):016x}"
            headers["traceparent"] = f"00-{ids}-{flags}"
        return headers

    for url in ("/clientes?q=Maria&limit=20", "/clientes?limit=50", f"/clientes/{cliente}",
                "/producoes/tipos"):  # fmt: skip
        client.call("GET", url, **traced())
    body = {"cliente_id": cliente, "tipo_id": tipo, "descricao": "50 camisetas",
            "quantidade": 50, "valor_unitario": 1990}  # fmt: skip
    pedido = client.call("POST", "/pedidos", body, **traced(**{"idempotency-key": f"p{n}"}))
    for status in ("em_producao", "pronto", "entregue"):
        key = {"idempotency-key": f"p{n}-{status}"}
        client.call("POST", f"/pedidos/{pedido['id']}/status", {"status": status}, **traced(**key))
    client.call("GET", f"/pedidos/{pedido['id']}/eventos", **traced())
    client.call("GET", f"/pedidos/{pedido['id']}/ficha", **traced())


def child(config: str, sessions: int) -> None:
    """Under callgrind: count the instructions of ``sessions`` sessions in ``config``."""
    from opentelemetry.sdk.trace import TracerProvider

    import api.app
    from fichas.settings import Settings
    from observability.tracing import tracer_provider
    from tests.support import make_token, migrated_engine

    random.seed(7)
    ratio, env = CONFIGS[config]
    if ratio is None:
        os.environ.pop("OTEL_EXPORTER_OTLP_ENDPOINT")
    os.environ.update(env)
    providers: list[TracerProvider | None] = []

    def keeping(instance: str) -> TracerProvider | None:  # to flush its batch into the count
        providers.append(tracer_provider(instance))
        return providers[-1]

    api.app.tracer_provider = keeping  # type: ignore[attr-defined]
    settings = Settings(data_dir=Path(tempfile.mkdtemp()), auth_cache_seconds=600)
    engine = migrated_engine(settings)
    admin_key = make_token(engine, "admin", ["read", "write", "admin"])
    admin = InProcess(api.app.create_app(settings), admin_key)
    tipo = admin.call("POST", "/producoes/tipos", {"codigo": "cam", "nome": "Camiseta"})["id"]
    cliente = admin.call("POST", "/clientes", {"nome": "Maria Souza"})["id"]
    admin.close()
    client = InProcess(api.app.create_app(settings), make_token(engine, "pc", ["read", "write"]))
    for n in range(WARM_UP):
        session(client, ratio, cliente, tipo, -1 - n)

    def flush_and_count(switch: str) -> None:
        for provider in filter(None, providers):
            provider.force_flush()
        counting(switch)

    flush_and_count("on")
    for n in range(sessions):
        session(client, ratio, cliente, tipo, n)
    flush_and_count("off")
    client.close()


def counted(config: str, sessions: int, receiver: str) -> float:
    """Millions of instructions per request in ``config``."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        # Spans leave when the child flushes them, inside the count, not on the 5 s timer.
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": receiver,
               "OTEL_BSP_SCHEDULE_DELAY": "600000"}  # fmt: skip
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                   f"--callgrind-out-file={out}", sys.executable, "-m", __spec__.name,
                   "--child", config, "--sessions", str(sessions)]  # fmt: skip
        subprocess.run(command, env=env, cwd=ROOT, check=True, capture_output=True)  # noqa: S603
        total = instructions_counted(out)
    return total / (sessions * 10) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--child", choices=CONFIGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.sessions)
        return 0
    with otlp_receiver() as receiver:
        figures = {config: counted(config, args.sessions, receiver.url) for config in CONFIGS}
        spans = len(receiver.spans)
    print(f"{'tracing':<22} {'M instr/request':>16} {'vs. off':>8}")
    for config, figure in figures.items():
        print(f"{config:<22} {figure:16.3f} {figure / figures['off']:8.3f}")
    print(f"spans received: {spans:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
