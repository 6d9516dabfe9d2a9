"""Alert delivery: desktop notifications on a real private D-Bus bus, burst batching, the hook command."""

from __future__ import annotations

import json
import logging
import shlex
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from jeepney import DBusAddress, HeaderFields, new_signal  # type: ignore[import-untyped]
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
from shadowlens.daemon import clock
from shadowlens.daemon.alerts import notify
from shadowlens.daemon.alerts.delivery import AlertDelivery
from shadowlens.daemon.alerts.notify import (
    AlertBatcher,
    AlertNotice,
    DesktopNotifier,
    Notification,
    notification_payload,
    run_hook,
)
from shadowlens.daemon.analysis.results import AnalysisResult, FileStat
from shadowlens.daemon.config import AlertSettings, Config
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.profile.updater import RaisedAlert
from shadowlens.daemon.service.schedule import ProfileJobs, digest_lines

from tests.conftest import LIBRARY_NOW, corpus_or_skip
from tests.daemon_helpers import query
from tests.dbus_session import (
    SERVICE,
    SERVICE_PATH,
    FakeNotificationService,
    PrivateSessionBus,
    plain_connection,
)

# A hang on the bus must fail here, not after the suite-wide ten minutes.
pytestmark = pytest.mark.timeout(30)

HOME_PHOTO = "/home/alice.smith/Pictures/2024/IMG_0042.jpg"
HOME_REASONS = [
    "GPS within 200 m of your home (+40)",
    "a face you photograph often (+15)",
    "a readable street sign (+10)",
    "taken at night (+5)",
    "a car number plate (+5)",
]
OPEN_ACTIONS = ["default", "Open in shadowlens", "open", "Open in shadowlens"]
HINTS = {"category": ("s", "x-shadowlens.alert"), "desktop-entry": ("s", "shadowlens")}


@pytest.fixture
def bus() -> Iterator[PrivateSessionBus]:
    with PrivateSessionBus() as private_bus:
        yield private_bus


@pytest.fixture
def service(bus: PrivateSessionBus) -> Iterator[FakeNotificationService]:
    with FakeNotificationService(bus.address) as fake:
        yield fake


