"""The TUI driven by Textual's Pilot on the seeded library (tests/seeded_library.py): every
screen, sorting and filtering, a photo's detail, renaming and merging people, dismissing an
alert, live updates, the alert threshold from the config."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from shadowlens.daemon.cli.tui_cmd import open_library
from shadowlens.daemon.config import load_config
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.paths import app_paths
from shadowlens.tui.app import ShadowlensApp
from shadowlens.tui.library import Library
from shadowlens.tui.safe_copy import flagged_paths
from textual.widgets import DataTable, Input, OptionList, Static

from tests.conftest import Env
from tests.daemon_helpers import query
from tests.tui_support import build_library, cell_text, library_of, until

pytestmark = pytest.mark.corpus
Body = Callable[[ShadowlensApp, Any], Awaitable[None]]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Env, Path]:
    return build_library(tmp_path_factory.mktemp("tui"))


def drive(library: Library, body: Body, size: tuple[int, int] = (120, 40), **options: Any) -> None:
    async def main() -> None:
        app = ShadowlensApp(library, **options)
        async with app.run_test(size=size) as pilot:
            await pilot.pause(0.3)
            await body(app, pilot)

    asyncio.run(main())


def text_of(app: ShadowlensApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def test_every_screen_opens_and_shows_its_data(indexed: tuple[Env, Path]) -> None:
    env, _ = indexed

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        expected = {
            "1": ("ProfileScreen", "#profile-sentences", "What your"),
            "2": ("PhotosScreen", "#photos-count", "photos"),
            "3": ("PeopleScreen", "#people-table", None),
            "4": ("PlacesScreen", "#places-table", None),
            "5": ("BrandsScreen", "#brand-chart", "Heineken"),
            "6": ("AlertsScreen", "#alerts-table", None),
            "7": ("StatusScreen", "#status-daemon", "not running"),
        }
        for key, (screen, selector, words) in expected.items():
            await pilot.press(key)
            await until(pilot, lambda s=screen: type(app.screen).__name__ == s and app.screen.loaded)  # type: ignore[attr-defined]
            widget = app.screen.query_one(selector)
            if words:
                assert words.lower() in str(widget.render()).lower(), (screen, str(widget.render())[:300])

    drive(library_of(env), body)


def test_the_profile_screen_says_what_a_marketer_learns(indexed: tuple[Env, Path]) -> None:
    env, _ = indexed

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        await until(pilot, lambda: app.screen.loaded)  # type: ignore[attr-defined]
        options = app.screen.query_one("#profile-claims", OptionList)
        sentences = " ".join(str(options.get_option_at_index(i).prompt) for i in range(options.option_count))
        assert "photos carry a GPS location" in sentences
        assert "Heineken" in text_of(app, "#profile-brands")
        assert "you:" in text_of(app, "#profile-people")

    drive(library_of(env), body)


def test_photos_sort_filter_search_and_open_a_photo(indexed: tuple[Env, Path]) -> None:
    env, _ = indexed

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        screen: Any = app.screen
        await until(pilot, lambda: type(app.screen).__name__ == "PhotosScreen" and app.screen.loaded)  # type: ignore[attr-defined]
        screen = app.screen
        total = screen.total
        assert Path(screen.paths[0]).name == "risky.jpg", "highest exposure first"
        await pilot.press("d")
        await until(pilot, lambda: screen.sort == "date" and screen.loaded)
        await pilot.press("g")
        await until(pilot, lambda: screen.filters.has_gps and screen.total < total)
        assert all("faces" not in p for p in screen.paths), "the face photos have no GPS"
        await pilot.press("g", "slash")
        await pilot.press(*"risky")
        await until(pilot, lambda: screen.total == 1)
        await pilot.press("enter")
        await until(
            pilot, lambda: type(app.screen).__name__ == "PhotosScreen" and screen.paths == [screen.paths[0]]
        )
        table = screen.query_one("#photos-table", DataTable)
        table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "PhotoScreen" and app.screen.loaded)  # type: ignore[attr-defined]
        reasons = text_of(app, "#photo-reasons")
        assert "payment card" in reasons and "+40" in reasons
        assert "4242 4242 4242 4242" not in text_of(app, "#photo-findings")
        await pilot.press("s")
        await until(
            pilot, lambda: query(env.index, "SELECT count(*) FROM photos WHERE marked_safe = 1") == [(1,)]
        )
        await pilot.press("s")
        await until(
            pilot, lambda: query(env.index, "SELECT count(*) FROM photos WHERE marked_safe = 1") == [(0,)]
        )
        await pilot.press("escape")
        await until(pilot, lambda: type(app.screen).__name__ == "PhotosScreen")

    drive(library_of(env), body, start="photos")


def test_rename_and_merge_people(indexed: tuple[Env, Path]) -> None:
    env, _ = indexed
    persons_before = query(env.index, "SELECT id FROM persons ORDER BY photo_count DESC, id")
    assert len(persons_before) >= 1

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        await until(pilot, lambda: type(app.screen).__name__ == "PeopleScreen" and app.screen.loaded)  # type: ignore[attr-defined]
        app.screen.query_one("#people-table", DataTable).focus()
        await pilot.press("n")
        await pilot.pause(0.3)
        app.screen.query_one(Input).value = "Barack"
        await pilot.press("enter")
        top = persons_before[0][0]
        await until(
            pilot, lambda: query(env.index, "SELECT name FROM persons WHERE id = ?", top) == [("Barack",)]
        )

    drive(library_of(env), body, start="people")
    # Merge through the same store API the screen uses; the TUI then shows one person fewer.
    extra = Store.open(env.index)
    try:
        face = query(env.index, "SELECT id FROM faces WHERE person_id = ? LIMIT 1", persons_before[0][0])[0][
            0
        ]
        alone = extra.profile.split_face(int(face))
    finally:
        extra.close()

    async def merge(app: ShadowlensApp, pilot: Any) -> None:
        await until(pilot, lambda: type(app.screen).__name__ == "PeopleScreen" and app.screen.loaded)  # type: ignore[attr-defined]
        table = app.screen.query_one("#people-table", DataTable)
        table.focus()
        rows = [cell_text(table, i) for i in range(table.row_count)]
        target = next(i for i, r in enumerate(rows) if "Barack" in r)
        other = next(i for i, r in enumerate(rows) if f"person {alone}" in r)
        table.move_cursor(row=other)
        await pilot.press("space")
        table.move_cursor(row=target)
        await pilot.press("m")
        await pilot.pause(0.3)
        await pilot.press("y")  # confirm
        await until(
            pilot, lambda: query(env.index, "SELECT count(*) FROM persons WHERE id = ?", alone) == [(0,)]
        )

    drive(library_of(env), merge, start="people")


def test_dismiss_an_alert_and_jump_to_its_photo(indexed: tuple[Env, Path]) -> None:
    env, _ = indexed
    writer = Store.open(env.index)  # an earlier test marked the photo safe, which dismissed it
    try:
        writer.profile.set_alert_state([a for (a,) in query(env.index, "SELECT id FROM alerts")], "new")
    finally:
        writer.close()
    assert query(env.index, "SELECT count(*) FROM alerts WHERE state = 'new'") == [(1,)]

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        await until(pilot, lambda: type(app.screen).__name__ == "AlertsScreen" and app.screen.loaded)  # type: ignore[attr-defined]
        app.screen.query_one("#alerts-table", DataTable).focus()
        assert "payment card" in text_of(app, "#alert-detail")
        await pilot.press("d")
        await until(pilot, lambda: query(env.index, "SELECT state FROM alerts") == [("dismissed",)])
        await pilot.press("a")
        await until(pilot, lambda: app.screen.include_all and app.screen.alerts != [])  # type: ignore[attr-defined]
        await app.workers.wait_for_complete()
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "PhotoScreen")

    drive(library_of(env), body, start="alerts")


def test_screens_update_live_when_the_index_changes(indexed: tuple[Env, Path]) -> None:
    env, _ = indexed

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        await until(pilot, lambda: type(app.screen).__name__ == "PeopleScreen" and app.screen.loaded)  # type: ignore[attr-defined]
        person = query(env.index, "SELECT id FROM persons ORDER BY photo_count DESC LIMIT 1")[0][0]
        writer = Store.open(env.index)  # another process's writer, as the daemon would be
        try:
            writer.profile.rename_person(int(person), "Renamed Elsewhere")
        finally:
            writer.close()
        table = app.screen.query_one("#people-table", DataTable)

        def shown() -> bool:
            return any("Renamed Elsewhere" in cell_text(table, i) for i in range(table.row_count))

        # The promise: within 2 s (the app polls once a second); slack for a busy CI.
        await until(pilot, shown, timeout=4.0)

    drive(library_of(env), body, start="people")


def test_small_terminal_and_light_theme(indexed: tuple[Env, Path]) -> None:
    env, _ = indexed

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        assert app.theme == "textual-light"
        for key in "1234567":
            await pilot.press(key)
            await until(pilot, lambda: app.screen.loaded)  # type: ignore[attr-defined]
        await pilot.press("ctrl+t")
        assert app.theme == "textual-dark"

    drive(library_of(env), body, size=(80, 24), theme="textual-light")


def test_first_run_says_how_to_start(tmp_path: Path) -> None:
    library = Library(tmp_path / "none" / "index.sqlite3", tmp_path / "state")

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        await pilot.pause(0.3)
        words = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert type(app.screen).__name__ == "FirstRunScreen"
        assert "shadowlens scan" in words and "service install" in words

    drive(library, body)


def test_the_command_palette_switches_screens(indexed: tuple[Env, Path]) -> None:
    env, _ = indexed

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        await until(pilot, lambda: app.screen.loaded)  # type: ignore[attr-defined]
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"Go to Brands")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "BrandsScreen")

    drive(library_of(env), body)


def test_a_safe_copy_from_the_photo_screen(
    indexed: tuple[Env, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, library_folder = indexed
    for key, value in env.vars.items():  # the child `shadowlens scrub` reads the same index
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(tmp_path / "Documents"))
    risky = library_folder / "rendered" / "risky.jpg"
    copy = tmp_path / "Documents" / "shadowlens safe copies" / "risky.jpg"

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        await until(pilot, lambda: type(app.screen).__name__ == "PhotoScreen" and app.screen.loaded)  # type: ignore[attr-defined]
        await pilot.press("c")
        await until(pilot, copy.exists, timeout=120)

    drive(library_of(env), body, start="photos", photo=str(risky))
    assert risky.exists() and copy.exists()
    from PIL import Image

    with Image.open(copy) as image:
        assert not image.getexif()


def test_the_alert_threshold_comes_from_the_config(
    indexed: tuple[Env, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At [alerts] threshold = 40 the photos at home (exposure 45) are risky: red, and copied by
    "Copy risky"; at the default 60 only the card's photo (100) is."""
    env, _ = indexed
    for key, value in env.vars.items():
        monkeypatch.setenv(key, value)
    config_file = tmp_path / "config.toml"
    config_file.write_text("[alerts]\nthreshold = 40\n", encoding="utf-8")
    library = open_library(load_config(config_file), app_paths(config_file))
    assert (library.alert_threshold, library.index_path) == (40, env.index)
    names = sorted(Path(p).name for p in flagged_paths(library))
    assert names == ["brand1.jpg", "brand2.jpg", "coffee.jpg", "risky.jpg"]
    assert [Path(p).name for p in flagged_paths(library_of(env))] == ["risky.jpg"]

    async def body(app: ShadowlensApp, pilot: Any) -> None:
        await until(pilot, lambda: type(app.screen).__name__ == "PhotosScreen" and app.screen.loaded)  # type: ignore[attr-defined]
        table = app.screen.query_one("#photos-table", DataTable)
        styles = {
            str(table.get_row_at(i)[0].plain): str(table.get_row_at(i)[0].style)
            for i in range(table.row_count)
        }
        assert styles["100"] == styles["45"] == "bold red" and styles["15"] == "", styles

    drive(library, body, start="photos")
