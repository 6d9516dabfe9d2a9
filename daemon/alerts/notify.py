"""Alert delivery: desktop notifications over the D-Bus session bus, and a user hook command.

Delivery is best effort. A headless box has no session bus, a minimal desktop may have no
notification service, and a hook may be broken: each of those is one log line, never an exception,
because the alert itself is already stored and the daemon must keep scanning.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shlex
import signal
import subprocess
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

# jeepney has inline annotations but no py.typed marker, so mypy treats it as untyped.
from jeepney import DBusAddress, HeaderFields, MatchRule, Message, new_method_call  # type: ignore[import-untyped]
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
from jeepney.io.common import RouterClosed  # type: ignore[import-untyped]
from jeepney.io.threading import DBusRouter, open_dbus_connection  # type: ignore[import-untyped]
from jeepney.wrappers import unwrap_msg  # type: ignore[import-untyped]
from shadowlens.daemon.fsnames import json_text

from .batching import AlertBatcher, AlertNotice, Notification

__all__ = [
    "AlertBatcher",
    "AlertNotice",
    "DesktopNotifier",
    "Notification",
    "notification_payload",
    "run_hook",
]

log = logging.getLogger(__name__)

SERVICE = "org.freedesktop.Notifications"
SERVICE_PATH = "/org/freedesktop/Notifications"
CATEGORY = "x-shadowlens.alert"
DESKTOP_ENTRY = "shadowlens"
HEADLESS = "alerts are stored and logged only"
# Why nothing appeared on the desktop, in the words the delivery log uses.
NO_SESSION = "no D-Bus session"
NO_BUS = "cannot reach the D-Bus session bus"
NO_SERVICE = "no desktop notification service"
BUS_LOST = "the D-Bus session bus was lost"
NOT_SHOWN = "the desktop notification failed"
CALL_TIMEOUT = 5.0
# Ids of sent notifications we still answer actions for; older ones are long off the screen.
REMEMBERED_NOTIFICATIONS = 256
_STOP = object()

OpenCallback = Callable[[str | None, list[int]], None]


class _Router(DBusRouter):  # type: ignore[misc]  # jeepney is untyped to mypy
    """jeepney's router, except that losing the bus ends its receiver thread with a log line, not a traceback."""

    def _receiver(self) -> None:
        try:
            super()._receiver()  # pending calls fail with an error when it returns or raises
        except (OSError, ValueError) as exc:
            log.info("D-Bus session bus connection lost: %s", _one_line(exc))


