"""A front host's proxy (``fichas up --role front``): instances on other hosts are checked on
/ready, an answer of 503 or silence is tried elsewhere when that is safe, and the list of
instances is reloaded from its file without a request lost. Real Caddy, stub instances."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx2
import pytest

from proxy.caddy import ProxyConfig, write_config
from proxy.upstreams import UpstreamsWatcher, read_upstreams
from tests.proxy.support import Caddy, Stub, proxy_config, running_caddy, stubs


def _front(upstreams: list[str], **options: object) -> ProxyConfig:
    return proxy_config(upstreams, remote_upstreams=True, **options)


def _pedidos_seen(upstreams: list[Stub]) -> int:
    return sum(1 for stub in upstreams for seen in stub.seen if seen[1] == "/pedidos")


def test_the_front_config_passes_caddy_validate(tmp_path: Path) -> None:
    config = _front(["198.18.0.11:8001", "198.18.0.12:8001"])
    rendered = write_config(config, tmp_path / "Caddyfile").read_text()
    assert "health_uri /ready" in rendered
    assert "response_header_timeout 11s" in rendered


@pytest.mark.parametrize(
    ("method", "headers", "tries", "status"),
    [
        ("GET", {}, 2, 201),
        ("POST", {"Idempotency-Key": "k-1"}, 2, 201),  # deduplicated by the API: sent again
        ("POST", {}, 1, 503),  # an instance that sheds it did nothing, but the proxy cannot know
        ("PATCH", {"Idempotency-Key": "k-1"}, 1, 503),  # the API ignores the key on a PATCH
    ],
)
def test_an_answer_of_503_is_tried_on_another_instance_when_that_is_safe(
    tmp_path: Path, method: str, headers: dict[str, str], tries: int, status: int
) -> None:
    def unavailable_once(request: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        if request.path in ("/health", "/ready"):
            return 200, b""
        return (503 if _pedidos_seen(upstreams) == 1 else 201), b""

    with (
        stubs(2, unavailable_once) as upstreams,
        running_caddy(_front([stub.address for stub in upstreams]), tmp_path) as caddy,
    ):
        response = httpx2.request(
            method, f"{caddy.base_url}/pedidos", headers=headers, content=b"{}", timeout=10
        )
    assert response.status_code == status
    assert _pedidos_seen(upstreams) == tries


def test_a_request_to_a_host_gone_silent_is_tried_elsewhere(tmp_path: Path) -> None:
    gone = threading.Event()

    def silent_once(request: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        if request.path == "/pedidos" and _pedidos_seen(upstreams) == 1:
            gone.wait(30)  # no answer, as from a host whose link went down
        return 200, b"{}"

    with stubs(2, silent_once) as upstreams:
        config = _front([stub.address for stub in upstreams], response_timeout_seconds=1)
        with running_caddy(config, tmp_path) as caddy:
            try:
                response = httpx2.get(f"{caddy.base_url}/pedidos", timeout=10)
            finally:
                gone.set()
    assert response.status_code == 200  # from the other instance: the silent one never answered
    assert _pedidos_seen(upstreams) == 2


def test_an_instance_that_is_not_ready_leaves_the_rotation(tmp_path: Path) -> None:
    def ready_unless_first(request: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        unready = request.server is upstreams[0].server and request.path == "/ready"
        return (503 if unready else 200), b"{}"

    with (
        stubs(2, ready_unless_first) as upstreams,
        running_caddy(_front([stub.address for stub in upstreams]), tmp_path) as caddy,
    ):
        time.sleep(3)  # two failed checks, a second apart
        before = _pedidos_seen(upstreams[:1])
        answers = [httpx2.get(f"{caddy.base_url}/pedidos").status_code for _ in range(20)]
    assert answers == [200] * 20
    assert _pedidos_seen(upstreams[:1]) == before
    assert _pedidos_seen(upstreams[1:]) >= 20


def _load(caddy: Caddy, stop: threading.Event, statuses: list[int]) -> None:
    with httpx2.Client(base_url=caddy.base_url, timeout=10) as client:
        while not stop.is_set():
            statuses.append(client.get("/pedidos").status_code)


def test_the_instances_file_is_reloaded_and_no_request_is_lost(tmp_path: Path) -> None:
    def ok(request: BaseHTTPRequestHandler) -> tuple[int, bytes]:
        return 200, b"{}"

    with stubs(3, ok) as upstreams:
        listed = tmp_path / "upstreams.txt"
        listed.write_text(f"# app host 1\n{upstreams[0].address}\n")
        config = _front(read_upstreams(listed))
        with running_caddy(config, tmp_path / "caddy") as caddy:
            watcher = UpstreamsWatcher(listed, config, tmp_path / "caddy" / "Caddyfile")
            stop, statuses = threading.Event(), list[int]()
            loader = threading.Thread(target=_load, args=(caddy, stop, statuses))
            loader.start()
            try:
                for now in ([0, 1, 2], [1, 2], [2]):  # hosts added, then removed, under load
                    listed.write_text("".join(f"{upstreams[n].address}\n" for n in now))
                    watcher.reload()
                    counts = [_pedidos_seen([stub]) for stub in upstreams]
                    time.sleep(1)
                    grew = [_pedidos_seen([stub]) > counts[n] for n, stub in enumerate(upstreams)]
                    assert grew == [n in now for n in range(3)]
                listed.write_text("not an address\n")
                watcher.reload()  # refused: the proxy keeps what it has
                counts = [_pedidos_seen([stub]) for stub in upstreams]
                time.sleep(0.5)
            finally:
                stop.set()
                loader.join()
    assert _pedidos_seen(upstreams[2:]) > counts[2]
    assert len(statuses) > 100
    assert set(statuses) == {200}
    assert watcher.config.upstreams == [upstreams[2].address]
    assert upstreams[2].address in (tmp_path / "caddy" / "Caddyfile").read_text()
