"""CLI start-up: how long ``fichas --version``, ``fichas status`` and ``fichas keys list`` take,
and what each imports.

Each command runs ``--runs`` times (after one run not counted) as an operator runs it: the
installed ``fichas`` script, a fresh process each time, in a throw-away data directory holding
a migrated SQLite database with three keys and, for ``status``, a running ``fichas up`` of two
instances (so that it probes real processes). Reported: median, min and max wall time, and the
``python -X importtime`` total of the command's imports with the five heaviest top-level ones.

Bytecode matters more than anything here: a wheel installed by pip or uv is compiled, but a
checkout synced by ``uv sync`` is not unless asked (``--compile-bytecode``), and where
``PYTHONDONTWRITEBYTECODE`` is set (this machine) every start compiles every module again. The
script says which case it measured; compile with ``uv sync --compile-bytecode`` to measure what
an installation sees.

With ``--baseline CHECKOUT`` (another version's checkout, its environment synced and compiled:
``uv sync --compile-bytecode`` there), the same commands of that version are timed in the same
run, so that the comparison is a ratio: ``status`` against the same running cluster, ``keys
list`` against a database of its own schema.

Run from the repository root with::

    uv run python -m benchmarks.cli_startup [--runs 10] [--baseline ../fichas-before]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from statistics import median

import sqlalchemy

from fichas.processes import free_port, stop_process

FICHAS = str(Path(sys.executable).with_name("fichas"))
COMMANDS = (["--version"], ["status"], ["keys", "list"])
# The floors: a Python that does nothing, one that loads what reading the settings needs
# (pydantic), and one that also loads what reaching the database needs (SQLAlchemy).
FLOORS = {
    "python -c pass": "pass",
    "import pydantic_settings": "import pydantic_settings",
    "+ sqlalchemy": "import pydantic_settings, sqlalchemy",
}


def compiled() -> bool:
    """Whether the environment holds bytecode (checked on a dependency every command loads)."""
    origin = sqlalchemy.__file__
    assert origin is not None
    return Path(importlib.util.cache_from_source(origin)).exists()


def timings(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    subprocess.run(argv, env=env, capture_output=True, check=False)  # noqa: S603 - not counted
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)  # noqa: S603 - ours
        seconds.append(time.perf_counter() - started)
    return seconds


def row(what: str, seconds: list[float], imported: str = "") -> str:
    return (
        f"{what:<26} {median(seconds):>7.3f}s {min(seconds):>7.3f}s {max(seconds):>7.3f}s{imported}"
    )


def imports(argv: list[str], env: dict[str, str]) -> tuple[float, list[tuple[float, str]]]:
    """Total import time of the command (ms) and its heaviest top-level imports."""
    done = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-X", "importtime", "-m", "fichas.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    top = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        if cumulative.strip().isdigit() and not name.startswith("  "):  # a top-level import
            top.append((int(cumulative) / 1000, name.strip()))
    return sum(ms for ms, _ in top), sorted(top, reverse=True)[:5]


def prepared(fichas: str, data_dir: str) -> dict[str, str]:
    """The environment of commands on ``data_dir``, once ``fichas`` has migrated its database
    and made three keys there."""
    env = {**os.environ, "FICHAS_DATA_DIR": data_dir}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as an operator's shell: keep what is compiled
    for command in (["migrate"], *(["keys", "create", f"pc-{n:02d}"] for n in (1, 2, 3))):
        subprocess.run([fichas, *command], env=env, check=True, capture_output=True)  # noqa: S603
    return env


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--baseline", type=Path, help="another version's checkout, synced")
    args = parser.parse_args(argv)
    print(f"bytecode compiled: {'yes' if compiled() else 'NO (every start compiles)'}")
    with tempfile.TemporaryDirectory() as data_dir, tempfile.TemporaryDirectory() as other_dir:
        env = prepared(FICHAS, data_dir)
        baseline = None
        if args.baseline is not None:
            baseline = str(args.baseline.resolve() / ".venv" / "bin" / "fichas")
            baseline_env = prepared(baseline, other_dir)
        cluster = subprocess.Popen(  # noqa: S603 - our own command
            [FICHAS, "up", "--instances", "2", "--listen", f"127.0.0.1:{free_port()}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            status = Path(data_dir) / "cluster" / "status.json"
            deadline = time.monotonic() + 120
            while not status.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            if not status.exists():
                print("fichas up did not start within 120 s", file=sys.stderr)
                return 1
            print(f"{'':<26} {'median':>8} {'min':>8} {'max':>8}  imports (-X importtime, ms)")
            for what, code in FLOORS.items():
                print(row(what, timings([sys.executable, "-c", code], env, args.runs)))
            for command in COMMANDS:
                seconds = timings([FICHAS, *command], env, args.runs)
                total, heaviest = imports(command, env)
                names = ", ".join(f"{name} {ms:.0f}" for ms, name in heaviest)
                print(row(f"fichas {' '.join(command)}", seconds, f"  {total:.0f}: {names}"))
                if baseline is not None:  # status on the same cluster, keys on its own schema
                    on = env if command == ["status"] else baseline_env
                    before = timings([baseline, *command], on, args.runs)
                    ratio = median(seconds) / median(before)
                    print(row("  baseline", before, f"  this version: {ratio:.2f}x the time"))
        finally:
            stop_process(cluster, timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
