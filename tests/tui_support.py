"""A small library for TUI tests: corpus photos with faces and GPS, plus rendered risky photos."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from shadowlens.tui.library import Library
from textual.widgets import DataTable

from tests.conftest import LIBRARY_NOW, Env, corpus_or_skip
from tests.library_builder import Shot, write_shot

CONFIG = "".join(f"[detectors.{n}]\nenabled = false\n" for n in ("codes", "nudity"))


def build_library(root: Path) -> tuple[Env, Path]:
    """Scans: face photos (Obama x4 and friends), the GPS series, and three rendered photos (a
    card and phone at one spot, a brand on two others) so there are alerts and brands."""
    env, library = Env(root / "home", now=LIBRARY_NOW), root / "library"
    corpus = corpus_or_skip()
    shutil.copytree(corpus / "face_recognition", library / "faces")
    shutil.copytree(corpus / "exif-samples" / "gps", library / "gps")
    write_shot(
        Shot(
            "risky.jpg",
            datetime(2025, 5, 1, 12, 0),
            48.8584,
            2.2945,
            ["4242 4242 4242 4242", "Call +44 20 7946 0958"],
        ),
        library / "rendered",
        0,
    )
    write_shot(
        Shot("brand1.jpg", datetime(2025, 5, 2, 20, 0), 48.8585, 2.2946, ["Heineken"]),
        library / "rendered",
        1,
    )
    write_shot(
        Shot("brand2.jpg", datetime(2025, 5, 3, 21, 0), 48.8586, 2.2945, ["Heineken"]),
        library / "rendered",
        2,
    )
    env.write_config(CONFIG)
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
