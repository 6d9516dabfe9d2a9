"""Progress of the daemon's catch-up: the photos found waiting when it starts.

On a terminal it is a bar, as `shadowlens scan` draws; otherwise (under systemd, whose journal
reads stderr) it is a one-line status every ``[watch] progress_seconds``. Either way a last
line says when the daemon has caught up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO

import click
from shadowlens.daemon.wording import plural


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class CatchUp:
    """Counts finished photos against the queue; the caller feeds it times and queue lengths,
    so it reads no clock of its own."""

    def __init__(self, say: Callable[[str], None], interval: float, bar_stream: TextIO | None) -> None:
        self.say = say
        self.interval = interval
        # A terminal to draw a bar on, or None for status lines.
        self.bar_stream = bar_stream
        self.active = False
        self.done = self.errors = self.total = 0
        self.started = self.last_report = 0.0
        self._bar: Any = None

    def start(self, outstanding: int, now: float) -> None:
        """Begin, unless already under way, when ``outstanding`` photos wait in the queue."""
        if self.active or outstanding <= 0:
            return
        self.active = True
        self.done = self.errors = 0
        self.total = outstanding
        self.started = self.last_report = now
        if self.bar_stream is not None:
            bar = click.progressbar(
                length=outstanding, label="Catching up", file=self.bar_stream, show_pos=True
            )
            self._bar = bar.__enter__()

    def photo_done(self, error: bool) -> None:
        if not self.active:
            return
        self.done += 1
        self.errors += int(error)
        self.total = max(self.total, self.done)
        self._draw(1)

    def tick(self, outstanding: int, now: float, paused: bool = False) -> None:
        """With the queue's length (queued and running): grow the total, report, or finish."""
        if not self.active:
            return
        self.total = self.done + outstanding
        if outstanding == 0:
            self._end_bar()
            self.active = False
            elapsed = max(now - self.started, 1e-9)
            self.say(
                f"caught up: {plural(self.done, 'photo')} indexed, {plural(self.errors, 'error')} "
                f"in {duration(elapsed)} ({self.done / elapsed:.1f} photos/s)"
            )
            return
        if self._bar is not None:
            self._draw(0)
            return
        if now - self.last_report >= self.interval:
            self.last_report = now
            self.say(self.status_line(now, paused))

    def status_line(self, now: float, paused: bool = False) -> str:
        rate = self.done / max(now - self.started, 1e-9)
        tail = ", paused" if paused else ""
        return (
            f"indexed {self.done:,} of {plural(self.total, 'photo')}, {plural(self.errors, 'error')}, "
            f"{rate:.1f} photos/s{tail}"
        )

    def close(self) -> None:
        """On shutdown: the bar ends its line, so that what follows starts on a fresh one."""
        self._end_bar()
        self.active = False

    def _draw(self, steps: int) -> None:
        bar = self._bar
        if bar is None:
            return
        bar.length = self.total
        if steps:
            bar.update(steps)
        # The total grows as photos arrive, so "finished" (click keeps it once set) is re-decided.
        bar.finished = bar.pos >= bar.length
        if not steps:
            bar.render_progress()

    def _end_bar(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
