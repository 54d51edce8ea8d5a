"""Progress of long operations on stderr: a live bar on a terminal, a line every few seconds elsewhere.

Either way the last line of each phase gives its count, time and rate, so a log of a piped run still tells
how fast it went. Progress never goes to stdout, which carries the command's result.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

_BAR = 30
_REDRAW = 0.1  # seconds between redraws of the bar
_LINE_EVERY = 5.0  # seconds between progress lines off a terminal


class NoProgress:
    def start(self, label: str, total: int | None) -> None:
        pass

    def advance(self, units: int) -> None:
        pass

    def finish(self) -> None:
        pass


class _Phase:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.label = ""
        self.total: int | None = None
        self.done = 0
        self.started = self.shown = time.monotonic()

    def start(self, label: str, total: int | None) -> None:
        self.label, self.total, self.done = label, total, 0
        self.started = self.shown = time.monotonic()

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def status(self) -> str:
        total = f"/{self.total:,}" if self.total else ""
        percent = f" {100 * self.done / self.total:5.1f}%" if self.total else ""
        return f"{self.label}:{percent} {self.done:,}{total} ({self.rate():,.0f}/s)"

    def summary(self) -> str:
        return f"{self.label}: {self.done:,} in {time.monotonic() - self.started:.2f} s ({self.rate():,.0f}/s)"


class TerminalProgress(_Phase):
    """A bar redrawn in place."""

    def advance(self, units: int) -> None:
        self.done += units
        now = time.monotonic()
        if now - self.shown >= _REDRAW:
            self.shown = now
            filled = int(_BAR * self.done / self.total) if self.total else 0
            bar = f"[{'#' * filled}{'.' * (_BAR - filled)}] " if self.total else ""
            self.stream.write(f"\r{bar}{self.status()}\x1b[K")
            self.stream.flush()

    def finish(self) -> None:
        self.stream.write(f"\r{self.summary()}\x1b[K\n")
        self.stream.flush()


class LineProgress(_Phase):
    """A status line every few seconds, and the summary at the end."""

    def advance(self, units: int) -> None:
        self.done += units
        now = time.monotonic()
        if now - self.shown >= _LINE_EVERY:
            self.shown = now
            self.stream.write(self.status() + "\n")
            self.stream.flush()

    def finish(self) -> None:
        self.stream.write(self.summary() + "\n")
        self.stream.flush()


def progress_for(quiet: bool, stream: TextIO | None = None) -> NoProgress | TerminalProgress | LineProgress:
    stream = stream or sys.stderr
    if quiet:
        return NoProgress()
    return TerminalProgress(stream) if stream.isatty() else LineProgress(stream)
