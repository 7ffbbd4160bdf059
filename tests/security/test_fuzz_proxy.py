"""Fuzzing through the proxy (issue 17's acceptance): 5,000 raw HTTP requests that hypothesis
builds from the API's own vocabulary and from garbage — methods real and made up, every route
with ids that can and cannot exist, query strings with repeats and bad escapes, forged and
malformed headers, bodies that are JSON, almost JSON or bytes — sent to a real ``fichas up``.

Asserted: none is answered 5xx (or not at all); ``/health`` keeps answering within a second
between them (no stall); and no instance ever had a failure counted against it by Caddy's
passive health checks. The examples are derandomized, so CI runs the same 5,000 each time; run
with ``FICHAS_TEST_FUZZ_RANDOM=1`` to explore new ones.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from urllib.parse import quote

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.test_cluster import Cluster, running_cluster
from tests.support import new_pedido

CASES = 5000
ROUTES = ("/", "/health", "/ready", "/openapi.json", "/clientes", "/producoes/tipos", "/pedidos",
          "/chaves", "/metrics", "/clientes/{id}", "/producoes/tipos/{id}", "/pedidos/{id}",
          "/pedidos/{id}/status", "/pedidos/{id}/eventos", "/pedidos/{id}/ficha",
          "/chaves/{id}")  # fmt: skip
PARAMS = ("limit", "cursor", "q", "cidade", "status", "cliente_id", "tipo_id", "prazo_de",
          "prazo_ate", "atrasado", "ativo")  # fmt: skip
METHODS = ("GET", "HEAD", "POST", "PATCH", "DELETE", "PUT", "OPTIONS", "TRACE", "FICHAS")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("fuzz"), "--instances", "3") as running:
        with running.client() as client:
            for _ in range(3):
                new_pedido(client)  # ids 1-3 exist, so some cases reach deep into the routes
        yield running


ids = st.one_of(
    st.integers(0, 5).map(str),
    st.integers(-(2**70), 2**70).map(str),
    st.integers(1, 6000).map(lambda n: "9" * n),
    st.text(max_size=30).map(lambda t: quote(t, safe="")),
)
text = st.text(max_size=60) | st.sampled_from(["%ff", "%00", "%", "'\"<>", "..", "\\u0000"])
paths = st.builds(
    lambda route, ident: route.replace("{id}", ident), st.sampled_from(ROUTES), ids
) | st.lists(text.map(lambda t: quote(t, safe="%")), max_size=4).map(lambda p: "/" + "/".join(p))
queries = st.lists(st.tuples(st.sampled_from(PARAMS) | text, text), max_size=4).map(
    lambda pairs: "&".join(f"{quote(k)}={quote(v, safe='%')}" for k, v in pairs)
)
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


@st.composite
def requests(draw: st.DrawFn, token: str) -> bytes:
    method = draw(st.sampled_from(METHODS))
    target = draw(paths) + (f"?{q}" if (q := draw(queries)) else "")
    headers = {"Host": draw(st.sampled_from(["fichas", "evil.example", "127.0.0.1:1"]))}
    auth = draw(st.sampled_from(["valid", "none", "guess", "garbage"]))
    if auth != "none":
        headers["Authorization"] = {
            "valid": f"Bearer {token}",
            "guess": f"Bearer fichas_{draw(header_values)}",
        }.get(auth, draw(header_values))
    for name in draw(st.sets(st.sampled_from(
        ["If-Match", "If-None-Match", "Idempotency-Key", "X-Request-ID", "X-Forwarded-For",
         "Content-Type", "Accept-Encoding", "Range", "Expect"]
    ), max_size=4)):  # fmt: skip
        headers[name] = draw(header_values)
    body = draw(
        st.just(b"")
        | json_values.map(lambda v: json.dumps(v).encode())
        | st.dictionaries(st.sampled_from(["nome", "cliente_id", "tipo_id", "descricao",
                                           "quantidade", "valor_unitario", "status", "escopos",
                                           "documento", "prazo", "ativo", "codigo"]),
                          json_values).map(lambda v: json.dumps(v).encode())
        | st.binary(max_size=300)
    )  # fmt: skip
    if body:
        headers.setdefault("Content-Type", "application/json")
        headers["Content-Length"] = str(len(body))
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1", errors="replace") + b"Connection: close\r\n\r\n" + body


def _status(port: int, request: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as connection:
        connection.sendall(request)
        line = connection.makefile("rb").readline()
    parts = line.split()
    return parts[1].decode() if len(parts) > 1 and line.startswith(b"HTTP/") else "no answer"


def _upstream_failures(cluster: Cluster) -> dict[str, int]:
    admin = cluster.status()["proxy"]["health_url"].removeprefix("http://").partition("/")[0]
    upstreams = httpx2.get(f"http://{admin}/reverse_proxy/upstreams", timeout=5).json()
    return {u["address"]: u["fails"] for u in upstreams}


def test_fuzzed_requests_through_the_proxy_get_no_server_error(cluster: Cluster) -> None:
    port = int(cluster.base_url.rpartition(":")[2])
    seen: dict[str, int] = {}
    failures: list[tuple[str, bytes]] = []

    @settings(
        max_examples=CASES,
        deadline=None,
        database=None,
        derandomize=not os.environ.get("FICHAS_TEST_FUZZ_RANDOM"),
        suppress_health_check=list(HealthCheck),
    )
    @given(request=requests(cluster.token))
    def one(request: bytes) -> None:
        status = _status(port, request)
        seen[status] = seen.get(status, 0) + 1
        if status.startswith("5") or status == "no answer":
            failures.append((status, request[:300]))
        if sum(seen.values()) % 100 == 0:  # no stall, no instance taken out, all along
            assert httpx2.get(f"{cluster.base_url}/health", timeout=1).status_code == 200
            assert set(_upstream_failures(cluster).values()) == {0}, seen

    one()
    assert sum(seen.values()) >= CASES, seen
    assert not failures, f"{len(failures)} failures, first: {failures[:5]}; all answers: {seen}"
    assert set(_upstream_failures(cluster).values()) == {0}
