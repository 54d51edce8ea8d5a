"""Where a process spends its time: py-spy sampling a running service process, summarised for the report.

py-spy attaches from outside, so the process runs unmodified (the profile is of what ``make up`` runs).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Leaf frames of a thread that is waiting, not working: left out so the shares are of the busy time.
_WAITING = ("Condition.wait", "Event.wait", "Queue.get", "EpollSelector.select", "select (", "poll.poll",
            "wait_poll", "_worker (concurrent", "sleep (", "Thread.join", "Lock.acquire", "notifies")


class Spy:
    """py-spy recording one process for a while (raw collapsed stacks); ``summary()`` after ``wait()``."""

    def __init__(self, pid: int, seconds: float, out: Path, rate: int = 100) -> None:
        self.out = out
        beside = Path(sys.executable).with_name("py-spy")  # installed into the venv by the bench extra
        self.executable = str(beside) if beside.exists() else shutil.which("py-spy")
        self.available = self.executable is not None
        self._process: subprocess.Popen[bytes] | None = None
        if self.available:
            self._process = subprocess.Popen(  # noqa: S603 - the profiler the bench extra pins
                [str(self.executable), "record", "--pid", str(pid), "--duration", str(int(max(1, seconds))), "--rate", str(rate),
                 "--format", "raw", "--output", str(out), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )

    def wait(self, timeout: float = 120) -> None:
        if self._process is not None:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.terminate()
                self._process.wait()

    def summary(self, top: int = 14) -> list[str]:
        if not self.available:
            return ["py-spy not installed (pip install -e '.[bench]')"]
        return summarise(self.out, top)


def summarise(raw: Path, top: int = 14) -> list[str]:
    """The frames with the largest share of busy samples (inclusive), project and library code only."""
    if not raw.exists():
        return ["no profile recorded (py-spy could not attach)"]
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    busy = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if any(marker in frames[-1] for marker in _WAITING):
            continue
        samples = int(count)
        busy += samples
        leaves[_short(frames[-1])] += samples
        for frame in {_short(f) for f in frames}:
            inclusive[frame] += samples
    if not busy:
        return ["no busy samples"]
    interesting = [(f, n) for f, n in inclusive.most_common()
                   if any(part in f for part in ("services/", "shared/", "eventsourcing/", "psycopg", "pydantic",
                                                 "faststream/", "aiokafka/", "sqlite3", "json", "copy", "fastapi/"))]
    lines = [f"{busy} busy samples; inclusive share of the busy time:"]
    lines += [f"{n / busy:6.1%}  {f}" for f, n in interesting[:top]]
    lines.append("self time (leaf frames):")
    lines += [f"{n / busy:6.1%}  {f}" for f, n in leaves.most_common(6)]
    return lines


def _short(frame: str) -> str:
    """``func (/long/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py:12)``."""
    name, _, where = frame.partition(" (")
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where}" if where else name
