"""What an alert says and when: the notification text, and burst batching.

A phone sync can drop hundreds of risky photos into the library within seconds; one desktop
notification per photo would bury the user, so alerts wait until the burst is over and then come
out as one summary. Everything here works on masked values the caller prepared: the text is built
only from the notice's path basename, score and reasons, never from anything else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from shadowlens.daemon.fsnames import shown
from shadowlens.daemon.wording import plural

CRITICAL_SCORE = 80
MAX_REASONS_SHOWN = 4
SUMMARY_TOP = 3
SINGLE_TITLE = "Risky new photo"


@dataclass(frozen=True)
class AlertNotice:
    """One alert as delivery sees it. Holds masked values only: never a raw personal value."""

    alert_id: int
    photo_id: int
    path: str
    score: int
    reasons: list[str]  # plain words with points, e.g. "GPS within 200 m of your home (+40)"


@dataclass(frozen=True)
class Notification:
    title: str
    body: str
    alert_ids: list[int]
    open_path: str | None  # photo to open from the notification's action; None for a summary
    urgency: int  # 1 normal, 2 critical (score >= 80)


def _urgency(score: int) -> int:
    return 2 if score >= CRITICAL_SCORE else 1


def single_notification(notice: AlertNotice) -> Notification:
    # The basename only: the folders above it often carry the user's name.
    lines = [
        f"Exposure {notice.score}/100: {shown(PurePath(notice.path).name)}",
        *notice.reasons[:MAX_REASONS_SHOWN],
    ]
    return Notification(
        title=SINGLE_TITLE,
        body="\n".join(lines),
        alert_ids=[notice.alert_id],
        open_path=notice.path,
        urgency=_urgency(notice.score),
    )


def summary_notification(notices: Sequence[AlertNotice]) -> Notification:
    # sorted() is stable, so equal scores keep their arrival order.
    top = sorted(notices, key=lambda notice: notice.score, reverse=True)[:SUMMARY_TOP]
    lines = [f"{shown(PurePath(notice.path).name)} ({notice.score})" for notice in top]
    return Notification(
        title=f"{plural(len(notices), 'risky photo')} arrived",
        body="\n".join([*lines, "Open shadowlens to review them"]),
        alert_ids=[notice.alert_id for notice in notices],
        open_path=None,
        urgency=_urgency(max(notice.score for notice in notices)),
    )


class AlertBatcher:
    """Turns a stream of alerts into few notifications: a sync dump of 500 risky photos is one summary."""

    def __init__(
        self,
        quiet_seconds: float = 5.0,
        max_wait_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet_seconds = quiet_seconds
        self.max_wait_seconds = max_wait_seconds
        self._clock = clock
        # Keyed by alert id so an alert re-raised during the burst is told once, with its latest values.
        self._pending: dict[int, AlertNotice] = {}
        self._first_at = 0.0
        self._last_at = 0.0
        # The pipeline adds from worker threads while the delivery loop polls due().
        self._lock = threading.Lock()

    def add(self, notice: AlertNotice) -> None:
        with self._lock:
            now = self._clock()
            if not self._pending:
                self._first_at = now
            self._last_at = now
            self._pending.pop(notice.alert_id, None)
            self._pending[notice.alert_id] = notice

    def due(self) -> list[Notification]:
        """Nothing until the burst is over (quiet for quiet_seconds, or max_wait_seconds old), then all of it."""
        with self._lock:
            if not self._pending:
                return []
            now = self._clock()
            quiet = now - self._last_at >= self.quiet_seconds
            # A steady trickle never goes quiet; the cap keeps the first alert from waiting forever.
            overdue = now - self._first_at >= self.max_wait_seconds
            return self._drain() if quiet or overdue else []

    def flush(self) -> list[Notification]:
        """Everything pending, now (at shutdown)."""
        with self._lock:
            return self._drain()

    def _drain(self) -> list[Notification]:
        notices = list(self._pending.values())
        self._pending.clear()
        if not notices:
            return []
        if len(notices) == 1:
            return [single_notification(notices[0])]
        return [summary_notification(notices)]
