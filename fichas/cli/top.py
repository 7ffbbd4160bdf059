"""``fichas top [--interval SECONDS] [--once]``: the running cluster live in the terminal, from the
processes' own ``/metrics`` (the supervisor's file-SD targets; no Prometheus needed), refreshed
every second — per route requests per second, 5xx share, p50 and p99; each process up, its
restarts, an instance's requests in flight; breakers, cache, rate limits, shedding; the backup's
age and the replica's lag; requests per second over the last five minutes.

Fits 80×24 (what an SSH session opens): the routes get the lines the rest leaves. ``q`` or
Ctrl+C quits, the terminal as it was. When stdout is not a terminal, or with ``--once``, it
prints one frame (its rates over one interval) and exits. The figures: observability/figures.py.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import RenderableType

    from observability.figures import Figures, Process
    from observability.scrape import Scrape

SPAN = 300.0  # seconds of requests per second the sparkline shows
SPARKS = "▁▂▃▄▅▆▇█"
SLO_P99 = 0.25  # seconds: 99 % of requests within 250 ms (alerting/SLO.md)
REPLICATION_LAG_ALERT = 30.0  # seconds: FichasReplicationLagging (alerting/rules/backups.yml)
# The lines around the routes and the instances: title; routes' rule, header and total;
# processes' rule, header and the line of the others; three of health and backups under their
# rule; the sparkline under its own.
FIXED_LINES = 13
SPARK_LABEL = 12  # columns left of the sparkline, and right of it for its maximum


def register(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = verbs.add_parser(
        "top", help="watch the running cluster live: routes, instances, backups (q quits)"
    )
    parser.add_argument(
        "--interval",
        type=_seconds,
        default=1.0,
        metavar="SECONDS",
        help="seconds between refreshes (default 1)",
    )
    parser.add_argument(
        "--once", action="store_true", help="print one frame and exit (so when not a terminal)"
    )
    parser.set_defaults(run=run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0.1 <= value <= 3600:  # nan and inf fail this too
        raise argparse.ArgumentTypeError(f"{text!r}: seconds from 0.1 to 3600, e.g. 1 or 2.5")
    return value


def run(args: argparse.Namespace) -> int:
    from fichas.cli.running import status_file

    if (status := status_file()) is None:
        return 1
    try:
        if args.once or not sys.stdout.isatty():
            _once(status, args.interval)
        else:
            _live(status, args.interval)
    except KeyboardInterrupt:  # Ctrl+C is how one may quit: no traceback
        pass
    return 0


def _once(status: Path, interval: float) -> None:
    from rich.console import Console

    from observability.figures import History

    console = Console(highlight=False)
    history = History(span=SPAN)
    for n in range(2):  # a rate takes two scrapes
        if n:
            time.sleep(interval)
        history.add(_scrape(status))
    figures = history.figures(_spark_width(console.width))
    console.print(frame(figures, _title(status), console.width, None))


def _live(status: Path, interval: float) -> None:
    from rich.console import Console
    from rich.live import Live

    from observability.figures import History

    # Stopped by a signal (kill), it leaves as by q: the terminal given back as it was.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    console = Console(highlight=False)
    history = History(span=SPAN)
    with _keys() as pressed_q, Live(console=console, screen=True, auto_refresh=False) as live:
        while True:
            started = time.monotonic()
            history.add(_scrape(status))
            width, height = console.size
            figures = history.figures(_spark_width(width))
            live.update(frame(figures, _title(status), width, height, "q quits"), refresh=True)
            if pressed_q(started + interval - time.monotonic()):
                return


def _scrape(status: Path) -> Scrape:
    from observability.scrape import read_targets, scrape
    from proxy.supervisor import targets_beside

    return scrape(read_targets(targets_beside(status)))


def _title(status: Path) -> str:
    import json

    try:
        url = json.loads(status.read_text())["url"]
    except (OSError, ValueError, KeyError):
        return "no cluster is running now"
    return f"{url}  {time.strftime('%H:%M:%S')}"


@contextmanager
def _keys() -> Iterator[Callable[[float], bool]]:
    """A function waiting up to so many seconds for ``q``, True when it came. The terminal reads
    each key as typed, unechoed, while it is in use (Ctrl+C still interrupts), and is given back
    as it was. Without a terminal on stdin, it only waits."""
    if not sys.stdin.isatty():

        def wait(seconds: float) -> bool:
            time.sleep(max(0.0, seconds))
            return False

        yield wait
        return
    import select
    import termios
    import tty

    descriptor = sys.stdin.fileno()
    saved = termios.tcgetattr(descriptor)
    tty.setcbreak(descriptor)

    def pressed_q(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:  # looks at least once, late as the refresh may be
            left = max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([descriptor], [], [], left)
            if readable and b"q" in os.read(descriptor, 64).lower():
                return True
            if time.monotonic() >= deadline:
                return False

    try:
        yield pressed_q
    finally:
        termios.tcsetattr(descriptor, termios.TCSADRAIN, saved)


def _spark_width(width: int) -> int:
    return max(10, width - 2 * SPARK_LABEL)


def frame(
    figures: Figures, title: str, width: int, height: int | None, hint: str = ""
) -> RenderableType:
    """One screen of ``figures``, ``width`` columns wide and at most ``height`` lines high (the
    busiest routes that fit; all of them when None); ``hint`` dim after the title."""
    from rich.console import Group
    from rich.rule import Rule
    from rich.text import Text

    instances = [p for p in figures.processes if p.instance]
    room = None if height is None else max(1, height - FIXED_LINES - len(instances))
    window = f"last {figures.seconds:.0f} s" if figures.seconds else "waiting for a 2nd scrape"
    header = Text.assemble(("fichas top", "bold"), "  ", title)
    header.append(f"  {hint}" if hint else "", "dim")
    header.truncate(width, overflow="ellipsis")
    return Group(
        header,
        Rule(f"routes, {window}", style="dim", align="left"),
        _routes(figures, room),
        Rule("processes", style="dim", align="left"),
        _processes(instances),
        _others([p for p in figures.processes if not p.instance], figures.supervisor_answered),
        Rule("resilience and backups", style="dim", align="left"),
        _health(figures),
        Rule(f"requests per second, last {SPAN / 60:.0f} min", style="dim", align="left"),
        _sparkline(figures.history),
    )


def _routes(figures: Figures, room: int | None) -> RenderableType:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, expand=True, header_style="bold")
    table.add_column("route", ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column("req/s", justify="right", min_width=7)
    table.add_column("5xx", justify="right", min_width=6)
    table.add_column("p50", justify="right", min_width=8)
    table.add_column("p99", justify="right", min_width=8)
    routes = figures.routes
    if room is not None and len(routes) > room:
        shown, hidden = routes[: room - 1], routes[room - 1 :]
    else:
        shown, hidden = routes, []
    for route in shown:
        table.add_row(
            f"{route.method:<6} {route.route}",
            f"{route.per_second:.1f}",
            _share(route.errors),
            _latency(route.p50),
            _latency(route.p99, SLO_P99),
        )
    if hidden:
        rest = sum(r.per_second for r in hidden)
        table.add_row(f"[dim]… {len(hidden)} more routes[/]", f"[dim]{rest:.1f}[/]")
    if not routes:
        table.add_row("[dim]no requests[/]")
    table.add_row(
        "[bold]all routes[/]",
        "[bold]-[/]" if figures.per_second is None else f"[bold]{figures.per_second:.1f}[/]",
        _share(figures.errors),
    )
    return table


def _processes(instances: list[Process]) -> RenderableType:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("instance", min_width=12)
    table.add_column("state", min_width=10)
    table.add_column("restarts", justify="right")
    table.add_column("in flight", justify="right")
    table.add_column("req/s", justify="right", min_width=9)
    for p in instances:
        table.add_row(
            p.name,
            _state(p),
            _number(p.restarts, restarted=True),
            "-" if p.in_flight is None else f"{p.in_flight:.0f}",
            "-" if p.per_second is None else f"{p.per_second:.1f}",
        )
    return table


def _state(process: Process) -> str:
    if not process.up:
        return "[bold red]down[/]"
    if process.instance and process.in_flight is None:
        return "[yellow]no metrics[/]"
    return "[green]up[/]"


def _others(others: list[Process], supervisor_answered: bool) -> RenderableType:
    from rich.text import Text

    line = Text(no_wrap=True, overflow="ellipsis")
    if not supervisor_answered:
        line.append("the supervisor's /metrics does not answer", "bold red")
    for n, p in enumerate(others):
        line.append(" · " if n else "")
        line.append(p.name)
        line.append(" ")
        line.append_text(Text.from_markup(_state(p)))
        if p.restarts:
            line.append(f" ({p.restarts} restarts)", "yellow")
    return line


def _health(figures: Figures) -> RenderableType:
    """Breakers and cache; requests refused; backups and the replica: a label and its figure,
    twice a line."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2), expand=True)
    grid.add_column(style="bold", no_wrap=True, min_width=len("rate-limited"))
    grid.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
    grid.add_column(style="bold", no_wrap=True, min_width=len("shed, timed out"))
    grid.add_column(no_wrap=True, min_width=len("99.9 s behind"))
    if figures.breakers:
        breakers = Text(", ".join(figures.breakers), "bold red")
    else:
        breakers = Text("all closed", "green")
    ratio = figures.cache_hit_ratio
    grid.add_row("breakers", breakers, "cache hits", "-" if ratio is None else f"{ratio:.1%}")
    grid.add_row(
        "rate-limited",
        _rate(figures.rate_limited),
        "shed, timed out",
        f"{_rate(figures.shed)}, {_rate(figures.timeouts)}",
    )
    grid.add_row("last backup", _backup(figures), "replica", _replica(figures))
    return grid


