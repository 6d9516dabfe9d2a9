"""Snapshots of the TUI's main screens at 100x30, compared with the SVGs in __snapshots__/.

Regenerate after a deliberate change of the UI with ``pytest tests/test_tui_snapshots.py
--snapshot-update`` and look at the new SVGs before keeping them.

The screens are the same on every machine and every run because nothing on them depends on
where, when or how fast the index was built:
- the index is rebuilt at one fixed path, so the paths shown are the same;
- the scan runs with one worker, so photos, faces and people get the same ids in the same order
  (with a pool, ids follow completion order);
- the clock is pinned (``SHADOWLENS_NOW``): the scan builds the profile on the library's day,
  the alerts' timestamps are pinned, and the TUI reads "raised 3 h ago" against a fixed noon, so
  the screens are the same on any date (``make test`` also runs them with the clock 400 days
  ahead);
- the daemon is not running, so the status screen has no heartbeat, pid or rate to show;
- pictures are drawn as half-cells whatever the terminal (textual-image would pick sixel or the
  kitty protocol when pytest runs with ``-s`` in a terminal that has them).
"""

from __future__ import annotations

import fcntl
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from shadowlens.daemon import clock
from shadowlens.tui.app import ShadowlensApp

from tests import tui_support
from tests.conftest import Env
from tests.tui_support import library_of

pytestmark = pytest.mark.corpus

SNAPSHOT_ROOT = Path("/tmp/shadowlens-snapshots")
SIZE = (100, 30)
SCREENS = ("profile", "photos", "people", "places", "brands", "alerts", "status")
SERIAL_SCAN = "[scan]\nworkers = 1\n"
# The alerts were raised at 09:00 and are looked at just after noon (UTC, as the index stores
# them), so the screen says "raised 3 h ago · notified 3 h ago".
RAISED_AT, NOTIFIED_AT = "2025-05-04 09:00:00.000000", "2025-05-04 09:00:02.000000"
FROZEN_NOW = datetime(2025, 5, 4, 12, 0, 30, tzinfo=UTC)
LOAD_TIMEOUT = 20.0


def build_fixed_index(root: Path) -> Env:
    """The TUI tests' library (``tui_support.build_library``) at ``root``, rebuilt from nothing,
    scanned by one worker, with its alerts' timestamps pinned."""
    shutil.rmtree(root, ignore_errors=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tui_support, "CONFIG", tui_support.CONFIG + SERIAL_SCAN)
        env, _ = tui_support.build_library(root)
    pin_alert_times(env.index)
    return env


def pin_alert_times(index: Path) -> None:
    with closing(sqlite3.connect(index)) as db, db:
        db.execute(
            "UPDATE alerts SET created_at = ?, updated_at = ?,"
            " notified_at = CASE WHEN notified_at IS NULL THEN NULL ELSE ? END",
            (RAISED_AT, RAISED_AT, NOTIFIED_AT),
        )


def freeze_the_tui(patch: pytest.MonkeyPatch) -> None:
    """Pin the one clock (the profile's decay, every "N ago") and draw pictures as half-cells."""
    from shadowlens.tui.screens import people, photo
    from textual_image.widget import HalfcellImage

    patch.setenv(clock.ENV_VAR, FROZEN_NOW.isoformat())
    patch.setattr(people, "THUMB_CLASS", HalfcellImage)
    patch.setattr(photo, "IMAGE_CLASS", HalfcellImage)
    patch.setattr(photo, "IMAGE_PROBLEM", None)


async def settle(pilot: Any) -> None:
    """Wait until the screen has shown its data and every loader (a person's faces and
    thumbnail, the places' evidence) has finished, twice in a row."""
    app = pilot.app
    deadline, idle = time.monotonic() + LOAD_TIMEOUT, 0
    while idle < 2:
        if time.monotonic() > deadline:
            raise AssertionError(f"{type(app.screen).__name__} did not settle in {LOAD_TIMEOUT:.0f} s")
        await pilot.pause(0.1)
        ready = getattr(app.screen, "loaded", False) and all(w.is_finished for w in app.workers)
        idle = idle + 1 if ready else 0


@pytest.fixture(scope="module")
def fixed_index() -> Iterator[Env]:
    # One run at a time builds and reads the fixed path; a second run waits here.
    SNAPSHOT_ROOT.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{SNAPSHOT_ROOT}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield build_fixed_index(SNAPSHOT_ROOT)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    freeze_the_tui(monkeypatch)


def test_the_frozen_clock_says_hours_ago() -> None:
    from shadowlens.tui.screens import alerts

    assert alerts.ago("2025-05-04T09:00:00") == "3 h ago"
    assert alerts.ago("2025-05-04T09:00:02") == "3 h ago"
    assert alerts.ago("2025-05-04T12:00:25") == "just now"


@pytest.mark.parametrize("screen", SCREENS)
def test_main_screen(screen: str, fixed_index: Env, snap_compare: Any) -> None:
    """A main screen of the TUI on the TUI tests' library, daemon not running."""
    app = ShadowlensApp(library_of(fixed_index), start=screen)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