class FakeClock:
    """Burst timing without sleeping: the batcher reads this instead of time.monotonic."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def notice(
    alert_id: int, score: int = 72, path: str = HOME_PHOTO, reasons: list[str] | None = None
) -> AlertNotice:
    return AlertNotice(
        alert_id, alert_id + 100, path, score, reasons or ["GPS within 200 m of your home (+40)"]
    )


def test_one_alert_is_one_notification_with_exact_text_actions_and_hints(
    service: FakeNotificationService, bus: PrivateSessionBus
) -> None:
    clock = FakeClock()
    batcher = AlertBatcher(quiet_seconds=5, clock=clock)
    batcher.add(notice(7, score=80, reasons=HOME_REASONS))
    assert batcher.due() == []
    clock.now += 5
    (notification,) = batcher.due()

    with closing(DesktopNotifier(bus_address=bus.address)) as notifier:
        assert notifier.connect()
        assert notifier.send(notification) == 1

    (call,) = service.wait_for_calls(1)
    assert call.app_name == "shadowlens" and call.replaces_id == 0 and call.expire_timeout == -1
    assert call.summary == "Risky new photo"
    # At most four reasons, in the order the caller gave them.
    assert call.body == "Exposure 80/100: IMG_0042.jpg\n" + "\n".join(HOME_REASONS[:4])
    assert call.actions == OPEN_ACTIONS
    assert call.hints == {"urgency": ("y", 2), **HINTS}
    assert notification.alert_ids == [7] and notification.open_path == HOME_PHOTO


def test_a_score_below_80_is_normal_urgency(service: FakeNotificationService, bus: PrivateSessionBus) -> None:
    with closing(DesktopNotifier(bus_address=bus.address)) as notifier:
        assert notifier.connect()
        (notification,) = _batch_of([notice(1, score=79)])
        assert notifier.send(notification) == 1
    assert service.wait_for_calls(1)[0].hints["urgency"] == ("y", 1)


def _batch_of(notices: list[AlertNotice]) -> list[Notification]:
    batcher = AlertBatcher()
    for one in notices:
        batcher.add(one)
    return batcher.flush()


def test_a_burst_of_500_alerts_is_exactly_one_summary_on_the_bus(
    service: FakeNotificationService, bus: PrivateSessionBus
) -> None:
    # A fake clock stands in for the 5 s of quiet the batcher waits for; the bus and Notify are real.
    clock = FakeClock()
    batcher = AlertBatcher(quiet_seconds=5, max_wait_seconds=60, clock=clock)
    scores = {3: 97, 250: 99, 499: 91}
    with closing(DesktopNotifier(bus_address=bus.address)) as notifier:
        assert notifier.connect()
        for alert_id in range(500):
            batcher.add(
                notice(alert_id, scores.get(alert_id, 60), path=f"/photos/sync/IMG_{alert_id:04}.jpg")
            )
            clock.now += 0.01
            assert batcher.due() == [], "nothing may go out during the burst"
        clock.now += 4.9
        assert batcher.due() == []
        clock.now += 0.2
        sent = [notifier.send(n) for n in batcher.due()]
        assert batcher.due() == [] and batcher.flush() == []

    assert sent == [1]
    (call,) = service.wait_for_calls(1)
    assert call.summary == "500 risky photos arrived"
    assert (
        call.body == "IMG_0250.jpg (99)\nIMG_0003.jpg (97)\nIMG_0499.jpg (91)\nOpen shadowlens to review them"
    )
    assert call.actions == ["default", "Show alerts"]
    assert call.hints == {"urgency": ("y", 2), **HINTS}
    time.sleep(0.05)  # a second Notify, if there were one, would be on the bus by now
    assert len(service.calls) == 1


def test_max_wait_caps_a_steady_trickle_of_alerts() -> None:
    clock = FakeClock()
    batcher = AlertBatcher(quiet_seconds=5, max_wait_seconds=60, clock=clock)
    released: list[Notification] = []
    for alert_id in range(70):  # one alert every 2 s never leaves 5 s of quiet
        batcher.add(notice(alert_id))
        released += batcher.due()
        if released:
            break
        clock.now += 2
    (summary,) = released
    assert summary.alert_ids == list(range(31)) and summary.open_path is None
    assert summary.title == "31 risky photos arrived" and summary.urgency == 1


def test_an_alert_raised_twice_in_a_burst_is_told_once_with_its_latest_values() -> None:
    (notification,) = _batch_of([notice(5, score=50), notice(5, score=90)])
    assert notification.alert_ids == [5] and notification.body.startswith("Exposure 90/100")


def test_clicking_open_calls_on_open_with_the_photo_path(
    service: FakeNotificationService, bus: PrivateSessionBus
) -> None:
    opened: list[tuple[str | None, list[int]]] = []
    clicked = threading.Event()

    def on_open(path: str | None, alert_ids: list[int]) -> None:
        opened.append((path, alert_ids))
        clicked.set()

    with closing(DesktopNotifier(on_open=on_open, bus_address=bus.address)) as notifier:
        assert notifier.connect()
        (single,) = _batch_of([notice(7)])
        (summary,) = _batch_of([notice(8), notice(9)])
        single_id, summary_id = notifier.send(single), notifier.send(summary)
        assert (single_id, summary_id) == (1, 2)

        # Another client pretending to be the service, aimed straight at the notifier, is ignored.
        with closing(plain_connection(bus.address)) as impostor:
            emitter = DBusAddress(SERVICE_PATH, interface=SERVICE)
            spoof = new_signal(emitter, "ActionInvoked", "us", (single_id, "open"))
            spoof.header.fields[HeaderFields.destination] = notifier._connection.unique_name
            impostor.send(spoof)
            # Once the bus answers the impostor it has routed the spoof: it reaches us before the real click.
            serial = next(impostor.outgoing_serial)
            impostor.send(message_bus.GetId(), serial=serial)
            while impostor.receive(timeout=5).header.fields.get(HeaderFields.reply_serial) != serial:
                pass

        service.emit_action(single_id, "open")
        assert clicked.wait(5), "on_open was not called"
        clicked.clear()
        service.emit_action(summary_id, "default")
        assert clicked.wait(5), "on_open was not called for the summary"

    assert opened == [(HOME_PHOTO, [7]), (None, [8, 9])]


def test_only_recent_notifications_answer_clicks(
    service: FakeNotificationService, bus: PrivateSessionBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "REMEMBERED_NOTIFICATIONS", 2)
    opened: list[list[int]] = []
    clicked = threading.Event()

    def on_open(path: str | None, alert_ids: list[int]) -> None:
        opened.append(alert_ids)
        clicked.set()

    with closing(DesktopNotifier(on_open=on_open, bus_address=bus.address)) as notifier:
        assert notifier.connect()
        ids = [notifier.send(_batch_of([notice(alert_id)])[0]) for alert_id in (10, 11, 12)]
        assert ids == [1, 2, 3]
        # Both signals come from the same connection, so the forgotten one is handled first.
        service.emit_action(1, "open")
        service.emit_action(3, "open")
        assert clicked.wait(5)
    assert opened == [[12]]


def test_no_session_bus_means_no_notifications_and_no_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shadowlens.daemon.alerts.notify")
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    (notification,) = _batch_of([notice(1)])
    for address in (None, f"unix:path={tmp_path}/no-bus-here", "tcp:host=localhost,port=1", "nonsense"):
        caplog.clear()
        notifier = DesktopNotifier(bus_address=address)
        assert notifier.connect() is False
        records = [r for r in caplog.records if r.levelno == logging.INFO]
        assert len(records) == 1, address
        assert "alerts are stored and logged only" in records[0].getMessage()
        assert notifier.send(notification) is None
        notifier.close()
    notifier = DesktopNotifier()
    notifier.connect()
    assert "no D-Bus session bus (headless)" in caplog.records[-1].getMessage()


# jeepney's own receiver thread would die with a traceback here; the notifier's must end quietly.
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_losing_the_bus_after_connecting_degrades(
    service: FakeNotificationService, bus: PrivateSessionBus
) -> None:
    with closing(DesktopNotifier(bus_address=bus.address)) as notifier:
        assert notifier.connect()
        assert bus.process is not None
        bus.process.terminate()
        bus.process.wait(timeout=5)
        assert notifier.send(_batch_of([notice(1)])[0]) is None
        assert notifier.send(_batch_of([notice(2)])[0]) is None


def test_a_bus_without_a_notification_service_degrades(
    bus: PrivateSessionBus, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shadowlens.daemon.alerts.notify")
    with closing(DesktopNotifier(bus_address=bus.address)) as notifier:
        assert notifier.connect() is False
        assert notifier.send(_batch_of([notice(1)])[0]) is None
    assert "no desktop notification service" in caplog.records[0].getMessage()


def test_the_session_bus_comes_from_the_environment_by_default(
    service: FakeNotificationService, bus: PrivateSessionBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
    with closing(DesktopNotifier()) as notifier:
        assert notifier.connect()
        assert notifier.send(_batch_of([notice(1)])[0]) == 1


def test_markup_servers_get_file_names_escaped(bus: PrivateSessionBus) -> None:
    with (
        FakeNotificationService(bus.address, capabilities=("actions", "body", "body-markup")) as service,
        closing(DesktopNotifier(bus_address=bus.address)) as notifier,
    ):
        assert notifier.connect()
        notifier.send(_batch_of([notice(1, path="/p/<b>me & you.jpg", reasons=["x (+1)"])])[0])
        assert service.wait_for_calls(1)[0].body == "Exposure 72/100: &lt;b&gt;me &amp; you.jpg\nx (+1)"


def test_notification_text_is_exactly_what_the_notices_carried() -> None:
    masked = notice(3, score=64, reasons=["phone number +44 ••• ••• •789 (+20)", "card ending 4242 (+30)"])
    (single,) = _batch_of([masked])
    # Only the basename, the score and the caller's masked reasons: no folders (they hold a user name).
    assert (single.title, single.body) == (
        "Risky new photo",
        "Exposure 64/100: IMG_0042.jpg\nphone number +44 ••• ••• •789 (+20)\ncard ending 4242 (+30)",
    )
    (summary,) = _batch_of([masked, notice(4, score=30, path="/home/alice.smith/b.png")])
    assert (summary.title, summary.body) == (
        "2 risky photos arrived",
        "IMG_0042.jpg (64)\nb.png (30)\nOpen shadowlens to review them",
    )
    for text in (single.title, single.body, summary.title, summary.body):
        assert "alice" not in text and "Pictures" not in text and "2024" not in text

    # The hook gets the notices this notification covers, in its order, with exactly these fields.
    covered = [masked, notice(4, score=30, path="/home/alice.smith/b.png")]
    payload = notification_payload(summary, [notice(99, path="/elsewhere/c.jpg"), *reversed(covered)])
    assert payload == {
        "type": "summary",
        "count": 2,
        "alerts": [
            {
                "alert_id": 3,
                "photo_id": 103,
                "path": HOME_PHOTO,
                "score": 64,
                "reasons": ["phone number +44 ••• ••• •789 (+20)", "card ending 4242 (+30)"],
            },
            {
                "alert_id": 4,
                "photo_id": 104,
                "path": "/home/alice.smith/b.png",
                "score": 30,
                "reasons": ["GPS within 200 m of your home (+40)"],
            },
        ],
    }
    assert notification_payload(single, [masked])["type"] == "alert"


def python_hook(script: str, *args: str) -> str:
    return shlex.join([sys.executable, "-c", script, *args])


def test_the_hook_gets_the_json_payload_on_stdin(tmp_path: Path) -> None:
    received = tmp_path / "received.json"
    (notification,) = _batch_of([notice(1, reasons=["a readable street sign (+10)"])])
    payload = notification_payload(notification, [notice(1, reasons=["a readable street sign (+10)"])])
    script = "import sys, pathlib; pathlib.Path(sys.argv[1]).write_bytes(sys.stdin.buffer.read())"
    assert run_hook(python_hook(script, str(received)), payload) is None
    assert json.loads(received.read_text()) == payload
    assert payload["type"] == "alert" and payload["count"] == 1


def test_hook_failures_are_one_line_errors(tmp_path: Path) -> None:
    payload: dict[str, object] = {"type": "alert", "count": 0, "alerts": []}
    failing = "import sys; print('starting', file=sys.stderr); print('boom: no webhook URL', file=sys.stderr); sys.exit(3)"
    assert run_hook(python_hook(failing), payload) == "hook exited 3: boom: no webhook URL"
    assert run_hook(python_hook("raise SystemExit(4)"), payload) == "hook exited 4"
    assert run_hook(f"{tmp_path}/no-such-hook --flag", payload) == f"hook not found: {tmp_path}/no-such-hook"
    assert run_hook("", payload) == "hook command is empty"
    assert run_hook("notify 'unclosed", payload) == "hook command cannot be parsed: No closing quotation"


def test_a_hook_that_hangs_is_killed_with_everything_it_started(tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time, pathlib;"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']);"
        "pathlib.Path(sys.argv[1]).write_text(str(child.pid)); time.sleep(60)"
    )
    started = time.monotonic()
    assert run_hook(python_hook(script, str(child_pid_file)), {}, timeout=1.5) == "hook timed out after 1.5 s"
    assert time.monotonic() - started < 5
    child_pid = int(child_pid_file.read_text())
    deadline = time.monotonic() + 5
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(child_pid), "the hook's own child outlived the timeout"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a killed orphan may wait a moment for init to reap it


def test_the_bus_helper_leaves_nothing_running() -> None:
    with PrivateSessionBus() as bus, FakeNotificationService(bus.address) as fake:
        assert fake.thread is not None and fake.thread.is_alive()
        process = bus.process
    assert process is not None and process.poll() is not None, "dbus-daemon still running"
    assert not fake.thread.is_alive(), "the fake service thread still running"


def _stored_alert(tmp_path: Path) -> tuple[Store, RaisedAlert]:
    """A real index holding one photo (a corpus file copied in) and one alert on it."""
    photo = tmp_path / "IMG_0042.jpg"
    shutil.copyfile(corpus_or_skip() / "face_recognition" / "obama.jpg", photo)
    store = Store.open(tmp_path / "index.db")
    store.save(AnalysisResult(path=str(photo), stat=FileStat.of(photo), sha256="a" * 64, format="JPEG"))
    (photo_id,) = query(tmp_path / "index.db", "SELECT id FROM photos")[0]
    alert_id = store.profile.add_alert(photo_id, 80, [])
    return store, RaisedAlert(alert_id, photo_id, str(photo), 80, [])


def _delivered(tmp_path: Path, notifier: DesktopNotifier, caplog: pytest.LogCaptureFixture) -> list[str]:
    """Deliver the one stored alert through the real AlertDelivery; its log lines."""
    caplog.set_level(logging.INFO, logger="shadowlens.daemon.alerts.delivery")
    store, alert = _stored_alert(tmp_path)
    try:
        delivery = AlertDelivery(AlertSettings(), store, notifier=notifier)
        delivery.add(alert)
        assert delivery.flush() == 1
        delivery.notifier.close()
    finally:
        store.close()
    return [r.getMessage() for r in caplog.records if r.name == "shadowlens.daemon.alerts.delivery"]


@pytest.mark.corpus
def test_without_a_session_the_log_says_not_notified_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    lines = _delivered(tmp_path, DesktopNotifier(), caplog)
    assert lines == ["not notified: no D-Bus session; 1 alert stored and logged only"]
    # Nothing appeared, so the TUI must not say "notified 3 h ago".
    assert query(tmp_path / "index.db", "SELECT notified_at FROM alerts") == [(None,)]


@pytest.mark.corpus
def test_an_unreachable_bus_is_named_too(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lines = _delivered(tmp_path, DesktopNotifier(bus_address=f"unix:path={tmp_path}/no-bus"), caplog)
    assert lines == ["not notified: cannot reach the D-Bus session bus; 1 alert stored and logged only"]


@pytest.mark.corpus
def test_a_shown_notification_is_logged_and_marked_notified(
    tmp_path: Path, service: FakeNotificationService, bus: PrivateSessionBus, caplog: pytest.LogCaptureFixture
) -> None:
    lines = _delivered(tmp_path, DesktopNotifier(bus_address=bus.address), caplog)
    assert lines == ["notified: Risky new photo (1 alert), by the desktop"]
    assert len(service.wait_for_calls(1, timeout=10)) == 1
    (notified_at,) = query(tmp_path / "index.db", "SELECT notified_at FROM alerts")[0]
    assert notified_at is not None


@pytest.mark.corpus
def test_the_weekly_digest_counts_one_photo_as_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    with clock.pinned(clock.parse_pin(LIBRARY_NOW)):
        store, _ = _stored_alert(tmp_path)
        try:
            digest = ProfileJobs(store, Config()).digest(now=clock.local_now())
        finally:
            store.close()
    assert digest.body.splitlines()[0] == "1 new photo analysed, 1 risky."


def test_the_digest_says_what_is_new_since_the_last_one() -> None:
    claims: list[dict[str, Any]] = [
        {
            "id": "device.apple",
            "text": "Apple user, 4 iPhones since 2016",
            "count": 9,
            "days": 9,
            "confidence": 0.87,
        },
        {
            "id": "gps",
            "text": "21 of 123 photos carry a GPS location",
            "count": 21,
            "days": 13,
            "confidence": None,
        },
    ]
    first = digest_lines(claims, set())
    assert first == [
        "Apple user, 4 iPhones since 2016 (9 photos on 9 days, confidence 87%)",
        "21 of 123 photos carry a GPS location (21 photos on 13 days)",
    ]
    told = {(c["id"], c["text"]) for c in claims}
    assert digest_lines(claims, told) == ["Nothing new in your profile this week."]
    changed = [{**claims[0], "text": "Apple user, 5 iPhones since 2016", "count": 10}, claims[1]]
    assert digest_lines(changed, told) == [
        "New: Apple user, 5 iPhones since 2016 (10 photos on 9 days, confidence 87%)"
    ]
    many = [{**claims[1], "id": f"x{i}", "confidence": i / 10} for i in range(7)]
    lines = digest_lines(many, set())
    assert len(lines) == 5 and lines[-1] == "and 3 more statements: `shadowlens profile`"
    assert digest_lines([], set()) == []