class DesktopNotifier:
    """org.freedesktop.Notifications over the session bus (jeepney, blocking I/O in its own thread ok)."""

    def __init__(
        self,
        app_name: str = "shadowlens",
        on_open: OpenCallback | None = None,
        bus_address: str | None = None,
    ) -> None:
        self.app_name = app_name
        self._on_open = on_open
        self._bus_address = bus_address  # None: DBUS_SESSION_BUS_ADDRESS, read at connect()
        self._service = DBusAddress(SERVICE_PATH, bus_name=SERVICE, interface=SERVICE)
        self._connection: Any = None
        self._router: Any = None
        self._filter: Any = None
        self._signals: queue.Queue[Any] = queue.Queue()
        self._listener: threading.Thread | None = None
        self._service_owner = ""
        self._body_markup = False
        self._sent: OrderedDict[int, Notification] = OrderedDict()
        self._sent_lock = threading.Lock()
        # Why the last connect or send showed nothing ("" after a success): delivery logs it.
        self.problem = NO_SESSION

    @property
    def connected(self) -> bool:
        return self._router is not None

    def connect(self) -> bool:
        """True when a notification service answered; False (one INFO line saying why) otherwise."""
        if self.connected:
            return True
        address = self._bus_address or os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
        if not address:
            log.info("no D-Bus session bus (headless): %s", HEADLESS)
            self.problem = NO_SESSION
            return False
        try:
            self._connection = open_dbus_connection(bus=address, auth_timeout=CALL_TIMEOUT)
        except Exception as exc:  # jeepney raises OSError, RuntimeError or ValueError for a bad address
            log.info("cannot reach the D-Bus session bus (%s): %s", _one_line(exc), HEADLESS)
            self._connection = None
            self.problem = NO_BUS
            return False
        self._router = _Router(self._connection)
        try:
            # A call, not NameHasOwner: it also starts a service that is D-Bus activated on demand.
            (capabilities,) = self._call("GetCapabilities")
            self._service_owner = self._owner_of_service()
            # Only the service may say a notification was clicked: the bus resolves `sender` to its owner.
            rule = MatchRule(type="signal", sender=SERVICE, interface=SERVICE, path=SERVICE_PATH)
            self._call_bus("AddMatch", rule)
        except Exception as exc:
            log.info("no desktop notification service on the session bus (%s): %s", _one_line(exc), HEADLESS)
            self.close()
            self.problem = NO_SERVICE
            return False
        self.problem = ""
        self._body_markup = "body-markup" in capabilities
        # Filtered locally by interface only: messages carry the owner's unique name, checked on arrival.
        self._filter = self._router.filter(MatchRule(type="signal", interface=SERVICE), queue=self._signals)
        self._listener = threading.Thread(target=self._listen, name="shadowlens-notify-actions", daemon=True)
        self._listener.start()
        return True

    def send(self, notification: Notification) -> int | None:
        """The server's notification id, or None (one log line) if it was not delivered."""
        if not self.connected:
            log.info("desktop notification not shown (not connected): %s", notification.title)
            return None
        if notification.open_path is not None:
            actions = ["default", "Open in shadowlens", "open", "Open in shadowlens"]
        else:
            actions = ["default", "Show alerts"]
        hints = {
            "urgency": ("y", notification.urgency),
            "category": ("s", CATEGORY),
            "desktop-entry": ("s", DESKTOP_ENTRY),
        }
        body = _escape_markup(notification.body) if self._body_markup else notification.body
        args = (self.app_name, 0, "", notification.title, body, actions, hints, -1)
        try:
            (notification_id,) = self._call("Notify", "susssasa{sv}i", args)
        except (RouterClosed, ConnectionError) as exc:
            # The bus itself went away (the session ended): later sends say "not connected".
            log.warning("desktop notification failed, session bus lost: %s", _one_line(exc))
            self.close()
            self.problem = BUS_LOST
            return None
        except Exception as exc:
            log.warning("desktop notification failed: %s", _one_line(exc))
            self.problem = NOT_SHOWN
            return None
        self.problem = ""
        with self._sent_lock:
            self._sent[int(notification_id)] = notification
            while len(self._sent) > REMEMBERED_NOTIFICATIONS:
                self._sent.popitem(last=False)
        return int(notification_id)

    def close(self) -> None:
        if self._listener is not None:
            self._signals.put(_STOP)
            if self._listener is not threading.current_thread():  # close() called from on_open
                self._listener.join(timeout=5)
            self._listener = None
        if self._filter is not None:
            self._filter.close()
            self._filter = None
        if self._router is not None:
            self._router.close()
            self._router = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _call(self, method: str, signature: str | None = None, body: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        reply = self._router.send_and_get_reply(
            new_method_call(self._service, method, signature, body), timeout=CALL_TIMEOUT
        )
        return tuple(unwrap_msg(reply))

    def _call_bus(self, method: str, *args: Any) -> tuple[Any, ...]:
        reply = self._router.send_and_get_reply(getattr(message_bus, method)(*args), timeout=CALL_TIMEOUT)
        return tuple(unwrap_msg(reply))

    def _owner_of_service(self) -> str:
        (owner,) = self._call_bus("GetNameOwner", SERVICE)
        return str(owner)

    def _listen(self) -> None:
        while (message := self._signals.get()) is not _STOP:
            try:
                self._handle_signal(message)
            except Exception:
                # A failing on_open must not stop later clicks from being handled.
                log.exception("handling a notification action failed")

    def _handle_signal(self, message: Message) -> None:
        member = message.header.fields.get(HeaderFields.member)
        sender = message.header.fields.get(HeaderFields.sender)
        if member not in {"ActionInvoked", "NotificationClosed"}:
            return
        if sender != self._service_owner:
            # The service may have restarted under a new unique name; anyone else is ignored.
            try:
                self._service_owner = self._owner_of_service()
            except Exception as exc:
                log.debug("cannot look up the notification service: %s", _one_line(exc))
            if sender != self._service_owner:
                log.debug("ignored %s from %s, not the notification service", member, sender)
                return
        notification_id = int(message.body[0])
        with self._sent_lock:
            if member == "NotificationClosed":
                self._sent.pop(notification_id, None)
                return
            notification = self._sent.get(notification_id)
        if notification is None or self._on_open is None or message.body[1] not in {"default", "open"}:
            return
        self._on_open(notification.open_path, list(notification.alert_ids))


def _escape_markup(text: str) -> str:
    # Servers advertising body-markup parse a small HTML subset: a "<" in a file name must stay text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def notification_payload(notification: Notification, notices: Sequence[AlertNotice]) -> dict[str, object]:
    """What the hook gets on stdin: only the notices this notification covers, in its order."""
    by_id = {notice.alert_id: notice for notice in notices}
    covered = [by_id[alert_id] for alert_id in notification.alert_ids if alert_id in by_id]
    return {
        "type": "summary" if notification.open_path is None else "alert",
        "count": len(notification.alert_ids),
        "alerts": [
            {
                "alert_id": notice.alert_id,
                "photo_id": notice.photo_id,
                "path": notice.path,
                "score": notice.score,
                "reasons": list(notice.reasons),
            }
            for notice in covered
        ],
    }


def run_hook(command: str, payload: dict[str, object], timeout: float = 10.0) -> str | None:
    """Run the user's hook (no shell) with the JSON payload on stdin: None on success, else one error line."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return f"hook command cannot be parsed: {exc}"
    if not argv:
        return "hook command is empty"
    try:
        # Its own session, so a timeout kills whatever the hook started too, not just its first process.
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        return f"hook not found: {argv[0]}"
    except OSError as exc:
        return f"hook could not start: {argv[0]}: {exc.strerror or exc}"
    try:
        _, stderr = process.communicate(json_text(payload).encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return f"hook timed out after {timeout:g} s"
    if process.returncode == 0:
        return None
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    detail = f": {lines[-1][:200]}" if lines else ""
    if process.returncode < 0:
        return f"hook killed by signal {-process.returncode}{detail}"
    return f"hook exited {process.returncode}{detail}"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    # A grandchild that left the session may still hold the pipes: wait for the hook, not for EOF.
    process.wait()
    for stream in (process.stdin, process.stderr):
        if stream is not None:
            stream.close()
