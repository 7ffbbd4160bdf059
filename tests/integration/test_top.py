"""``fichas top`` in a real terminal: a cluster of two instances (with a Redis, for the cache)
under load, ``fichas top`` in a detached tmux pane of 80×24, the pane read back (``tmux
capture-pane``) until it shows the figures — the routes under load with their rates and no
5xx, both instances up and busy, Caddy and Litestream, breakers, the cache's hits, the backup
and the replica, the sparkline — then ``q`` quits it, and in a second run Ctrl+C, each with
exit status 0, nothing on stderr (no traceback) and the session gone.

The capture (with its colours) is drawn as a PNG too (``screenshot``): the one of
docs/OPERATIONS.md is this test's, after a minute and a half of a load growing by steps,
``TOP_SCREENSHOT=docs/img/fichas-top.png uv run pytest tests/integration/test_top.py``.
"""

from __future__ import annotations

import http.client
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from loadtest.orders import OrderWriters
from loadtest.target import Target, own_cluster, redis_server, temporary_keys

COLUMNS, LINES = 80, 24
SCREENSHOT = os.environ.get("TOP_SCREENSHOT")
NUMBER = r"(\d+\.\d)"
THINK = 0.02  # seconds between a reader's requests: each adds a step to the sparkline
ROUTES = (("GET", "/clientes"), ("GET", "/clientes/{id:id}"), ("POST", "/pedidos"))


class Readers:
    """Threads reading through Caddy, a request every ``THINK`` seconds and its answer, each
    with its own key (the limits are per key) and keep-alive connection, on the paths given,
    until ``stop()``."""

    def __init__(self, target: Target, keys: list[str]) -> None:
        self.address = urlsplit(target.url).netloc
        self.keys = keys
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def add(self, paths: Callable[[], str]) -> None:
        headers = {"Authorization": f"Bearer {self.keys[len(self.threads)]}"}
        thread = threading.Thread(target=self._read, args=(paths, headers))
        self.threads.append(thread)
        thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _read(self, paths: Callable[[], str], headers: dict[str, str]) -> None:
        connection = http.client.HTTPConnection(self.address, timeout=10)
        while not self.stopping.is_set():
            try:
                connection.request("GET", paths(), headers=headers)
                connection.getresponse().read()
            except (OSError, http.client.HTTPException):
                connection.close()  # reconnects at the next request
            self.stopping.wait(THINK)
        connection.close()


@contextmanager
def load(target: Target) -> Iterator[Readers]:
    """Lists of clientes and single ones (some absent: 404s, which are no errors) read, orders
    written; in screenshot mode more readers join, one every 15 s, for a minute and a half
    (fichas top watching from the start, its sparkline a staircase)."""
    with temporary_keys(target, "fichas-top", 7) as keys:
        readers = Readers(target, keys)
        writers = OrderWriters(target.url, target.admin_key, pcs=2, think=0.02).start()
        try:
            readers.add(lambda: "/clientes")
            readers.add(lambda: f"/clientes/{random.randint(1, 520)}")  # 500 exist
            if SCREENSHOT:
                for _ in range(5):
                    time.sleep(15)
                    readers.add(lambda: "/clientes")
                time.sleep(15)
            yield readers
        finally:
            readers.stop()
            writers.stop()


