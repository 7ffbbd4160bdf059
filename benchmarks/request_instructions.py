"""What a request costs Fichas against the bare yardstick app, counted in instructions rather than
timed: repeatable on this shared host, where the end-to-end comparison (benchmarks/yardstick.py)
drifts by several per cent between rounds, and free of Caddy, Hypercorn, sockets and k6.

The yardstick's workload, in-process: the old system's mix, each request drawn by weight with a
seeded ``random.Random`` (``GET /health`` 25 %, ``GET /producoes/tipos`` 20 %,
``GET /clientes?limit=20`` 30 %, ``GET /pedidos?limit=20`` 15 %, ``POST /pedidos`` with a fresh
Idempotency-Key 10 %), and with ``--by-endpoint`` each endpoint alone as well. Request *i* comes
from PC *i* mod 25: its own API key and its own address in ``X-Forwarded-For`` (127.0.0.2 and
up), which a Fichas instance believes of the loopback proxy, as behind Caddy, and rate-limits
by. The plan of each workload is drawn once, here, and both sides get it word for word.

The demo database (``fichas migrate`` and ``fichas demo-data``) is built once; for each workload
and side this script runs itself under ``valgrind --tool=callgrind --instr-atstart=no`` as a
child, on a fresh copy of it, that

- builds the app: "bare", the yardstick of docs/ARCHITECTURE.md (logging configured at info to
  /dev/null, though it logs nothing itself); "fichas", one instance as ``fichas up`` builds it
  (``load_settings()`` with ``FICHAS_INSTANCE=api-1``, the access log on at info as JSON, to
  /dev/null: each line formatted and written), with a read+write key per PC;
- makes ``WARM_UP`` requests of the mix (caches, compiled statements), then, as
  ``fichas serve`` does, ``gc.collect(); gc.freeze()``;
- counts the instructions of the planned requests only, switching callgrind on and off around
  them with ``callgrind_control``, in every thread (the parent sums a dump per thread).

Read the figures knowing that

- the harness's own work (building each ASGI scope, encoding the body, decoding the answer) is
  counted on both sides: it draws fichas / bare towards 1, while fichas − bare is exact;
- the bare app's access log is Hypercorn's, which is not in-process: counted on neither side,
  while Fichas' own access line is — an asymmetry in the bare app's favour;
- counted requests run ~40 times slower under callgrind, so what expires by the clock does so
  after fewer requests than in production: the 5 s cache of verified keys most of all (at
  600 s instead, Fichas' mix counted ~2.5 % less). A rerun counts the same within ~1 %.

Run from the repository root with (needs Debian's ``valgrind``; under 1 min per child: ~2 min
for the mix, ~9 min with ``--by-endpoint``, which runs twelve)::

    uv run python -m benchmarks.request_instructions [--requests 600] [--by-endpoint] \
        [--out results/request-instructions-<date>.json]
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, TypedDict

from benchmarks.core_api import ROOT, write_report
from benchmarks.in_process import InProcess, counting, instructions_counted
from benchmarks.yardstick import (
    BARE_APP_DIR,
    copy_database,
    demo_database,
    look_alike_tokens,
    pedido_ids,
)

PCS = 25
WARM_UP = 300  # requests of the mix before counting
SEED = 21
# name: (weight in the mix, method, path); the names are the yardstick's.
ENDPOINTS: dict[str, tuple[int, str, str]] = {
    "GET /health": (25, "GET", "/health"),
    "GET /producoes/tipos": (20, "GET", "/producoes/tipos"),
    "GET /clientes?limit=20": (30, "GET", "/clientes?limit=20"),
    "GET /pedidos?limit=20": (15, "GET", "/pedidos?limit=20"),
    "POST /pedidos": (10, "POST", "/pedidos"),
}
MIX = "mix"
SIDES = ("bare", "fichas")


class Request(TypedDict):
    pc: int
    method: str
    url: str
    body: dict[str, Any] | None
    idempotency_key: str | None


class Plan(TypedDict):
    database: str
    warm_up: list[Request]
    counted: list[Request]


# ---------------------------------------------------------------------------------------------
# the plan: the same requests for both sides
# ---------------------------------------------------------------------------------------------


def draw(rng: random.Random, endpoint: str, n: int, ids: dict[str, list[int]]) -> Request:
    """Request ``n`` of a run, to ``endpoint``; a new pedido as ``yardstick.js`` makes one."""
    _, method, url = ENDPOINTS[endpoint]
    body, key = None, None
    if method == "POST":
        quantidade = rng.randint(1, 200)
        body = {
            "cliente_id": rng.choice(ids["clientes"]),
            "tipo_id": rng.choice(ids["tipos"]),
            "descricao": f"{quantidade} camisetas",
            "quantidade": quantidade,
            "valor_unitario": rng.randint(500, 5499),
        }
        key = f"yardstick-{n}"  # never a replay of an earlier pedido
    return Request(pc=n % PCS, method=method, url=url, body=body, idempotency_key=key)


def plan(
    workload: str, requests: int, ids: dict[str, list[int]]
) -> tuple[list[Request], list[Request]]:
    """The warm-up (the mix) and the counted requests (``workload``: the mix or one endpoint)."""
    rng = random.Random(SEED)
    names, weights = list(ENDPOINTS), [weight for weight, _, _ in ENDPOINTS.values()]

    def endpoint(workload: str) -> str:
        return rng.choices(names, weights)[0] if workload == MIX else workload

    warm_up = [draw(rng, endpoint(MIX), n, ids) for n in range(WARM_UP)]
    counted = [draw(rng, endpoint(workload), WARM_UP + n, ids) for n in range(requests)]
    return warm_up, counted


# ---------------------------------------------------------------------------------------------
# the child, under callgrind
# ---------------------------------------------------------------------------------------------


def to_devnull() -> TextIO:
    """A stream for the log lines: written, but to nowhere. Open as long as the process is."""
    return Path(os.devnull).open("w")


def bare_side(database: Path) -> tuple[Any, list[str]]:
    """The bare app on ``database``; keys shaped like Fichas', for it to ignore (the same bytes
    as Fichas gets)."""
    os.environ["BARE_DB"] = str(database)
    sys.path.insert(0, str(BARE_APP_DIR))
    logging.basicConfig(stream=to_devnull(), level=logging.INFO)
    return importlib.import_module("bare_app").app, look_alike_tokens(PCS)


def fichas_side(database: Path) -> tuple[Any, list[str]]:
    """One instance of ``fichas up`` on the data dir holding ``database``, with a key per PC."""
    from api.app import create_app
    from api.auth.keys import issue
    from api.db.engine import build_engine, writing
    from fichas.settings import load_settings
    from observability.logs import configure_logging

    os.environ.update(
        FICHAS_DATA_DIR=str(database.parent),
        FICHAS_INSTANCE="api-1",
        FICHAS_LOG_LEVEL="info",
        FICHAS_LOG_FORMAT="json",  # what "auto" picks under fichas up, stdout not a terminal
    )
    settings = load_settings()
    configure_logging(settings.log_level, settings.instance, settings.log_format)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(to_devnull())
    engine = build_engine(settings)
    with writing(engine) as conn:
        tokens = [issue(conn, f"pc-{n}", ["read", "write"])[1] for n in range(PCS)]
    engine.dispose()
    # As fichas serve runs an instance: the database threads get the GIL back sooner.
    sys.setswitchinterval(0.0005)
    return create_app(settings), tokens


APPS: dict[str, Callable[[Path], tuple[Any, list[str]]]] = {
    "bare": bare_side,
    "fichas": fichas_side,
}

# What InProcess.call takes: method, url, body, headers.
Call = tuple[str, str, dict[str, Any] | None, dict[str, str]]


def calls(requests: list[Request], tokens: list[str]) -> list[Call]:
    """The requests with their headers, built before counting: less of the harness counted."""
    built = []
    for request in requests:
        pc = request["pc"]
        headers = {
            "authorization": f"Bearer {tokens[pc]}",
            "x-forwarded-for": f"127.0.0.{2 + pc}",
            "user-agent": "fichas-yardstick",
        }
        if request["idempotency_key"] is not None:
            headers["idempotency-key"] = request["idempotency_key"]
        built.append((request["method"], request["url"], request["body"], headers))
    return built


def child(side: str, plan_file: Path) -> None:
    """Under callgrind: count the instructions of the plan's counted requests on ``side``."""
    planned: Plan = json.loads(plan_file.read_text())
    app, tokens = APPS[side](Path(planned["database"]))
    warm_up, counted = calls(planned["warm_up"], tokens), calls(planned["counted"], tokens)
    client = InProcess(app, tokens[0])
    try:
        for method, url, body, headers in warm_up:
            client.call(method, url, body, **headers)
        gc.collect()
        gc.freeze()
        counting("on")
        for method, url, body, headers in counted:
            client.call(method, url, body, **headers)
        counting("off")
    except RuntimeError as error:  # an answer >= 400: its status and the start of its body
        sys.exit(f"{side}: {error}")
    client.close()


