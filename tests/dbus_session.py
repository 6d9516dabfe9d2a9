"""A real, private D-Bus session bus and a fake desktop notification service for the alert tests.

The bus is a real dbus-daemon process, so the notifier under test speaks the real wire protocol,
authentication and match rules included. Its configuration is written here rather than taken from
the system's session.conf: that file lists the host's service directories, and bus activation
could start the machine's own notification daemon in the middle of a test.
"""

from __future__ import annotations

import select
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from jeepney import (  # type: ignore[import-untyped]
    DBusAddress,
    HeaderFields,
    MessageType,
    new_error,
    new_method_return,
    new_signal,
)
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
from jeepney.io.threading import (  # type: ignore[import-untyped]
    DBusConnection,
    ReceiveStopped,
    open_dbus_connection,
)

DBUS_DAEMON = Path("/usr/bin/dbus-daemon")
SERVICE = "org.freedesktop.Notifications"
SERVICE_PATH = "/org/freedesktop/Notifications"
START_TIMEOUT = 5.0

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir={folder}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def dbus_daemon_or_skip() -> Path:
    if not DBUS_DAEMON.exists():
        pytest.skip(f"{DBUS_DAEMON} is missing: install dbus (the daemon) to run the D-Bus delivery tests")
    return DBUS_DAEMON


class PrivateSessionBus:
    """`with PrivateSessionBus() as bus:` runs a dbus-daemon of its own; bus.address is where to connect."""

    def __init__(self) -> None:
        self.address = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._dir: Path | None = None

    def __enter__(self) -> PrivateSessionBus:
        daemon = dbus_daemon_or_skip()
        # A short folder under /tmp: pytest's tmp_path can exceed the 108-byte limit on socket names.
        self._dir = Path(tempfile.mkdtemp(prefix="slbus-"))
        config = self._dir / "bus.conf"
        config.write_text(BUS_CONFIG.format(folder=self._dir))
        self.process = subprocess.Popen(
            [
                str(daemon),
                f"--config-file={config}",
                "--nofork",
                "--nopidfile",
                "--print-address=1",
                f"--address=unix:tmpdir={self._dir}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        line = self.process.stdout.readline().decode().strip() if ready else ""
        if not line:
            self.process.terminate()
            self.process.wait(timeout=5)
            errors = " ".join(self.process.stderr.read().decode(errors="replace").split())  # type: ignore[union-attr]
            self._stop()
            raise RuntimeError(f"dbus-daemon printed no address within {START_TIMEOUT} s: {errors}")
        self.address = line
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)


@dataclass(frozen=True)
class NotifyCall:
    app_name: str
    replaces_id: int
    app_icon: str
    summary: str
    body: str
    actions: list[str]
    hints: dict[str, tuple[str, Any]]  # jeepney gives a variant as (signature, value)
    expire_timeout: int
    notification_id: int  # what the fake answered


class FakeNotificationService:
    """Owns org.freedesktop.Notifications on the bus, answers like a server and records every Notify."""

    def __init__(self, address: str, capabilities: tuple[str, ...] = ("actions", "body")) -> None:
        self.address = address
        self.capabilities = list(capabilities)
        self.calls: list[NotifyCall] = []
        self._changed = threading.Condition()
        self._next_id = 1
        self._connection: Any = None
        self.thread: threading.Thread | None = None

    def __enter__(self) -> FakeNotificationService:
        self._connection = open_dbus_connection(bus=self.address)
        self._request_name()
        self.thread = threading.Thread(target=self._serve, name="fake-notifications", daemon=True)
        self.thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._connection is not None:
            self._connection.interrupt()  # the serving thread's receive() raises ReceiveStopped
        if self.thread is not None:
            self.thread.join(timeout=5)
        if self._connection is not None:
            self._connection.close()

    def wait_for_calls(self, count: int, timeout: float = 5.0) -> list[NotifyCall]:
        with self._changed:
            self._changed.wait_for(lambda: len(self.calls) >= count, timeout=timeout)
            return list(self.calls)

    def emit_action(self, notification_id: int, action_key: str = "open") -> None:
        """What the server does when the user clicks: broadcast ActionInvoked(id, action_key)."""
        emitter = DBusAddress(SERVICE_PATH, interface=SERVICE)
        self._connection.send(new_signal(emitter, "ActionInvoked", "us", (notification_id, action_key)))

    def _request_name(self) -> None:
        # Done by hand before serving: a router would swallow calls that arrive while it runs.
        serial = next(self._connection.outgoing_serial)
        self._connection.send(message_bus.RequestName(SERVICE), serial=serial)
        while True:
            reply = self._connection.receive(timeout=START_TIMEOUT)
            if reply.header.fields.get(HeaderFields.reply_serial) == serial:
                break
        if reply.body != (1,):  # DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER
            raise RuntimeError(f"could not own {SERVICE}: {reply.body}")

    def _serve(self) -> None:
        try:
            while True:
                message = self._connection.receive()
                if message.header.message_type is MessageType.method_call:
                    self._connection.send(self._answer(message))
        except (ReceiveStopped, OSError):
            return  # stopped by __exit__, or the bus went away

    def _answer(self, message: Any) -> Any:
        member = message.header.fields.get(HeaderFields.member)
        if member == "Notify":
            with self._changed:
                notification_id = self._next_id
                self._next_id += 1
                self.calls.append(NotifyCall(*message.body, notification_id=notification_id))
                self._changed.notify_all()
            return new_method_return(message, "u", (notification_id,))
        if member == "GetCapabilities":
            return new_method_return(message, "as", (self.capabilities,))
        if member == "GetServerInformation":
            return new_method_return(message, "ssss", ("fake-notifications", "shadowlens tests", "1", "1.2"))
        if member == "CloseNotification":
            return new_method_return(message)
        return new_error(message, "org.freedesktop.DBus.Error.UnknownMethod")


def plain_connection(address: str) -> DBusConnection:
    """Another client on the bus, e.g. one that pretends to be the notification service."""
    return open_dbus_connection(bus=address)
