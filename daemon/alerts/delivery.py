"""Delivers raised alerts: batched desktop notifications, the optional hook, and the log.

No D-Bus session (a headless server) is not an error: the alert is already stored and logged,
and delivery says once why no notification appears.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Callable

from shadowlens.daemon.alerts.batching import AlertBatcher, AlertNotice, Notification
from shadowlens.daemon.alerts.notify import NOT_SHOWN, DesktopNotifier, notification_payload, run_hook
from shadowlens.daemon.config import AlertSettings
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.profile.updater import RaisedAlert
from shadowlens.daemon.wording import plural

log = logging.getLogger(__name__)
RECONNECT_SECONDS = 60.0
TERMINALS = ("xdg-terminal-exec", "x-terminal-emulator", "gnome-terminal", "konsole", "xterm")


def open_in_tui(path: str | None, _alert_ids: list[int]) -> None:
    """The notification's action: the TUI on that photo (or on the alerts), in a new terminal."""
    command = ["shadowlens", "tui"] + (["--photo", path] if path else ["--screen", "alerts"])
    for terminal in TERMINALS:
        found = shutil.which(terminal)
        if found:
            separator = (
                ["--"]
                if terminal == "gnome-terminal"
                else ([] if terminal == "xdg-terminal-exec" else ["-e"])
            )
            subprocess.Popen([found, *separator, *command], start_new_session=True)
            return
    log.info("no terminal emulator found; open it with: %s", " ".join(command))


class AlertDelivery:
    def __init__(
        self,
        settings: AlertSettings,
        store: Store,
        notifier: DesktopNotifier | None = None,
        on_open: Callable[[str | None, list[int]], None] = open_in_tui,
    ) -> None:
        self.settings, self.store = settings, store
        self.batcher = AlertBatcher(settings.quiet_seconds, settings.max_wait_seconds)
        self.notifier = notifier if notifier is not None else DesktopNotifier(on_open=on_open)
        self._notices: dict[int, AlertNotice] = {}
        self._last_try: float | None = None

    def add(self, alert: RaisedAlert) -> None:
        notice = AlertNotice(
            alert.alert_id, alert.photo_id, alert.path, alert.score, [str(r) for r in alert.reasons]
        )
        self._notices[alert.alert_id] = notice
        self.batcher.add(notice)

    def pump(self) -> int:
        """Delivers the bursts that are over; call it often (the daemon's loop does)."""
        return self._deliver(self.batcher.due())

    def flush(self) -> int:
        return self._deliver(self.batcher.flush())

    def close(self) -> None:
        self.flush()
        self.notifier.close()

    def _deliver(self, notifications: list[Notification]) -> int:
        for notification in notifications:
            notices = [self._notices.pop(i) for i in notification.alert_ids if i in self._notices]
            reached, missed = self._desktop(notification)
            if self.settings.hook:
                problem = run_hook(
                    self.settings.hook,
                    notification_payload(notification, notices),
                    self.settings.hook_timeout_seconds,
                )
                if problem:
                    log.warning("alert hook: %s", problem)
                    missed.append(f"the hook failed ({problem})")
                else:
                    reached.append("the hook")
            alerts = plural(len(notification.alert_ids), "alert")
            if reached:
                # Only what reached the user counts as notified: the TUI says "notified 3 h ago".
                self.store.profile.mark_notified(notification.alert_ids)
                log.info("notified: %s (%s), by %s", notification.title, alerts, " and ".join(reached))
            else:
                log.info("not notified: %s; %s stored and logged only", "; ".join(missed), alerts)
        return len(notifications)

    def _desktop(self, notification: Notification) -> tuple[list[str], list[str]]:
        """(["the desktop"], []) when a notification appeared, else ([], [why not])."""
        if not self.settings.desktop:
            return [], ["desktop notifications are off ([alerts] desktop = false)"]
        if self.desktop_available() and self.notifier.send(notification) is not None:
            return ["the desktop"], []
        return [], [self.notifier.problem or NOT_SHOWN]

    def desktop_available(self) -> bool:
        # A user service often starts before the desktop's notification service does: a failed
        # connection is tried again, at most once a minute.
        if self.notifier.connected:
            return True
        now = time.monotonic()
        if self._last_try is None or now - self._last_try >= RECONNECT_SECONDS:
            self._last_try = now
            return self.notifier.connect()
        return False