def _backup(figures: Figures) -> str:
    if not figures.supervisor_answered:
        return "[yellow]not known[/]"
    if figures.backup_age is None:
        text = "[yellow]none yet[/]"
    else:
        text = f"{_age(figures.backup_age)} ago"
        if figures.backup_interval and figures.backup_age > 2 * figures.backup_interval:
            text = f"[bold red]{text}[/]"  # FichasBackupStale (alerting/rules/backups.yml)
    if figures.backup_interval:
        text += f" (every {_age(figures.backup_interval)})"
    if figures.backup_failures:
        text += f", [bold red]{figures.backup_failures:.0f} failed[/]"
    return text


def _replica(figures: Figures) -> str:
    if not figures.supervisor_answered:
        return "[yellow]not known[/]"
    if figures.replica_readable is False:
        return "[bold red]unreadable[/]"
    if figures.replication_lag is None:
        return "[dim]not replicating[/]"
    text = f"{figures.replication_lag:.1f} s behind"
    return f"[bold red]{text}[/]" if figures.replication_lag > REPLICATION_LAG_ALERT else text


def _sparkline(history: list[float | None]) -> RenderableType:
    from rich.text import Text

    known = [v for v in history if v is not None]
    top = max(known, default=0.0)
    line = Text(f"{'req/s':>{SPARK_LABEL - 1}} ", no_wrap=True)
    for value in history:
        if value is None:
            line.append(" ")
        else:
            level = round(value / top * (len(SPARKS) - 1)) if top else 0
            line.append(SPARKS[level], "cyan")
    line.append(f" max {top:.1f}" if known else "", "dim")
    return line


def _share(share: float | None) -> str:
    if share is None:
        return "-"
    text = f"{share:.1%}"
    return f"[bold red]{text}[/]" if share >= 0.01 else f"[yellow]{text}[/]" if share else text


def _latency(seconds: float | None, bound: float | None = None) -> str:
    if seconds is None:
        return "-"
    if seconds < 0.01:
        text = f"{seconds * 1000:.1f} ms"
    elif seconds < 1:
        text = f"{seconds * 1000:.0f} ms"
    else:
        text = f"{seconds:.2f} s"
    return f"[bold red]{text}[/]" if bound is not None and seconds > bound else text


def _rate(per_second: float | None) -> str:
    if per_second is None:
        return "-"
    return f"[yellow]{per_second:.1f}/s[/]" if per_second else "0/s"


def _number(value: int | None, restarted: bool = False) -> str:
    if value is None:
        return "-"
    return f"[yellow]{value}[/]" if restarted and value else str(value)


def _age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
