"""A hostile and careless client beside the PCs: the ``hostile`` scenario's second party.

It speaks raw HTTP/1.1 over its own sockets, because what it sends is what well-behaved clients
(k6, httpx) refuse to send: ids of 4,301 digits, bad percent-escapes, bodies over the limit or
abandoned halfway, chunked bodies that never end, guessed tokens, two ``Authorization`` headers,
forged ``X-Request-ID``/``X-Forwarded-For``/``Host``, headers of 100 KB, a ``Content-Length``
that is not a number. Each attack opens a connection of its own from ``SOURCE`` (another
loopback address than the PCs', as an outsider's would be), sends, reads what comes back and
closes — or walks away mid-request, which is the point of some of them.

It paces itself (``rate`` attacks a second, a few in flight) rather than flooding: flooding
measures the machine's CPU, not whether one request can hurt the cluster. What each attack got
back is counted by status, so a run can show that none of them was answered with a 5xx.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import secrets
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

SOURCE = "127.0.0.66"  # loopback, yet not the PCs' 127.0.0.1: their limits are not its
TIMEOUT = 10.0  # seconds an attack waits for an answer before counting it as none
ABANDONED = "abandoned"  # attacks that walk away expect no answer

Send = Callable[["Connection"], Awaitable[str]]


@dataclass
class Connection:
    host: str
    port: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def request(self, head: str, body: bytes = b"") -> None:
        self.writer.write(head.encode("latin-1") + b"\r\n" + body)
        await self.writer.drain()

    async def status(self) -> str:
        """The status code of the answer, or "closed" when the peer hung up without one."""
        line = await asyncio.wait_for(self.reader.readline(), TIMEOUT)
        parts = line.split()
        return parts[1].decode() if len(parts) > 1 and line.startswith(b"HTTP/") else "closed"


def _head(method: str, target: str, *headers: str, host: str = "fichas") -> str:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: close", *headers]
    return "\r\n".join(lines) + "\r\n"


def _guess() -> str:
    return f"Authorization: Bearer fichas_{secrets.token_hex(4)}_{secrets.token_urlsafe(32)}"


async def huge_id(c: Connection) -> str:
    await c.request(_head("GET", f"/clientes/{'9' * 4301}", _guess()))
    return await c.status()


async def not_a_number(c: Connection) -> str:
    await c.request(_head("GET", "/pedidos/1e9/ficha", _guess()))
    return await c.status()


async def bad_escapes(c: Connection) -> str:
    await c.request(_head("GET", "/clientes?q=%ff%fe&cidade=%00&limit=1&limit=2", _guess()))
    return await c.status()


async def traversal(c: Connection) -> str:
    await c.request(_head("GET", "/producoes/tipos/../../../../etc/passwd", _guess()))
    return await c.status()


async def injected_path(c: Connection) -> str:
    # A quote and markup in the path and the request id: the proxy's own error page echoes both.
    rid = 'X-Request-ID: a","status":200,"x":"<script>'
    await c.request(_head("GET", "/metrics/%22%7D%3Cscript%3E", rid))
    return await c.status()


async def guessed_token(c: Connection) -> str:
    await c.request(_head("GET", "/pedidos?limit=1", _guess()))
    return await c.status()


async def two_authorizations(c: Connection) -> str:
    await c.request(_head("GET", "/clientes", _guess(), _guess()))
    return await c.status()


async def forged_headers(c: Connection) -> str:
    forged = ("X-Forwarded-For: 10.0.0.1, 127.0.0.1", "X-Served-By: api-9", "Via: 1.1 evil")
    await c.request(_head("GET", "/clientes/", *forged, _guess(), host="evil.example"))
    return await c.status()


async def huge_header(c: Connection) -> str:
    await c.request(_head("GET", "/health", f"X-Filler: {'a' * 100_000}"))
    return await c.status()


async def bad_content_length(c: Connection) -> str:
    await c.request(_head("POST", "/clientes", "Content-Length: twelve", _guess()), b"{}")
    return await c.status()


async def oversized_declared(c: Connection) -> str:
    head = _head("POST", "/clientes", "Content-Type: application/json",
                 "Content-Length: 50000000", _guess())  # fmt: skip
    await c.request(head)  # and not a byte of it: the answer must come from the length alone
    return await c.status()


async def oversized_chunked(c: Connection) -> str:
    head = _head("POST", "/clientes", "Content-Type: application/json",
                 "Transfer-Encoding: chunked", _guess())  # fmt: skip
    await c.request(head)
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b" " * 64 * 1024)
    try:
        for _ in range(40):  # 2.5 MiB, over any sane limit; the proxy may stop reading first
            c.writer.write(chunk)
            await c.writer.drain()
    except ConnectionError:
        pass
    return await c.status()


async def abandoned_body(c: Connection) -> str:
    head = _head("POST", "/pedidos", "Content-Type: application/json",
                 "Content-Length: 5000", _guess())  # fmt: skip
    await c.request(head, b'{"cliente_id": 1, "descricao": "')
    await asyncio.sleep(random.uniform(0.05, 0.5))
    return ABANDONED


async def slow_headers(c: Connection) -> str:
    for line in _head("GET", "/health").splitlines(keepends=True):
        c.writer.write(line.encode())
        await c.writer.drain()
        await asyncio.sleep(0.3)
    await c.request("")
    return await c.status()


async def bad_json(c: Connection) -> str:
    body = random.choice([b'{"nome": "a", "nome": "b"}', b"[" * 5000, b'{"nome": "\\ud800"}',
                          b'{"nome": 1e999}', b"\xff\xfe"])  # fmt: skip
    head = _head("POST", "/clientes", "Content-Type: application/json",
                 f"Content-Length: {len(body)}", _guess())  # fmt: skip
    await c.request(head, body)
    return await c.status()


ATTACKS: tuple[Send, ...] = (
    huge_id, not_a_number, bad_escapes, traversal, injected_path, guessed_token,
    two_authorizations, forged_headers, huge_header, bad_content_length, oversized_declared,
    oversized_chunked, abandoned_body, slow_headers, bad_json,
)  # fmt: skip


@dataclass
class Tally:
    """What the attacks got back: ``{attack: {status: count}}``."""

    answers: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, attack: str, status: str) -> None:
        self.answers.setdefault(attack, Counter())[status] += 1

    @property
    def sent(self) -> int:
        return sum(sum(c.values()) for c in self.answers.values())

    def server_errors(self) -> dict[str, int]:
        """Attacks answered 5xx (each one a bug: an outsider's input must not fail the server)."""
        return {
            f"{attack} {status}": count
            for attack, statuses in self.answers.items()
            for status, count in statuses.items()
            if status.startswith("5")
        }


class Attacker:
    """Runs the attacks in turn against ``url`` at ``rate`` a second, in a thread of its own,
    from ``start()`` until ``stop()``; ``tally`` says what they got back."""

    def __init__(self, url: str, rate: float = 40.0, in_flight: int = 16) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.rate, self.in_flight = rate, in_flight
        # Another loopback address than the PCs' when the target is on this machine; a remote
        # one is reached from wherever the route says.
        self._source = (SOURCE, 0) if self.host.startswith("127.") else None
        self.tally = Tally()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> Tally:
        self._stopping.set()
        self._thread.join(timeout=TIMEOUT + 5)
        return self.tally

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self.in_flight)
        tasks: set[asyncio.Task[None]] = set()
        for attack in itertools.cycle(ATTACKS):
            if self._stopping.is_set():
                break
            await slots.acquire()
            task = asyncio.create_task(self._one(attack, slots))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await asyncio.sleep(1 / self.rate)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _one(self, attack: Send, slots: asyncio.Semaphore) -> None:
        try:
            await self._attack(attack)
        finally:
            slots.release()

    async def _attack(self, attack: Send) -> None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, local_addr=self._source), TIMEOUT
            )
        except OSError:
            self.tally.add(attack.__name__, "refused")
            return
        try:
            status = await attack(Connection(self.host, self.port, reader, writer))
        except TimeoutError:
            status = "timeout"
        except (ConnectionError, asyncio.IncompleteReadError):
            status = "reset"
        finally:
            writer.close()
        self.tally.add(attack.__name__, status)


@contextmanager
def attacking(url: str | None) -> Iterator[Tally | None]:
    """The attacker on ``url`` for the length of the block (nobody when ``url`` is None); yields
    its tally, complete once the block is over."""
    if url is None:
        yield None
        return
    attacker = Attacker(url)
    attacker.start()
    try:
        yield attacker.tally
    finally:
        attacker.stop()
