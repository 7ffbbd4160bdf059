"""What a client can do to the cluster through the proxy (issue 17, points 1, 2, 8 and 9).

Caddy, rendered by ProxyConfig as ``fichas up`` renders it, in front of small stub upstreams
(what the proxy does alone: health, body limits, its own answers) and in front of real
instances (what the logs and metrics of both say)."""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx2
import pytest

from fichas.settings import Settings
from tests.proxy.support import Caddy, Stub, proxy_config, running_caddy, stubs
from tests.support import assert_problem, make_token, migrated_engine, running_server

LIMIT = 4096  # max_body_bytes of the stub proxy: small, so that bodies over it are cheap
SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")  # api/http/middleware.py's pattern


def _answer(request: BaseHTTPRequestHandler) -> tuple[int, bytes]:
    """/boom fails as a bug in the API would; anything else echoes the request id it got."""
    if request.path.startswith("/boom"):
        return 500, b"boom"
    return 200, request.headers.get("X-Request-ID", "").encode()


@dataclass
class Proxied:
    caddy: Caddy
    upstreams: list[Stub]

    def reached(self, path: str) -> int:
        """How many times the upstreams were sent a request for ``path``."""
        return sum(p == path for stub in self.upstreams for _, p in stub.seen)

    def fails(self) -> list[int]:
        return [u["fails"] for u in self.caddy.upstreams().values()]


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    with stubs(3, _answer) as upstreams:
        config = proxy_config([u.address for u in upstreams], max_body_bytes=LIMIT)
        with running_caddy(config, tmp_path_factory.mktemp("caddy")) as caddy:
            yield Proxied(caddy, upstreams)


def _unique(prefix: str) -> str:
    return f"/{prefix}-{uuid.uuid4().hex}"


def _raw(listen: str, request: bytes, *, answer: bool) -> bytes:
    """Send ``request`` on a fresh connection; read the answer, or close at once."""
    host, port = listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        if not answer:
            return b""
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def _chunked(body: bytes) -> Iterator[bytes]:
    """A body httpx sends with Transfer-Encoding: chunked (a generator has no length)."""
    for start in range(0, len(body), 1000):
        yield body[start : start + 1000]


def _access_lines(caddy: Caddy, path: str) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in caddy.log_lines() if '"handled request"' in x]
    return [x for x in lines if x["request"]["uri"] == path]


def _await_access_line(caddy: Caddy, path: str) -> dict[str, Any]:
    """Caddy logs a request when it is done with it: wait for that (it may outlive the client)."""
    deadline = time.monotonic() + 10
    while not (lines := _access_lines(caddy, path)):
        assert time.monotonic() < deadline, f"Caddy logged no request for {path}"
        time.sleep(0.05)
    assert len(lines) == 1, lines
    return lines[0]


# Point 1: no request may take an instance out of rotation.


def test_a_burst_of_500s_takes_no_instance_out_of_rotation(proxied: Proxied) -> None:
    with httpx2.Client(base_url=proxied.caddy.base_url, timeout=10) as client:
        for _ in range(30):
            assert client.get("/boom").status_code == 500  # passed on as the instance said
        assert proxied.fails() == [0, 0, 0]
        path = _unique("after-the-burst")
        assert all(client.get(path).status_code == 200 for _ in range(30))
    # Still in rotation: each took its share (least_conn picks at random among idle ones).
    assert all(("GET", path) in stub.seen for stub in proxied.upstreams)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_the_client_abandons_reaches_no_instance_and_counts_no_failure(
    proxied: Proxied, framing: str
) -> None:
    path = _unique("abandoned")
    head = f"POST {path} HTTP/1.1\r\nHost: fichas\r\nContent-Type: application/json\r\n"
    if framing == "chunked":
        request = head + "Transfer-Encoding: chunked\r\n\r\n64\r\n" + "x" * 50
    else:
        request = head + "Content-Length: 1000\r\n\r\n" + "x" * 100
    _raw(proxied.caddy.config.listen, request.encode(), answer=False)
    assert _await_access_line(proxied.caddy, path)["status"] == 499
    assert proxied.reached(path) == 0
    assert proxied.fails() == [0, 0, 0]


# Point 2: a body over the limit is refused at the proxy, however it is framed.


@pytest.mark.parametrize("size", [LIMIT + 1, 100 * LIMIT])
def test_a_chunked_body_over_the_limit_is_a_413_before_any_instance(
    proxied: Proxied, size: int
) -> None:
    path = _unique("chunked")
    response = httpx2.post(proxied.caddy.base_url + path, content=_chunked(b"x" * size), timeout=10)
    body = assert_problem(response, 413, "proxy-413")
    assert body["instance"] == path
    assert proxied.reached(path) == 0
    assert proxied.fails() == [0, 0, 0]


def test_a_chunked_body_within_the_limit_is_passed_on(proxied: Proxied) -> None:
    path = _unique("chunked")
    response = httpx2.post(
        proxied.caddy.base_url + path, content=_chunked(b"x" * LIMIT), timeout=10
    )
    assert response.status_code == 200
    assert proxied.reached(path) == 1


