"""What the TUI's screens say, driven by Textual's Pilot on real indexes: counts that agree with
their noun and with each other, a mood chart only where there is a trend, no "0.0 photos a week",
devices named once, and an empty Brands screen that promises only what finds brands today."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from shadowlens.daemon import clock
from shadowlens.daemon.analysis.results import AnalysisResult, DetectorRun, FileStat
from shadowlens.daemon.api import DeviceFinding, TimeFinding
from shadowlens.daemon.config import load_config
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.profile import places
from shadowlens.daemon.profile.updater import ProfileUpdater
from shadowlens.tui.app import ShadowlensApp
from textual.widgets import DataTable, Sparkline, Static

from tests.conftest import LIBRARY_NOW, Env, corpus_or_skip
from tests.seeded_library import SIGNATURE, VERSIONS
from tests.tui_support import build_library, cell_text, library_of, until

pytestmark = pytest.mark.corpus
Body = Callable[[ShadowlensApp, Any], Awaitable[None]]
ONE_WITH_A_PLURAL = re.compile(r"(?<![\d.,])1 (photos|faces|days|people|children|alerts)\b")
LEADING_COUNT = re.compile(r"^(\d[\d,]*) photos? ")
LISTED_COUNT = re.compile(r"listed: (\d[\d,]*) photos? ")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Env:
    env, _ = build_library(tmp_path_factory.mktemp("polish"))
    return env


def drive(env: Env, body: Body, start: str = "profile") -> None:
    async def main() -> None:
        app = ShadowlensApp(library_of(env), start=start)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: bool(getattr(app.screen, "loaded", False)))
            await body(app, pilot)

    asyncio.run(main())


def text_of(app: ShadowlensApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def test_one_week_of_moods_is_a_note_not_a_chart(seeded: Env) -> None:
    """The seeded library's faces with a smile reading were all taken in one week."""

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        assert not app.screen.query_one("#profile-mood", Sparkline).display
        note = text_of(app, "#profile-mood-note")
        assert note.startswith("Only one week with faces read (2012-W49: 1 of 1 face smiling)"), note

    drive(seeded, body)


def test_the_profile_screen_has_no_zero_rate_no_doubled_maker_and_no_1_photos(seeded: Env) -> None:
    async def body(app: ShadowlensApp, pilot: Any) -> None:
        habits = text_of(app, "#profile-habits")
        # 13 dated photos over 17 years, 9 of them in half an hour: no weekly habit to speak of.
        assert "0.0" not in habits and "photos a week" not in habits, habits
        assert habits.rstrip().endswith("less than one photo a year"), habits
        devices = text_of(app, "#profile-devices")
        assert "Canon EOS 5D Mark III (1 photo)" in devices and "Canon Canon" not in devices, devices
        for panel in ("sentences", "places", "people", "habits", "devices", "mood-note"):
            said = text_of(app, f"#profile-{panel}")
            assert not ONE_WITH_A_PLURAL.search(said), (panel, said)

    drive(seeded, body)


async def _caption_of_each_place(app: ShadowlensApp, pilot: Any) -> list[tuple[str, int, str, int]]:
    """(the row, its Photos cell, the caption under it, how many photos are listed) for every
    place in the table."""
    table = app.screen.query_one("#places-table", DataTable)
    photos = app.screen.query_one("#place-photos", DataTable)
    seen = []
    for row in range(table.row_count):
        table.move_cursor(row=row)
        key = str(table.ordered_rows[row].key.value)
        await until(
            pilot,
            lambda k=key: (
                getattr(app.screen, "_wanted", None) == k  # type: ignore[misc]
                and all(w.is_finished for w in app.workers)
                and bool(text_of(app, "#place-photos-caption"))
            ),
        )
        await pilot.pause(0.1)
        counted = int(str(table.get_cell(key, "photos")).replace(",", ""))
        seen.append((cell_text(table, row), counted, text_of(app, "#place-photos-caption"), photos.row_count))
    return seen


