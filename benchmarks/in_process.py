"""Calling an ASGI app in-process, and counting its instructions with callgrind, for benchmarks
that measure what the app alone does."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any


class InProcess:
    """Calls the ASGI app directly, on one event loop, with the app's lifespan around it.
    Not Starlette's TestClient: its hop to a portal thread per request would be counted too,
    and costs more than much of what is measured."""

    def __init__(self, app: Any, token: str) -> None:
        self.app, self.token = app, token
        self.loop = asyncio.new_event_loop()
        self.lifespan = app.router.lifespan_context(app)
        self.loop.run_until_complete(self.lifespan.__aenter__())

    def close(self) -> None:
        self.loop.run_until_complete(self.lifespan.__aexit__(None, None, None))
        self.loop.close()

    def call(self, method: str, url: str, body: Any = None, **headers: str) -> Any:
        path, _, query = url.partition("?")
        content = b"" if body is None else json.dumps(body).encode()
        headers = {"authorization": f"Bearer {self.token}", **headers}
        if body is not None:
            headers["content-type"] = "application/json"
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http",
            "method": method, "path": path, "raw_path": path.encode(), "root_path": "",
            "query_string": query.encode(), "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
            "headers": [(b"host", b"fichas"), (b"content-length", str(len(content)).encode())]
            + [(k.encode(), v.encode()) for k, v in headers.items()],
        }  # fmt: skip
        answer: dict[str, Any] = {"status": 0, "body": b""}
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:  # the app only asks again to learn of a disconnect
                await asyncio.Event().wait()
            delivered = True
            return {"type": "http.request", "body": content, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answer["body"] += message.get("body", b"")

        self.loop.run_until_complete(self.app(scope, receive, send))
        if answer["status"] >= 400:
            raise RuntimeError(f"{method} {url}: {answer['status']} {answer['body'][:200]!r}")
        return json.loads(answer["body"]) if answer["body"].startswith(b"{") else None


def counting(switch: str) -> None:
    """Switch callgrind's count "on" or "off" in this process, run under
    ``valgrind --tool=callgrind --instr-atstart=no``."""
    command = ["callgrind_control", "-i", switch, str(os.getpid())]
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603


def instructions_counted(out: Path) -> int:
    """What callgrind counted into ``out``: one dump per thread that ran counted code, each
    ending with its total."""
    return sum(
        int(match.group(1))
        for dump in out.parent.glob(f"{out.name}*")
        if (match := re.search(r"^totals: (\d+)", dump.read_text(), re.M))
    )