class Pane:
    """A tmux server of the test's own (its socket, no user configuration, no status line) with
    one session of ``COLUMNS``×``LINES`` running ``command``; ``close()`` kills it."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        tmux = shutil.which("tmux")
        if tmux is None:
            pytest.fail("tmux is needed to run fichas top in a real terminal: .ci/run installs it")
        config = directory / "tmux.conf"
        config.write_text("set -g status off\n")
        self.tmux = [tmux, "-f", str(config), "-L", f"fichas-top-{uuid.uuid4().hex[:12]}"]
        self.directory = directory
        self.env = env

    def run(self, command: str, name: str) -> None:
        self._tmux(
            "-u", "new-session", "-d", "-s", name, "-x", str(COLUMNS), "-y", str(LINES),
            "-c", str(self.directory), command,
        )  # fmt: skip
        size = self._tmux("display-message", "-p", "-t", name, "#{pane_width}x#{pane_height}")
        assert size.stdout.strip() == f"{COLUMNS}x{LINES}"

    def capture(self, name: str, colours: bool = False) -> str:
        return self._tmux("capture-pane", "-p", *(["-e"] if colours else []), "-t", name).stdout

    def keys(self, name: str, *keys: str) -> None:
        self._tmux("send-keys", "-t", name, *keys)

    def alive(self, name: str) -> bool:
        return self._tmux("has-session", "-t", name, check=False).returncode == 0

    def close(self) -> None:
        self._tmux("kill-server", check=False)  # no server left (the last session ended): fine

    def _tmux(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.tmux, *arguments], env=self.env, capture_output=True, text=True, check=check
        )


def top_command(directory: Path, run: str) -> str:
    """fichas top, its stderr and then its exit status kept in ``directory``."""
    python = shlex.quote(sys.executable)
    err, status = (shlex.quote(str(directory / f"{run}.{kind}")) for kind in ("err", "status"))
    return f"{python} -m fichas.cli top 2>{err}; echo $? >{status}"


def showing(pane: Pane, name: str, ready: Callable[[str], bool], seconds: float = 60) -> str:
    """The pane's text once ``ready`` says it shows what is wanted (the last one, else)."""
    deadline = time.monotonic() + seconds
    text = pane.capture(name)
    while not ready(text) and time.monotonic() < deadline:
        time.sleep(0.5)
        text = pane.capture(name)
    return text


def route(text: str, method: str, path: str) -> tuple[float, float] | None:
    """A route's line: requests per second and 5xx %."""
    pattern = rf"^{method}\s+{re.escape(path)}\s+{NUMBER}\s+{NUMBER}%\s+\S+ m?s\s+\S+ m?s\s*$"
    found = re.search(pattern, text, re.MULTILINE)
    return None if found is None else (float(found[1]), float(found[2]))


def complete(text: str) -> bool:
    """Enough scrapes made, and the backup at start taken, for every figure asserted."""
    return (
        all(route(text, *r) is not None for r in ROUTES)
        and "ago (every" in text
        and re.search(r"cache hits\s+\d+\.\d%", text) is not None
    )


