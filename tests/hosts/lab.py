"""Several hosts on one machine, for the tests and benchmarks of a cluster on several hosts.

Each host is a Linux network namespace with one interface (``eth0``) on a bridge, which lives in
a namespace of its own (the LAN): nothing is added to the machine's own network. Addresses come
only from 198.18.0.0/15, the range set aside for benchmarking (RFC 2544), never routed anywhere:

    data   198.18.0.10   PostgreSQL (initdb/pg_ctl, Debian's binaries) and redis-server
    app1   198.18.0.11   fichas up --role app (instances on ports 8001, 8002, …)
    app2   198.18.0.12   fichas up --role app
    front  198.18.0.20   fichas up --role front (Caddy on port 8080)
    load   198.18.0.30   fichas loadtest (k6)

Faults are made the way the network would make them: a host's link down; a host cut off from
one port of another (policy-routing rules on the far side that drop both directions, so the
near side hears nothing at all, as behind a dead switch port). ``tc`` would do the same, but
this machine's kernel has neither its drop action nor netem (so no added latency, either).

Everything is torn down when the ``lab`` block ends, even on failure: every process started
here (by PID), then anything else left in the namespaces, then the namespaces themselves. The
test driver stays outside: it reads PostgreSQL through its Unix socket (a file, which no
network namespace hides), and reaches the LAN through ``Lab.run``.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fichas.processes import stop_process
from observability.scrape import Samples, parse
from tests.support import wait_for

ADDRESSES = {
    "data": "198.18.0.10",
    "app1": "198.18.0.11",
    "app2": "198.18.0.12",
    "front": "198.18.0.20",
    "load": "198.18.0.30",
}
PREFIX = 24
POSTGRES_PORT, REDIS_PORT, FIRST_API_PORT, FRONT_PORT = 5432, 6379, 8001, 8080
POSTGRES_BIN = Path("/usr/lib/postgresql")
FICHAS = [sys.executable, "-m", "fichas.cli"]
SERVICE_ROUTES = {"/health", "/ready", "/metrics"}  # the machines' requests, not the PCs'


def lab_unavailable() -> str | None:
    """Why the lab cannot run here (it needs root, iproute2, PostgreSQL and Redis), or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "redis-server", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if not list(POSTGRES_BIN.glob("*/bin/initdb")):
        return "PostgreSQL's server binaries are not installed (Debian's postgresql)"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@dataclass