# Point 8: the proxy's own answers are safe.

HOSTILE_PATHS = [
    '/metrics/"}, "status": 200, "x": "',
    "/metrics/a\\b",
    "/metrics/[[ .Req ]]",
    "/metrics/{http.request.uuid}",
    "/metrics/{env.HOME}",
    "/metrics/é<script>",
]
HOSTILE_IDS = ['a"b', "x" * 129, "two words", "{http.request.uuid}", "[[ .Req ]]", ""]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
@pytest.mark.parametrize("request_id", ["pc-7.req_1", *HOSTILE_IDS])
def test_proxy_problems_are_valid_json_whatever_the_path_or_id(
    proxied: Proxied, path: str, request_id: str
) -> None:
    headers = {"X-Request-ID": request_id} if request_id else {}
    response = httpx2.get(proxied.caddy.base_url + path, headers=headers, timeout=10)
    body = assert_problem(response, 404, "proxy-404")  # valid JSON, request_id as in the header
    assert body["instance"] == path
    assert SAFE_ID.match(body["request_id"])
    if request_id == "pc-7.req_1":
        assert body["request_id"] == request_id


@pytest.mark.parametrize(
    "sent",
    [["pc-7.req_1"], [], *[[hostile] for hostile in HOSTILE_IDS if hostile], ["pc-1", "pc-2"]],
)
def test_only_a_safe_request_id_is_kept_and_caddy_logs_the_one_passed_on(
    proxied: Proxied, sent: list[str]
) -> None:
    path = _unique("request-id")
    headers = [("X-Request-ID", value) for value in sent]
    response = httpx2.get(proxied.caddy.base_url + path, headers=headers, timeout=10)
    passed_on = response.text  # the upstream echoes the X-Request-ID it was given
    if sent == ["pc-7.req_1"]:
        assert passed_on == "pc-7.req_1"
    else:
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", passed_on
        )
    assert _await_access_line(proxied.caddy, path)["request_id"] == passed_on


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"POST /x HTTP/1.1\r\nHost: fichas\r\nContent-Length: 1x\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\nHost: fichas\r\nX-Big: " + b"a" * 2_000_000 + b"\r\n\r\n", 431),
        (b"GET /x HTTP/1.1\r\nHost: fichas\r\nHost: other\r\n\r\n", 400),
    ],
    ids=["bad-content-length", "huge-headers", "two-hosts"],
)
def test_requests_go_cannot_parse_are_answered_by_go_and_reach_no_instance(
    proxied: Proxied, raw: bytes, status: int
) -> None:
    # Go's HTTP server answers these before any Caddy handler runs: neither handle_errors nor
    # any directive can shape that answer (docs/OPERATIONS.md says so). Pinned here so that a
    # Caddy upgrade that changes it is noticed.
    answer = _raw(proxied.caddy.config.listen, raw, answer=True)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    assert b"Content-Type: text/plain; charset=utf-8" in head
    assert body.startswith(str(status).encode())
    assert proxied.reached("/x") == 0


# Point 9: nothing tells an outsider what runs behind the listener, unless asked to.


@pytest.mark.parametrize("debug_headers", [False, True])
def test_via_is_sent_only_with_debug_headers(tmp_path: Path, debug_headers: bool) -> None:
    with stubs(1, _answer) as upstreams:
        config = proxy_config([upstreams[0].address], debug_headers=debug_headers)
        with running_caddy(config, tmp_path) as caddy:
            response = httpx2.get(caddy.base_url + "/anything", timeout=10)
    assert response.status_code == 200
    assert ("via" in response.headers) is debug_headers
    assert "server" not in response.headers


# The same, with real instances behind the proxy.


@dataclass
class Cluster:
    caddy: Caddy
    instances: list[str]  # base URLs, on loopback
    logs: list[Path]
    token: str

    def instance_lines(self) -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for log in self.logs
            for line in log.read_text().splitlines()
            if line.startswith("{")
        ]

    def await_instance_lines(self, key: str, value: str) -> list[dict[str, Any]]:
        """The instances' lines whose ``key`` is ``value``, once there is one (an instance
        logs a request after answering it)."""
        deadline = time.monotonic() + 10
        while not (lines := [x for x in self.instance_lines() if x.get(key) == value]):
            assert time.monotonic() < deadline, f"no instance logged {key}={value}"
            time.sleep(0.05)
        return lines


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    data_dir = tmp_path_factory.mktemp("cluster")
    engine = migrated_engine(Settings(data_dir=data_dir))
    token = make_token(engine, "pc-security", ["read", "write"])
    engine.dispose()
    with ExitStack() as stack:
        logs = [data_dir / f"api-{n}.log" for n in (1, 2)]
        instances = [
            stack.enter_context(
                running_server(
                    {
                        "FICHAS_DATA_DIR": str(data_dir),
                        "FICHAS_LOG_LEVEL": "info",
                        "FICHAS_INSTANCE": f"api-{n}",
                    },
                    log,
                )
            )
            for n, log in enumerate(logs, start=1)
        ]
        upstreams = [url.removeprefix("http://") for url in instances]
        config = proxy_config(upstreams, max_body_bytes=Settings().max_body_bytes)
        caddy = stack.enter_context(running_caddy(config, data_dir / "caddy"))
        yield Cluster(caddy, instances, logs, token)