def ended(pane: Pane, name: str, directory: Path, run: str, seconds: float = 10) -> str:
    """fichas top's exit status once its session is gone."""
    deadline = time.monotonic() + seconds
    status = directory / f"{run}.status"
    while (pane.alive(name) or not status.exists()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pane.alive(name), f"fichas top still runs:\n{pane.capture(name)}"
    return status.read_text().strip()


def test_fichas_top_in_an_80_by_24_terminal_against_a_cluster_under_load(tmp_path: Path) -> None:
    env = {**os.environ, "FICHAS_DATA_DIR": str(tmp_path), "LANG": "C.UTF-8"}
    for variable in ("TMUX", "COLUMNS", "LINES", "NO_COLOR", "FICHAS_DATABASE_URL"):
        env.pop(variable, None)  # the pane's own size and colours
    with (
        redis_server(tmp_path) as redis,
        own_cluster(tmp_path, 2, tmp_path / "cluster.log", redis) as target,
    ):
        pane = Pane(tmp_path, env)
        try:
            pane.run(top_command(tmp_path, "q"), "top")
            with load(target):
                text = showing(pane, "top", complete)
                picture = pane.capture("top", colours=True)
                (tmp_path / "pane.ansi").write_text(picture)  # for a look after a failure
                assert_figures(text, target)
                screenshot(picture, tmp_path / "fichas-top.png")
                if SCREENSHOT:
                    screenshot(picture, Path(SCREENSHOT))

                pane.keys("top", "q")
                assert ended(pane, "top", tmp_path, "q") == "0"
                assert (tmp_path / "q.err").read_text() == ""

                pane.run(top_command(tmp_path, "interrupted"), "interrupted")
                assert complete(showing(pane, "interrupted", complete))
                pane.keys("interrupted", "C-c")
                assert ended(pane, "interrupted", tmp_path, "interrupted") == "0"
                assert (tmp_path / "interrupted.err").read_text() == ""  # no traceback
        finally:
            pane.close()


def assert_figures(text: str, target: Target) -> None:
    lines = text.rstrip().splitlines()
    assert len(lines) <= LINES
    assert all(len(line) <= COLUMNS for line in lines)
    assert lines[0].startswith(f"fichas top  {target.url}"), text
    assert "q quits" in lines[0]
    for method, path in ROUTES:
        figures = route(text, method, path)
        assert figures is not None, f"no line for {method} {path}:\n{text}"
        per_second, errors = figures
        assert per_second > 0, text
        assert errors == 0, text  # the 404s of absent clientes are answers, not errors
    total = re.search(rf"^all routes\s+{NUMBER}\s+{NUMBER}%", text, re.MULTILINE)
    assert total is not None, text
    assert float(total[1]) > 0
    for instance in ("api-1", "api-2"):
        found = re.search(rf"^{instance}\s+up\s+0\s+\d+\s+{NUMBER}$", text, re.MULTILINE)
        assert found is not None, f"{instance} is not shown up:\n{text}"
        assert float(found[1]) > 0, text  # Caddy spreads the load over both
    assert "caddy up · litestream up" in text
    assert re.search(r"^breakers\s+all closed\s+cache hits\s+\d+\.\d%", text, re.M), text
    assert re.search(r"^last backup\s+\S+ ago \(every 1h00m\)", text, re.MULTILINE), text
    assert re.search(r"\sreplica\s+\d+\.\d s behind", text), text
    assert re.search(r"^\s+req/s\s+[▁▂▃▄▅▆▇█ ]*[▁▂▃▄▅▆▇█] max", lines[-1]), text


# The capture drawn: a dark terminal, the colours rich asks for (tmux's capture-pane -e SGR).
BACKGROUND, FOREGROUND = "#1d2026", "#d5d8de"
PALETTE = [
    "#1d2026", "#ef6b73", "#8cc570", "#e5c07b", "#61afef", "#c678dd", "#56b6c2", "#d5d8de",
    "#5c6370", "#ff8a91", "#a5e08a", "#f2d49b", "#82c4ff", "#dc9af0", "#7dd3dc", "#ffffff",
]  # fmt: skip
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def cells(captured: str) -> list[list[tuple[str, str, bool, bool]]]:
    """Each line's characters with their colour, bold and dim, from SGR escapes."""
    lines = []
    colour, bold, dim = FOREGROUND, False, False
    for raw in captured.splitlines()[:LINES]:
        line = []
        position = 0
        for found in [*SGR.finditer(raw), None]:
            end = len(raw) if found is None else found.start()
            line += [(c, colour, bold, dim) for c in raw[position:end]]
            if found is None:
                break
            position = found.end()
            codes = [int(c) if c else 0 for c in found[1].split(";")]
            while codes:
                code = codes.pop(0)
                if code == 0:
                    colour, bold, dim = FOREGROUND, False, False
                elif code == 1:
                    bold = True
                elif code == 2:
                    dim = True
                elif code == 22:
                    bold = dim = False
                elif 30 <= code <= 37 or 90 <= code <= 97:
                    colour = PALETTE[code - 30 if code < 90 else code - 82]
                elif code == 39:
                    colour = FOREGROUND
                elif code == 38 and codes[:1] == [5]:
                    index = codes[1]
                    colour = PALETTE[index] if index < 16 else FOREGROUND
                    codes = codes[2:]
                elif code == 38 and codes[:1] == [2]:
                    colour = "#{:02x}{:02x}{:02x}".format(*codes[1:4])
                    codes = codes[4:]
        lines.append(line)
    return lines


def screenshot(captured: str, path: Path) -> None:
    """The pane as a PNG, a character per cell of a monospace grid."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    cell_width, cell_height, margin = 0.11, 0.22, 0.25  # inches
    figure = Figure(
        figsize=(COLUMNS * cell_width + 2 * margin, LINES * cell_height + 2 * margin),
        facecolor=BACKGROUND,
    )
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    axes.set_xlim(-margin / cell_width, COLUMNS + margin / cell_width)
    axes.set_ylim(LINES + margin / cell_height, -margin / cell_height)
    # The pane's edge, faint: what 80×24 holds.
    edge = Rectangle((-0.5, -0.25), COLUMNS + 1, LINES + 0.5, fill=False, ec=PALETTE[8], lw=0.8)
    axes.add_patch(edge)
    for row, line in enumerate(cells(captured)):
        for column, (character, colour, bold, dim) in enumerate(line):
            if character.isspace():
                continue
            axes.text(
                column + 0.5, row + 0.75, character, color=colour, alpha=0.6 if dim else 1.0,
                fontfamily="DejaVu Sans Mono", fontsize=13, fontweight="bold" if bold else "normal",
                ha="center", va="baseline",
            )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150, facecolor=BACKGROUND)
    assert path.read_bytes().startswith(b"\x89PNG")
