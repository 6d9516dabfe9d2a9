"""Snapshots of the TUI's main screens at 100x30, compared with the SVGs in __snapshots__/.

Regenerate after a deliberate change of the UI with ``pytest tests/test_tui_snapshots.py
--snapshot-update`` and look at the new SVGs before keeping them.

The screens are the same on every machine and every run because nothing on them depends on
where, when or how fast the index was built:
- the index is the seeded library (tests/seeded_library.py), rebuilt at one fixed path, so the
  paths shown are the same, and written in one order, so photos, faces and people get the same
  ids;
- the clock is pinned (``SHADOWLENS_NOW``): the library is built on its day (``LIBRARY_NOW``,
  when the alert is raised and notified), and the TUI reads "raised 3 h ago" against a fixed
  noon, so the screens are the same on any date (``make test`` also runs them with the clock
  400 days ahead);
- the daemon is not running, so the status screen has no heartbeat, pid or rate to show;
- pictures are drawn as half-cells whatever the terminal (textual-image would pick sixel or the
  kitty protocol when pytest runs with ``-s`` in a terminal that has them).
"""

from __future__ import annotations

import fcntl
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from shadowlens.daemon import clock
from shadowlens.tui.app import ShadowlensApp

from tests.conftest import Env
from tests.tui_support import build_library, library_of

pytestmark = pytest.mark.corpus

SNAPSHOT_ROOT = Path("/tmp/shadowlens-snapshots")
SIZE = (100, 30)
SCREENS = ("profile", "photos", "people", "places", "brands", "alerts", "status")
# The alert was raised at 09:00 (LIBRARY_NOW) and is looked at just after noon (UTC, as the
# index stores it), so the screen says "raised 3 h ago · notified 3 h ago".
FROZEN_NOW = datetime(2025, 5, 4, 12, 0, 30, tzinfo=UTC)
LOAD_TIMEOUT = 20.0


def build_fixed_index(root: Path) -> Env:
    """The TUI tests' library (``tui_support.build_library``) at ``root``, rebuilt from nothing."""
    shutil.rmtree(root, ignore_errors=True)
    env, _ = build_library(root)
    return env


def freeze_the_tui(patch: pytest.MonkeyPatch) -> None:
    """Pin the one clock (the profile's decay, every "N ago") and draw pictures as half-cells."""
    from shadowlens.tui import pictures
    from textual_image.widget import HalfcellImage

    patch.setenv(clock.ENV_VAR, FROZEN_NOW.isoformat())
    patch.setattr(pictures, "IMAGE_CLASS", HalfcellImage)
    patch.setattr(pictures, "IMAGE_PROBLEM", None)


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
    from shadowlens.tui.formats import ago

    assert ago("2025-05-04T09:00:00") == "3 h ago"
    assert ago("2025-05-04T09:00:02") == "3 h ago"
    assert ago("2025-05-04T12:00:25") == "just now"


@pytest.mark.parametrize("screen", SCREENS)
def test_main_screen(screen: str, fixed_index: Env, snap_compare: Any) -> None:
    """A main screen of the TUI on the TUI tests' seeded library, daemon not running."""
    app = ShadowlensApp(library_of(fixed_index), start=screen)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
