"""The TUI tests' libraries and Pilot helpers.

``build_library`` is the seeded library (tests/seeded_library.py: written through the store,
about a second); ``scan_library`` indexes rendered photos with the real ``shadowlens scan``, for
the tests that keep the whole path (scan, then the TUI in a terminal) covered.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from shadowlens.tui.library import Library
from textual.widgets import DataTable

from tests.conftest import LIBRARY_NOW, Env
from tests.library_builder import write_shot
from tests.seeded_library import SHOTS, build_seeded_library

CONFIG = "".join(f"[detectors.{n}]\nenabled = false\n" for n in ("codes", "nudity"))
# The rendered photos hold no face: without the face models the scan takes half the time.
SCAN_CONFIG = CONFIG + "[detectors.faces]\nenabled = false\n"


def build_library(root: Path) -> tuple[Env, Path]:
    """Faces (Obama x5, Biden x2: a person of the user's making), the GPS series, photos at home
    with a payment card and a phone number, beer and coffee on them, and a broken file."""
    return build_seeded_library(root, CONFIG)


def scan_library(root: Path) -> tuple[Env, Path]:
    """The rendered photos of the seeded library (a card and a phone, brands), indexed by
    ``shadowlens scan`` in a process of its own: OCR, brands, personal data, places, scores."""
    env, library = Env(root / "home", now=LIBRARY_NOW), root / "library"
    for index, shot in enumerate(SHOTS):
        write_shot(shot, library / "rendered", index)
    env.write_config(SCAN_CONFIG)
    env.run("scan", str(library))
    return env, library


def library_of(env: Env) -> Library:
    return Library(env.index, env.root / "state" / "shadowlens")


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if condition():
            return
        await pilot.pause(0.1)
    raise AssertionError("timed out waiting for the screen")


async def until_loaded(pilot: Any, timeout: float = 20.0) -> None:
    """Until the current screen has shown its data."""
    await until(pilot, lambda: bool(getattr(pilot.app.screen, "loaded", False)), timeout)


def cell_text(table: DataTable[Any], row: int) -> str:
    return " ".join(getattr(cell, "plain", str(cell)) for cell in table.get_row_at(row))
