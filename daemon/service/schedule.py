"""The profile's part of the daemon: per-photo updates, scheduled rebuilds, alerts, the digest.

APScheduler only raises flags; the daemon's main loop does the work in ``tick``, so the
in-memory face matrices and the index are touched from one thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from shadowlens.daemon import clock
from shadowlens.daemon.alerts.batching import Notification
from shadowlens.daemon.alerts.delivery import AlertDelivery
from shadowlens.daemon.analysis.results import AnalysisResult
from shadowlens.daemon.config import Config
from shadowlens.daemon.index.schema import Alert, DaemonState, Photo
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.profile.stored import claims_of
from shadowlens.daemon.profile.updater import ProfileUpdater
from shadowlens.daemon.wording import backing, plural
from shadowlens.models.sessions import release_heap
from sqlalchemy import func, select

log = logging.getLogger(__name__)
DIGEST_KEY = "digest"
DIGEST_STATEMENTS = 4


class ProfileJobs:
    def __init__(self, store: Store, config: Config, delivery: AlertDelivery | None = None) -> None:
        self.store, self.config = store, config
        self.delivery = delivery or AlertDelivery(config.alerts, store)
        self.updater = ProfileUpdater(store, config, on_alert=self.delivery.add)
        self.refresh_due = threading.Event()
        self.recluster_due = threading.Event()
        self.digest_due = threading.Event()
        self.catch_up_due = threading.Event()

    def start(self, scheduler: BaseScheduler) -> None:
        settings = self.config.profile
        hour, minute = (int(x) for x in settings.recluster_at.split(":"))
        d_hour, d_minute = (int(x) for x in settings.digest_at.split(":"))
        scheduler.add_job(self.refresh_due.set, "interval", minutes=settings.refresh_minutes, id="profile")
        scheduler.add_job(self.recluster_due.set, "cron", hour=hour, minute=minute, id="recluster")
        scheduler.add_job(
            self.digest_due.set,
            "cron",
            day_of_week=settings.digest_weekday - 1,
            hour=d_hour,
            minute=d_minute,
            id="digest",
        )
        # Photos analysed while no daemon ran: done on the first tick, so start-up (and READY)
        # never waits for a rebuild of a large profile.
        self.catch_up_due.set()

    def photo_done(self, result: AnalysisResult | None) -> None:
        if result is None or result.linked or result.file_error or result.skipped or result.sha256 is None:
            return
        sha256 = result.sha256
        self._guard(f"profile update of {result.path}", lambda: self._photo(sha256))

    def _photo(self, sha256: str) -> None:
        with self.store.transaction() as session:
            photo_id = session.scalar(
                select(Photo.id).where(Photo.sha256 == sha256, Photo.status == "indexed")
            )
        if photo_id is not None:
            self.updater.photo_indexed(photo_id)

    def tick(self) -> None:
        if self.catch_up_due.is_set():
            self.catch_up_due.clear()
            self._guard("catch up", lambda: self.updater.catch_up(alert=True))
        self.delivery.pump()
        if self.recluster_due.is_set():
            self.recluster_due.clear()
            self._guard("re-cluster", self.updater.recluster)
            self.refresh_due.set()
        if self.refresh_due.is_set():
            self.refresh_due.clear()
            self._guard("profile refresh", self._refresh)
            # A rebuild reads every photo's facts; the daemon may then idle for hours, so the
            # freed heap goes back to the system rather than stay in its RSS.
            release_heap()
        if self.digest_due.is_set():
            self.digest_due.clear()
            self._guard("weekly digest", self.digest)

    def _refresh(self) -> None:
        # A decision made in the TUI with no photo arriving since (a new owner, a child mark)
        # still reaches the stored profile and the scores within refresh_minutes.
        self.updater.sync()
        self.updater.refresh()

    def stop(self) -> None:
        self._guard("alert delivery", self.delivery.close)

    def digest(self, now: datetime | None = None) -> Notification:
        """What the photos revealed this week, as one notification (and a log line)."""
        now = now or clock.local_now()
        since = now - timedelta(days=7)
        with self.store.transaction() as session:
            photos = (
                session.scalar(select(func.count()).select_from(Photo).where(Photo.analysed_at >= since)) or 0
            )
            risky = (
                session.scalar(select(func.count()).select_from(Alert).where(Alert.created_at >= since)) or 0
            )
            snapshot = session.get(DaemonState, "profile")
            last = session.get(DaemonState, DIGEST_KEY)
        profile = snapshot.value if snapshot else {}
        told = {(c.get("id"), c.get("text")) for c in (last.value.get("claims") or [])} if last else set()
        claims = claims_of(profile)
        lines = [f"{plural(photos, 'new photo')} analysed, {risky} risky."]
        lines += digest_lines(claims, told)
        notification = Notification("What your photos revealed this week", "\n".join(lines), [], None, 1)
        log.info("weekly digest: %s", " ".join(lines))
        said = [{"id": c["id"], "text": c["text"]} for c in claims]
        self.store.profile.save_profile_part(
            DIGEST_KEY, {"at": now.isoformat(), "lines": lines, "claims": said}
        )
        if self.config.alerts.desktop and self.delivery.desktop_available():
            self.delivery.notifier.send(notification)
        return notification

    @staticmethod
    def _guard(what: str, action: Callable[[], object]) -> None:
        """Profile work must never stop the daemon: a failure is logged and retried next time."""
        try:
            action()
        except Exception:
            log.exception("%s failed; the daemon goes on", what)


def digest_lines(claims: list[dict[str, Any]], told: set[tuple[Any, Any]]) -> list[str]:
    """The statements the last digest did not make (new, or changed: "3 iPhones" became "4"),
    most confident first; a week that changed nothing says so rather than repeat the profile."""
    new = [c for c in claims if (c.get("id"), c.get("text")) not in told]
    if not new:
        return ["Nothing new in your profile this week."] if claims else []
    ranked = sorted(new, key=lambda c: -(c.get("confidence") or 0))[:DIGEST_STATEMENTS]
    more = len(new) - len(ranked)
    lines = [f"{'New: ' if told else ''}{c['text']} ({backing(c)})" for c in ranked]
    if more:
        lines.append(f"and {plural(more, 'more statement')}: `shadowlens profile`")
    return lines