def test_requests_an_instance_fails_on_take_none_out_of_rotation(cluster: Cluster) -> None:
    headers = {"Authorization": f"Bearer {cluster.token}"}
    with httpx2.Client(base_url=cluster.caddy.base_url, headers=headers, timeout=10) as client:
        # An id Starlette's int convertor chokes on: a 500 before issue 17, a 404 after.
        statuses = {client.get("/clientes/" + "9" * 4301).status_code for _ in range(20)}
        assert statuses == {404}, statuses
        assert [u["fails"] for u in cluster.caddy.upstreams().values()] == [0, 0]
        assert all(client.get("/health").status_code == 200 for _ in range(20))


def test_caddy_and_the_api_log_the_same_request_id(cluster: Cluster) -> None:
    headers = {"Authorization": f"Bearer {cluster.token}"}
    for sent in ["pc-7.req-2", 'pc"7']:
        path = _unique("clientes")
        response = httpx2.get(
            cluster.caddy.base_url + path, headers={**headers, "X-Request-ID": sent}, timeout=10
        )
        assert response.status_code == 404
        request_id = response.headers["x-request-id"]
        assert (request_id == sent) is (sent == "pc-7.req-2")
        assert _await_access_line(cluster.caddy, path)["request_id"] == request_id
        api = cluster.await_instance_lines("path", path)
        assert [x["request_id"] for x in api] == [request_id]


def test_chunked_bodies_through_the_proxy(cluster: Cluster) -> None:
    headers = {"Authorization": f"Bearer {cluster.token}", "Content-Type": "application/json"}
    small = json.dumps({"nome": "Enviado em pedaços"}).encode()
    url = cluster.caddy.base_url + "/clientes"
    created = httpx2.post(url, content=_chunked(small), headers=headers, timeout=10)
    assert created.status_code == 201, created.text

    big = b'{"nome": "' + b"x" * Settings().max_body_bytes + b'"}'
    probe = f"/clientes?probe={uuid.uuid4().hex}"
    refused = httpx2.post(
        cluster.caddy.base_url + probe,
        content=_chunked(big),
        headers={**headers, "X-Request-ID": "too-big-1"},
        timeout=10,
    )
    assert_problem(refused, 413, "proxy-413")
    assert _await_access_line(cluster.caddy, probe)["status"] == 413  # Caddy is done with it
    assert not [x for x in cluster.instance_lines() if x.get("request_id") == "too-big-1"]


def test_a_client_leaving_mid_body_is_a_499_not_an_error(cluster: Cluster) -> None:
    # Straight to an instance: through the proxy, an abandoned body never reaches one.
    instance, log = cluster.instances[0], cluster.logs[0]
    path = "/clientes"
    before = log.read_text().count("\n")
    _raw(
        instance.removeprefix("http://"),
        f"POST {path} HTTP/1.1\r\nHost: fichas\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {cluster.token}\r\nX-Request-ID: leaves-early\r\n"
        f'Content-Length: 1000\r\n\r\n{{"nome": "'.encode(),
        answer=False,
    )
    mine = cluster.await_instance_lines("request_id", "leaves-early")
    assert [(x["logger"], x["level"], x["status"]) for x in mine] == [
        ("fichas.access", "INFO", 499)
    ]
    since = log.read_text().splitlines()[before:]
    assert not [x for x in since if '"ERROR"' in x or "Traceback" in x], since
    metrics = httpx2.get(f"{instance}/metrics", timeout=10).text
    counted = re.search(
        r'^fichas_http_requests_total\{method="POST",route="/clientes",status="499"\} (\S+)$',
        metrics,
        re.MULTILINE,
    )
    assert counted is not None, metrics
    assert float(counted[1]) == 1.0


def test_if_match_holds_the_etag_of_a_compressed_answer(cluster: Cluster) -> None:
    # Caddy's encode sends "x-gzip" for the API's "x"; the PC sends back what it was given.
    auth = {"Authorization": f"Bearer {cluster.token}"}
    with httpx2.Client(base_url=cluster.caddy.base_url, headers=auth, timeout=10) as client:
        cliente = client.post("/clientes", json={"nome": "Etag", "observacoes": "x" * 1500})
        path = f"/clientes/{cliente.json()['id']}"
        read = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert read.headers["content-encoding"] == "gzip"
        etag = read.headers["etag"]
        assert etag.endswith('-gzip"'), etag
        changed = client.patch(path, json={"nome": "Etag 2"}, headers={"If-Match": etag})
        assert changed.status_code == 200, changed.text
        stale = client.patch(path, json={"nome": "Etag 3"}, headers={"If-Match": etag})
        assert stale.status_code == 412, stale.text