def test_a_places_count_is_the_number_its_caption_and_list_say(seeded: Env) -> None:
    """A profile whose places do not list their photos: the caption says what each number is."""

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        rows = await _caption_of_each_place(app, pilot)
        assert rows, "the seeded library has places"
        for row, counted, caption, listed in rows:
            match = LEADING_COUNT.match(caption)
            assert match and int(match.group(1)) == counted, (row, caption)
            told = LISTED_COUNT.search(caption)
            assert int((told or match).group(1)) == listed, (row, caption, listed)

    drive(seeded, body, start="places")


@pytest.fixture
def places_with_photo_ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The profile as it is meant to be: each place and trip names the photos it counted."""
    for kind in (places.Place, places.Trip):
        original = kind.as_dict

        def with_ids(self: Any, original: Any = original) -> dict[str, object]:
            return {"photo_ids": list(self.photo_ids), **original(self)}

        monkeypatch.setattr(kind, "as_dict", with_ids)
    yield


def test_a_place_lists_exactly_the_photos_it_counted(tmp_path: Path, places_with_photo_ids: None) -> None:
    """The seeded work place counted 5 photos while 6 lay within its radius: table, caption and
    list now say the same number, and the caption says what it is."""
    env, _ = build_library(tmp_path)

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        rows = await _caption_of_each_place(app, pilot)
        assert rows
        for row, counted, caption, listed in rows:
            match = LEADING_COUNT.match(caption)
            assert match and int(match.group(1)) == listed == counted, (row, caption, listed)
            assert re.match(r"\d+ photos? (counted|taken) (as|at|on) ", caption), caption  # what they are
            assert "listed:" not in caption, caption

    drive(env, body, start="places")


def _brandless_library(root: Path) -> Env:
    """One corpus photo, analysed by the seeded library's detectors (codes off, logos without a
    model) and finding no brand, with its profile built by the real updater."""
    env, photo = Env(root / "home", now=LIBRARY_NOW), root / "library" / "canon.jpg"
    env.write_config("")
    photo.parent.mkdir(parents=True)
    shutil.copyfile(corpus_or_skip() / "exif-samples/cameras/Canon_40D.jpg", photo)
    metadata = [
        TimeFinding(label="2008-05-30T15:56:01", source="DateTimeOriginal"),
        DeviceFinding(label="Canon EOS 40D", make="Canon", model="Canon EOS 40D"),
    ]
    runs = [
        DetectorRun(name, version, metadata if name == "metadata" else [])
        for name, version in VERSIONS.items()
    ]
    result = AnalysisResult(
        path=str(photo),
        stat=FileStat.of(photo),
        sha256=hashlib.sha256(photo.read_bytes()).hexdigest(),
        format="JPEG",
        width=100,
        height=68,
        runs=runs,
        signature=SIGNATURE,
    )
    now = clock.parse_pin(LIBRARY_NOW)
    store = Store.open(env.index)
    try:
        with clock.pinned(now):
            store.save(result)
            updater = ProfileUpdater(store, load_config(env.config_file))
            updater.catch_up(alert=False)
            updater.refresh(force=True, now=now.replace(tzinfo=None))
    finally:
        store.close()
    return env


def test_an_empty_brands_screen_says_what_finds_brands_today(tmp_path: Path) -> None:
    env = _brandless_library(tmp_path)

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        said = text_of(app, "#brand-chart")
        assert said.startswith("No brands read in your photos yet."), said
        assert "the text on your photos" in said, said
        assert "Product barcodes are not read: the codes detector is off." in said, said
        assert "Logos are not recognised: no logo model is installed." in said, said
        assert "logos and names appear" not in said

    drive(env, body, start="brands")


def test_a_one_photo_profile_says_photo_once(tmp_path: Path) -> None:
    env = _brandless_library(tmp_path)

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        assert text_of(app, "#profile-sentences").startswith("What your 1 photo tells a marketer")
        assert text_of(app, "#profile-devices").endswith("Canon EOS 40D (1 photo)")
        assert text_of(app, "#profile-habits").rstrip().endswith("1 dated photo, too few weeks for a rate")
        assert text_of(app, "#profile-mood-note") == "No face with a smile or expression reading yet."

    drive(env, body)
