"""Alerts from the running daemon: one per risky photo, a burst batched into one notification on
a real private D-Bus session bus, the hook command, and a headless machine with no bus at all."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import Env
from tests.daemon_helpers import WatchProcess, query, wait_for
from tests.dbus_session import FakeNotificationService, PrivateSessionBus
from tests.library_builder import Shot, write_shot

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

CARD, PHONE = "4242 4242 4242 4242", "Call +44 20 7946 0958"
# GPS (15) + a payment card (40) + a phone number (25): 80 points, over the default threshold of 60.
RISKY_SCORE = 80
BASE_CONFIG = (
    "".join(f"[detectors.{name}]\nenabled = false\n" for name in ("faces", "codes", "nudity"))
    + "[alerts]\nquiet_seconds = 3\nmax_wait_seconds = 120\n"
)


def risky(folder: Path, count: int, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_shot(
            Shot(f"risky{i}.jpg", datetime(2025, 5, 1, 12, i), 48.8584, 2.2945, [CARD, PHONE]), folder, i
        )
        for i in range(start, start + count)
    ]


def alerts_in(env: Env) -> list[tuple[int, str]]:
    return [(int(score), str(state)) for score, state in query(env.index, "SELECT score, state FROM alerts")]


def test_a_burst_of_risky_photos_gives_one_alert_each_and_one_notification(env: Env, tmp_path: Path) -> None:
    staging, folder = tmp_path / "staging", tmp_path / "Pictures"
    folder.mkdir()
    photos = risky(staging, 8)
    hook_out = tmp_path / "hook.jsonl"
    script = tmp_path / "hook.py"
    script.write_text(
        f"import sys\nwith open({str(hook_out)!r}, 'a') as out:\n    out.write(sys.stdin.read() + '\\n')\n"
    )
    env.write_config(BASE_CONFIG + f"hook = '{sys.executable} {script}'\n")
    with PrivateSessionBus() as bus, FakeNotificationService(bus.address) as service:
        proc = WatchProcess(env, folder, extra_env={"DBUS_SESSION_BUS_ADDRESS": bus.address})
        try:
            proc.wait_ready()
            for photo in photos:  # a sync tool's dump: renamed into place one after another
                photo.rename(folder / photo.name)
            wait_for(lambda: len(alerts_in(env)) == len(photos), timeout=240, what="an alert per photo")
            calls = service.wait_for_calls(1, timeout=30)
            wait_for(lambda: hook_out.exists(), timeout=15, what="the hook's output")
        finally:
            proc.stop()
    assert alerts_in(env) == [(RISKY_SCORE, "new")] * len(photos)
    assert len(calls) == 1, [c.summary for c in calls]
    assert calls[0].summary == f"{len(photos)} risky photos arrived"
    assert CARD not in calls[0].body and "7946" not in calls[0].body
    payload = json.loads(hook_out.read_text().splitlines()[0])
    assert payload["type"] == "summary" and payload["count"] == len(photos)
    assert CARD not in hook_out.read_text() and "4242 4242" not in hook_out.read_text()
    notified = query(env.index, "SELECT count(*) FROM alerts WHERE notified_at IS NOT NULL")
    assert notified == [(len(photos),)]


def test_without_a_session_bus_alerts_are_stored_and_logged(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "Pictures"
    folder.mkdir()
    env.write_config(BASE_CONFIG)
    proc = WatchProcess(env, folder, extra_env={"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"})
    try:
        proc.wait_ready()
        risky(folder, 1)
        wait_for(lambda: len(alerts_in(env)) == 1, timeout=120, what="the alert")
        wait_for(lambda: "notified:" in proc.output(), timeout=30, what="delivery")
        assert proc.proc.poll() is None, "the daemon must keep running"
    finally:
        code, _ = proc.terminate()
    log = proc.output()
    assert code == 0 and "Traceback" not in log
    assert "alert: " in log and "exposure 80" in log and CARD not in log
