"""A stand-in for the SMS/phone gateway Alertmanager's pager webhook points at: a loopback
HTTP server keeping every notification it receives (Alertmanager's webhook JSON)."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fichas.settings import Settings

Notification = dict[str, Any]


class Pager:
    def __init__(self, url: str, received: queue.Queue[Notification]) -> None:
        self.url = url
        self.received = received
        self.seen: list[Notification] = []

    def everything(self) -> list[Notification]:
        """Every notification received so far."""
        while not self.received.empty():
            self.seen.append(self.received.get())
        return self.seen

    def wait_for(self, wanted: Callable[[Notification], bool], timeout: float) -> Notification:
        """The first notification (kept or arriving within ``timeout`` s) that is ``wanted``."""
        deadline = time.monotonic() + timeout
        while True:
            for notification in self.seen:
                if wanted(notification):
                    return notification
            try:
                self.seen.append(self.received.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(
                    f"no such notification in {timeout} s; got {self.seen}"
                ) from None


@contextmanager
def running_pager() -> Iterator[Pager]:
    received: queue.Queue[Notification] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.put(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test says what it got; nothing for stderr

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Pager(f"http://127.0.0.1:{server.server_address[1]}/page", received)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def alert_settings(pager_url: str, **more: Any) -> Settings:
    """Settings that page ``pager_url`` and e-mail warnings through a port nobody listens on
    (``more``: other settings)."""
    receivers: dict[str, Any] = {
        "alert_pager_url": pager_url,
        "alert_email_to": "oncall@example.com",
        "alert_email_from": "alertmanager@example.com",
        "alert_smtp_smarthost": "127.0.0.1:9",
    }
    return Settings(**{**receivers, **more})