# ---------------------------------------------------------------------------------------------
# the parent
# ---------------------------------------------------------------------------------------------


def child_env() -> dict[str, str]:
    """This environment minus FICHAS_* and OTEL_*: Fichas with its defaults, untraced."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("FICHAS_", "OTEL_"))}


def counted(side: str, template: Path, warm_up: list[Request], requests: list[Request]) -> float:
    """Millions of instructions per request of ``requests`` on ``side``."""
    with tempfile.TemporaryDirectory(prefix=f"fichas-instructions-{side}-") as directory:
        scratch = Path(directory)
        # In a new directory: no -wal of an earlier database beside it to be taken for its own.
        database = copy_database(template, scratch / "fichas.db")  # the name fichas looks for
        plan_file = scratch / "plan.json"
        planned = Plan(database=str(database), warm_up=warm_up, counted=requests)
        plan_file.write_text(json.dumps(planned))
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--log-file={scratch / 'valgrind.log'}",  # the child's stderr is its own
            f"--callgrind-out-file={scratch / 'callgrind.out'}",
            sys.executable,
            "-m",
            __spec__.name,
            "--child",
            side,
            str(plan_file),
        ]
        done = subprocess.run(  # noqa: S603 (valgrind, this script)
            command, env=child_env(), cwd=ROOT, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"the {side} child failed ({done.returncode}):\n{done.stderr}")
        total = instructions_counted(scratch / "callgrind.out")
    return total / len(requests) / 1e6


def compare(workload: str, template: Path, requests: int) -> dict[str, float]:
    """Both sides on ``workload``: M instructions per request, the ratio and the difference."""
    warm_up, planned = plan(workload, requests, pedido_ids(template))
    figures = {side: counted(side, template, warm_up, planned) for side in SIDES}
    bare, fichas = figures["bare"], figures["fichas"]
    result = {
        "bare": round(bare, 4),
        "fichas": round(fichas, 4),
        "fichas_over_bare": round(fichas / bare, 3),
        "fichas_minus_bare": round(fichas - bare, 4),
    }
    print(f"{workload}: bare {bare:.3f}, fichas {fichas:.3f} M instructions/request", flush=True)
    return result


def markdown(results: dict[str, dict[str, float]]) -> str:
    lines = [
        "| M instructions per request | bare | fichas | fichas / bare | fichas − bare |",
        "|---|--:|--:|--:|--:|",
    ]
    for workload, r in results.items():
        lines.append(
            f"| {workload} | {r['bare']:.3f} | {r['fichas']:.3f} | {r['fichas_over_bare']:.2f}×"
            f" | {r['fichas_minus_bare']:.3f} |"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600, help="counted, per child")
    parser.add_argument("--by-endpoint", action="store_true", help="each endpoint alone too")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "PLAN"), help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.child:
        side, plan_file = args.child
        child(side, Path(plan_file))
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind is not installed: apt-get install valgrind")
    started = datetime.now(UTC)
    workloads = [MIX, *ENDPOINTS] if args.by_endpoint else [MIX]
    with tempfile.TemporaryDirectory(prefix="fichas-instructions-demo-") as directory:
        print("building the demo database ...", flush=True)
        template = demo_database(Path(directory))
        results = {w: compare(w, template, args.requests) for w in workloads}
    print()
    print(markdown(results))
    if args.out:
        report = {
            "date": started.isoformat(timespec="seconds"),
            "argv": sys.argv,
            "requests": args.requests,
            "warm_up": WARM_UP,
            "pcs": PCS,
            "unit": "M instructions per request (callgrind)",
            "results": results,
        }
        write_report(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