class Lab:
    directory: Path  # logs, the hosts' data folders
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def namespace(self, host: str) -> str:
        return f"fichas-{self.tag}-{host}"

    def in_host(self, host: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.namespace(host), *argv]

    def run(
        self, host: str, argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """``argv`` on ``host``, to its end; its output returned, an error raised with it."""
        done = subprocess.run(
            self.in_host(host, argv), env=env, capture_output=True, text=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} on {host}: {done.stdout}{done.stderr}")
        return done

    def start(
        self, host: str, name: str, argv: Sequence[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """``argv`` on ``host`` in the background, logging to ``<name>.log``; stopped (by PID)
        when the lab ends, if not before. ``ip netns exec`` execs the command: the PID is its."""
        with (self.directory / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(self.in_host(host, argv), env=env, stdout=log, stderr=log)
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text(errors="replace")

    def get(self, host: str, url: str) -> str:
        """The body of a GET of ``url`` made from ``host`` (an HTTP error raises)."""
        fetch = "import sys, urllib.request as u; print(u.urlopen(sys.argv[1], timeout=5).read().decode())"  # noqa: E501 - one line of Python
        return self.run(host, [sys.executable, "-c", fetch, url], timeout=30).stdout

    def pids(self, host: str) -> list[int]:
        """Every process on ``host`` now."""
        listed = subprocess.run(
            ["ip", "netns", "pids", self.namespace(host)],
            capture_output=True,
            text=True,
            check=False,
        )
        return [int(pid) for pid in listed.stdout.split()]

    def kill_all(self, host: str) -> None:
        """Every process on ``host`` killed at once (SIGKILL), as by a power cut."""
        for pid in self.pids(host):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def link(self, host: str, up: bool) -> None:
        _ip("-n", self.namespace(host), "link", "set", "dev", "eth0", "up" if up else "down")

    def cut(self, host: str, server: str, port: int) -> None:
        """``host`` no longer reaches ``port`` on ``server``, nor hears from it: both ways
        dropped on the server's side, silently."""
        self._rules("add", host, server, port)

    def heal(self, host: str, server: str, port: int) -> None:
        self._rules("del", host, server, port)

    def _rules(self, action: str, host: str, server: str, port: int) -> None:
        client, namespace = ADDRESSES[host], self.namespace(server)
        for match in (
            ["from", client, "ipproto", "tcp", "dport", str(port)],  # what it sends
            ["to", client, "ipproto", "tcp", "sport", str(port)],  # what it would be answered
        ):
            _ip("-n", namespace, "rule", action, *match, "blackhole")

    def _build(self) -> None:
        lan = self.namespace("lan")
        _ip("netns", "add", lan)
        _ip("-n", lan, "link", "add", "name", "br0", "type", "bridge")
        _ip("-n", lan, "link", "set", "dev", "br0", "up")
        for host, address in ADDRESSES.items():
            namespace = self.namespace(host)
            _ip("netns", "add", namespace)
            _ip("link", "add", "name", "eth0", "netns", namespace, "type", "veth",
                "peer", "name", host, "netns", lan)  # fmt: skip
            _ip("-n", lan, "link", "set", "dev", host, "master", "br0")
            _ip("-n", lan, "link", "set", "dev", host, "up")
            _ip("-n", namespace, "address", "add", f"{address}/{PREFIX}", "dev", "eth0")
            _ip("-n", namespace, "link", "set", "dev", "eth0", "up")
            _ip("-n", namespace, "link", "set", "dev", "lo", "up")

    def _teardown(self) -> None:
        for process in reversed(self.processes):
            stop_process(process, timeout=15)
        for host in [*ADDRESSES, "lan"]:
            self.kill_all(host)  # anything a process started and left behind
            delete = ["ip", "netns", "delete", self.namespace(host)]
            subprocess.run(delete, capture_output=True, check=False)


@contextmanager
def lab(directory: Path) -> Iterator[Lab]:
    """The hosts, wired and up, until the block ends; then nothing of them is left."""
    directory.mkdir(parents=True, exist_ok=True)
    built = Lab(directory)
    try:
        built._build()
        yield built
    finally:
        built._teardown()


@dataclass
class Postgres:
    """A PostgreSQL cluster of its own on the data host, owned by the ``postgres`` user (it
    refuses to run as root) in a folder of its own under the system's temporary folder (the
    tests' own are root's alone). Trust authentication: only the lab's hosts can reach it."""

    lab: Lab
    folder: Path
    bin: Path

    @property
    def socket_dir(self) -> Path:
        return self.folder

    def url(self, database: str = "fichas") -> str:
        """What the app hosts connect to, over the LAN."""
        return f"postgresql+psycopg://postgres@{ADDRESSES['data']}:{POSTGRES_PORT}/{database}"

    def _as_postgres(self, *argv: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv]

    def initialise(self) -> None:
        data = self.folder / "data"
        initdb = [str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
        self.lab.run("data", self._as_postgres(*initdb, "-E", "UTF8"))
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {ADDRESSES['data']}/{PREFIX} trust\n")
        settings = (
            f"listen_addresses = '{ADDRESSES['data']}'\nport = {POSTGRES_PORT}\n"
            f"unix_socket_directories = '{self.socket_dir}'\nmax_connections = 200\n"
            "fsync = on\n"
        )
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(settings)
        self.start()
        self.lab.run("data", self._as_postgres(str(self.bin / "createdb"), "-h",
                                                str(self.socket_dir), "fichas"))  # fmt: skip

    def start(self) -> None:
        self.lab.run("data", self._pg_ctl("start", "-w", "-l", str(self.folder / "server.log")))

    def stop(self, mode: str = "fast") -> None:
        self.lab.run("data", self._pg_ctl("stop", "-w", "-m", mode))

    def _pg_ctl(self, *argv: str) -> list[str]:
        return self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), *argv)


@contextmanager
def postgres(lab: Lab) -> Iterator[Postgres]:
    """PostgreSQL on the data host, with an empty database ``fichas``; stopped and removed when
    the block ends."""
    [initdb] = sorted(POSTGRES_BIN.glob("*/bin/initdb"))[-1:]
    folder = Path(tempfile.mkdtemp(prefix="fichas-lab-postgres-"))
    user = pwd.getpwnam("postgres")
    os.chown(folder, user.pw_uid, user.pw_gid)
    server = Postgres(lab, folder, initdb.parent)
    try:
        server.initialise()
        yield server
    finally:
        stop = lab.in_host("data", server._pg_ctl("stop", "-m", "immediate"))
        subprocess.run(stop, check=False, capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def redis_url() -> str:
    return f"redis://{ADDRESSES['data']}:{REDIS_PORT}/0"


def start_redis(lab: Lab) -> subprocess.Popen[bytes]:
    """redis-server on the data host, keeping nothing on disk."""
    argv = ["redis-server", "--bind", ADDRESSES["data"], "--port", str(REDIS_PORT),
            "--save", "", "--appendonly", "no", "--protected-mode", "no",
            "--dir", str(lab.directory)]  # fmt: skip
    process = lab.start("data", "redis", argv)
    wait_for(lab.directory / "redis.log", "Ready to accept connections", process, 10)
    return process


@dataclass
class Cluster:
    """fichas on the lab: app hosts with their instances, the front host in front of them."""

    lab: Lab
    database_url: str

    @property
    def upstreams_file(self) -> Path:
        return self.lab.directory / "upstreams.txt"

    @property
    def admin_key_file(self) -> Path:
        return self.data_dir("app1") / "admin.key"

    @property
    def url(self) -> str:
        return f"http://{ADDRESSES['front']}:{FRONT_PORT}"

    def data_dir(self, host: str) -> Path:
        return self.lab.directory / host

    def env(self, host: str) -> dict[str, str]:
        return {
            **os.environ,
            "FICHAS_DATA_DIR": str(self.data_dir(host)),
            "FICHAS_DATABASE_URL": self.database_url,
            "FICHAS_REDIS_URL": redis_url(),
            "FICHAS_TRUSTED_PROXIES": f"{ADDRESSES['front']}/32",
            "FICHAS_LOG_LEVEL": "info",  # the access log says when each request arrived
            "FICHAS_LOG_FORMAT": "json",
        }

    def upstreams(self, hosts: Sequence[str], instances: int = 2) -> list[str]:
        return [f"{ADDRESSES[h]}:{FIRST_API_PORT + n}" for h in hosts for n in range(instances)]

    def start_app(self, host: str, instances: int = 2, backups: bool = False) -> None:
        listen = f"{ADDRESSES[host]}:{FIRST_API_PORT}"
        argv = [*FICHAS, "up", "--role", "app", "--listen", listen, "--instances", str(instances)]
        process = self.lab.start(host, host, [*argv, *(["--backups"] if backups else [])],
                                 self.env(host))  # fmt: skip
        wait_for(self.lab.directory / f"{host}.log", " is up ", process)

    def front_to(self, hosts: Sequence[str]) -> None:
        """List ``hosts``' instances in the front host's upstreams file (it reloads it)."""
        self.upstreams_file.write_text("\n".join(self.upstreams(hosts)) + "\n")

    def start_front(self, hosts: Sequence[str]) -> None:
        self.front_to(hosts)
        argv = [*FICHAS, "up", "--role", "front", "--listen", f"0.0.0.0:{FRONT_PORT}",
                "--upstreams", str(self.upstreams_file)]  # fmt: skip
        env = self.env("front")
        del env["FICHAS_DATABASE_URL"]  # a front host has none
        process = self.lab.start("front", "front", argv, env)
        wait_for(self.lab.directory / "front.log", " is up ", process)

    def load(self, results: Path, *options: str) -> Load:
        """fichas loadtest from the load host against the front host, in the background."""
        argv = [*FICHAS, "loadtest", "--target", self.url, "--admin-key-file",
                str(self.admin_key_file), "--results", str(results), *options]  # fmt: skip
        env = {**os.environ, "FICHAS_LOG_LEVEL": "warning"}
        name = f"loadtest-{results.name}"
        started = datetime.now(UTC)
        process = self.lab.start("load", name, argv, env)
        return Load(process, results, started, self.lab, name)

    def instance_metrics(self, host: str) -> dict[str, Samples]:
        """``host``'s instances' /metrics by address, read from the front host (as a Prometheus
        on the LAN would)."""
        return {url.removeprefix("http://"): parse(self.lab.get("front", f"{url}/metrics"))
                for url in self._instance_urls(host)}  # fmt: skip

    def serving(self, hosts: Sequence[str]) -> set[str]:
        """Which of ``hosts``' instances are answering the PCs now: their count of answered
        requests (health checks and scrapes aside) grew over half a second."""

        def answered() -> dict[str, float]:
            return {
                address: sum(
                    value
                    for labels, value in samples.get("fichas_http_requests_total", {}).items()
                    if dict(labels)["route"] not in SERVICE_ROUTES
                )
                for host in hosts
                for address, samples in self.instance_metrics(host).items()
            }

        before = answered()
        time.sleep(0.5)
        return {address for address, count in answered().items() if count > before[address]}

    def arrivals(self, host: str) -> list[float]:
        """When (``time.time()``) each PC request ``host``'s instances answered had arrived,
        from their access log (its time is the answer's; less the duration, the arrival)."""
        arrived = []
        for line in self.lab.log(host).splitlines():
            if not line.startswith("{") or '"fichas.access"' not in line:
                continue
            entry = json.loads(line)
            if entry["route"] in SERVICE_ROUTES:
                continue
            answered = datetime.strptime(entry["time"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            arrived.append(answered - entry["duration_ms"] / 1000)
        return arrived

    def _instance_urls(self, host: str) -> list[str]:
        status = json.loads((self.data_dir(host) / "cluster" / "status.json").read_text())
        return [instance["url"] for instance in status["instances"]]


@dataclass
class Load:
    """A load test running in the background, from the load host."""

    process: subprocess.Popen[bytes]
    results: Path
    started: datetime  # before its first request
    lab: Lab
    name: str

    def finish(self, timeout: float = 180) -> dict[str, Any]:
        """Its summary.json, once it ended (whatever its verdict: the caller judges)."""
        self.process.wait(timeout=timeout)
        path = self.results / "summary.json"
        if not path.exists():
            raise RuntimeError(f"no summary.json:\n{self.lab.log(self.name)[-3000:]}")
        summary: dict[str, Any] = json.loads(path.read_text())
        return summary


@contextmanager
def cluster(
    lab: Lab, database: Postgres, apps: Sequence[str] = ("app1", "app2")
) -> Iterator[Cluster]:
    """Redis, the schema and demo data, then ``apps`` (2 instances each; the first takes the
    backups) and the front host in front of them all."""
    start_redis(lab)
    built = Cluster(lab, database.url())
    for host in apps:
        built.data_dir(host).mkdir(parents=True, exist_ok=True)
    for verb in ("migrate", "demo-data"):
        lab.run(apps[0], [*FICHAS, verb], built.env(apps[0]), timeout=120)
    for n, host in enumerate(apps):
        built.start_app(host, backups=n == 0)
    built.start_front(apps)
    yield built
