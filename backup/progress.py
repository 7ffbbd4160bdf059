"""A one-line progress bar on a terminal, nothing otherwise.

Hand-written: a bar for two loops (compressing, decompressing) is a dozen lines, less than a
dependency such as tqdm would bring.
"""

from __future__ import annotations

import sys
from types import TracebackType

WIDTH = 30


class Progress:
    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.shown = sys.stderr.isatty() and total > 0

    def advance(self, amount: int) -> None:
        self.done += amount
        if self.shown:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * WIDTH)
            sys.stderr.write(f"\r{self.label} [{bar:<{WIDTH}}] {share:4.0%}")
            sys.stderr.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.shown:
            sys.stderr.write("\n")
