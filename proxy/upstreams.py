"""A front host's upstreams: the API instances on other hosts, listed in a file the operator
edits (one ``host:port`` a line; ``#`` comments). Read at the start, then whenever it changes,
and loaded into the running Caddy through its admin API: a graceful reload, in which requests
in flight finish where they were sent and new ones go to the new list (docs/ARCHITECTURE.md,
"Several hosts").

A file that cannot be used (a line that is no address, no address at all) changes nothing: the
proxy keeps the list it has, and the log says why, once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import urllib.error
import urllib.request
from pathlib import Path

from fichas.processes import host_and_port
from proxy.caddy import ProxyConfig

log = logging.getLogger("fichas.upstreams")

POLL_SECONDS = 1.0


class UpstreamsError(ValueError):
    """The upstreams file cannot be used; the message says where and why."""


def read_upstreams(path: Path) -> list[str]:
    """The addresses the file lists, in its order, each once."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise UpstreamsError(f"cannot read {path}: {exc.strerror or exc}") from None
    addresses = []
    for number, line in enumerate(text.splitlines(), start=1):
        address = line.partition("#")[0].strip()
        if not address:
            continue
        try:
            host_and_port(address)
        except ValueError as exc:
            raise UpstreamsError(f"{path}, line {number}: {address!r}: {exc}") from None
        addresses.append(address)
    if not addresses:
        raise UpstreamsError(f"{path} lists no instance (one host:port a line)")
    return list(dict.fromkeys(addresses))


def load_into_caddy(config: ProxyConfig, caddyfile: Path) -> None:
    """Have the running Caddy take ``config`` (it validates it first, and keeps its own if it
    refuses); then write it where a restarted Caddy reads it. UpstreamsError if refused."""
    rendered = config.render()
    request = urllib.request.Request(
        f"http://{config.admin}/load",
        data=rendered.encode(),
        headers={"Content-Type": "text/caddyfile"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - Caddy admin, loopback
            pass
    except urllib.error.HTTPError as exc:
        reason = exc.read().decode(errors="replace").strip()
        raise UpstreamsError(f"Caddy refused the new configuration: {reason}") from None
    except OSError as exc:
        raise UpstreamsError(f"Caddy's admin API did not answer: {exc}") from None
    temporary = caddyfile.with_suffix(".tmp")
    temporary.write_text(rendered)
    temporary.replace(caddyfile)


class UpstreamsWatcher:
    """Reloads the proxy when the upstreams file changes: a background job of the supervisor."""

    def __init__(self, path: Path, config: ProxyConfig, caddyfile: Path) -> None:
        self.path = path
        self.config = config
        self.caddyfile = caddyfile
        self._seen = self._content()

    def _content(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except OSError:
            return None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            content = self._content()
            if content == self._seen:
                continue
            self._seen = content  # a file that cannot be used is reported once, not each poll
            await asyncio.to_thread(self.reload)

    def reload(self) -> None:
        kept = ", ".join(self.config.upstreams)
        try:
            upstreams = read_upstreams(self.path)
            if upstreams == self.config.upstreams:
                return
            config = dataclasses.replace(self.config, upstreams=upstreams)
            load_into_caddy(config, self.caddyfile)
        except UpstreamsError as exc:
            log.error("%s; the proxy keeps its instances: %s", exc, kept)
            return
        self.config = config
        log.info("the proxy's instances are now: %s (were: %s)", ", ".join(upstreams), kept)
