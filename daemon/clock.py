"""The one clock: every "now" the engine and the TUI use comes from here.

Profile decay, exposure, alerts, the digest, "N days ago" and the index's timestamps all ask
this module, never ``datetime.now()``, so that a test, a snapshot or the screenshot script can
pin time. Two ways to pin it:

- in-process, pass ``now`` to the function that takes it (most do), or use ``pinned(...)``;
- across processes (the CLI, the daemon and its workers), set ``SHADOWLENS_NOW`` to an
  ISO-8601 time (``2025-05-04T12:00:30Z``; a time without an offset is UTC). The clock then
  stands still at that time, so everything a test asserts on is the same on any day.

Intervals (timeouts, rates, back-off, how long the worker pool has been idle) are not "now":
they use ``monotonic()`` here, which no pin touches.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import lru_cache

ENV_VAR = "SHADOWLENS_NOW"


class ClockError(ValueError):
    """``SHADOWLENS_NOW`` is set to something that is not a time."""


@lru_cache(maxsize=4)
def parse_pin(text: str) -> datetime:
    """An ISO-8601 time as an aware UTC datetime; a naive one is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ClockError(f"{ENV_VAR}={text!r} is not an ISO-8601 time (e.g. 2025-05-04T12:00:30Z)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now() -> datetime:
    """The current time, aware, in UTC."""
    pin = os.environ.get(ENV_VAR)
    return parse_pin(pin) if pin else datetime.now(UTC)


def monotonic() -> float:
    """Seconds on a clock that only moves forward, for intervals: never pinned, never set back."""
    return time.monotonic()


def utc_naive() -> datetime:
    """The current UTC time without tzinfo: how the index stores timestamps."""
    return now().replace(tzinfo=None)


def local_now() -> datetime:
    """The current wall time of this machine's zone, naive, as cameras write EXIF times."""
    return now().astimezone().replace(tzinfo=None)


def today() -> date:
    return local_now().date()


@contextmanager
def pinned(at: datetime) -> Iterator[datetime]:
    """Pin the clock (this process and the processes it starts) for the ``with`` block."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    previous = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = aware.isoformat()
    try:
        yield aware
    finally:
        if previous is None:
            os.environ.pop(ENV_VAR, None)
        else:
            os.environ[ENV_VAR] = previous
