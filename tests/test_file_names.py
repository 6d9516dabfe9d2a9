"""File names whose bytes are not UTF-8 (old cameras, SMB shares, unzipped archives): every one
is indexed beside the valid photos and its exact bytes come back out of the index, ``photos
--json``, ``show``, ``alerts``, the TUI, notifications, ``scrub`` and the watch daemon."""

from __future__ import annotations

import asyncio
import json
import os
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from shadowlens.daemon.alerts.batching import AlertNotice, single_notification, summary_notification
from shadowlens.daemon.alerts.notify import notification_payload
from shadowlens.daemon.fsnames import from_index_text, index_text, json_text, shown
from shadowlens.tui.app import ShadowlensApp
from textual.widgets import DataTable

from tests.conftest import LIBRARY_NOW, Env, small_jpeg
from tests.daemon_helpers import WatchProcess, query, wait_for
from tests.library_builder import Shot, write_shot
from tests.tui_support import cell_text, library_of, until, until_loaded

LATIN1 = os.fsdecode(b"F\xeate.jpg")  # "Fete" with e-circumflex in Latin-1: not UTF-8
CP1252 = os.fsdecode(b"Caf\xe9 \x80 menu.jpg")  # CP-1252's euro sign, alone, is no UTF-8 either
PRIVATE_USE = "stored\uef80\uef7fform.jpg"  # real characters of the range the index escapes into
FOLDER = os.fsdecode(b"Urlaub \xfc")  # a folder whose own name is Latin-1
FAST = "".join(f"[detectors.{n}]\nenabled = false\n" for n in ("faces", "codes", "nudity"))


def random_name(rng: random.Random) -> str:
    """Any bytes a POSIX name may hold (no NUL, no slash), as Python sees them."""
    pieces = [
        bytes(rng.choice([b for b in range(1, 256) if b != 0x2F]) for _ in range(rng.randint(1, 12))),
        "\uef7f\uef80\uefff\u00e9\U0001f600".encode()[rng.randint(0, 5) :],
    ]
    rng.shuffle(pieces)
    return os.fsdecode(b"".join(pieces).replace(b"/", b"_"))


def test_the_stored_form_is_exact_both_ways_and_keeps_prefixes() -> None:
    rng = random.Random(12)
    for _ in range(3000):
        folder, name = random_name(rng), random_name(rng)
        path = f"/{folder}/{name}"
        stored = index_text(path)
        stored.encode("utf-8")  # SQLite takes it
        assert from_index_text(stored) == path
        assert stored.startswith(index_text(f"/{folder}/"))
        assert os.fsencode(json.loads(json_text({"path": path}))["path"]) == os.fsencode(path)
    assert index_text("/photos/ok.jpg") == "/photos/ok.jpg"  # UTF-8 names are stored as they are
    assert shown(LATIN1) == "F\\xeate.jpg"
    with pytest.raises(ValueError, match="surrogate"):
        index_text("\ud800.jpg")  # no file name decodes to this


def test_notifications_and_the_hook_carry_printable_text_and_the_exact_name() -> None:
    notice = AlertNotice(7, 3, f"/home/u/{LATIN1}", 75, ["a payment card number"])
    body = single_notification(notice).body + summary_notification([notice, notice]).body
    body.encode("utf-8")  # D-Bus sends UTF-8
    assert "F\\xeate.jpg" in body
    payload = json.loads(json_text(notification_payload(single_notification(notice), [notice])))
    assert os.fsencode(payload["alerts"][0]["path"]) == os.fsencode(notice.path)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Env, Path]:
    root = tmp_path_factory.mktemp("names")
    env, library = Env(root / "home", now=LIBRARY_NOW), root / "library"
    when = datetime(2025, 5, 1, 12, 0)
    # A risky photo under a Latin-1 name, so an alert points at it too.
    write_shot(Shot(LATIN1, when, 48.8584, 2.2945, ["4242 4242 4242 4242", "Call +44 20 7946 0958"]), library)
    small_jpeg(library / "valid.jpg")
    small_jpeg(library / CP1252, color=(10, 200, 30))
    small_jpeg(library / PRIVATE_USE, color=(10, 30, 200))
    small_jpeg(library / FOLDER / "inside.jpg", color=(90, 90, 90))
    env.write_config(FAST)
    env.run("scan", str(library))
    return env, library


def names_in(library: Path) -> set[bytes]:
    return {os.fsencode(p) for p in library.rglob("*.jpg")}


def test_scan_indexes_every_name_beside_the_valid_photos(scanned: tuple[Env, Path]) -> None:
    env, library = scanned
    items = env.json("photos")
    assert {os.fsencode(item["path"]) for item in items} == names_in(library)
    assert all(item["status"] == "indexed" for item in items), [(i["path"], i["error"]) for i in items]
    listing = env.run("photos").stdout
    assert "F\\xeate.jpg" in listing and "Caf\\xe9 \\x80 menu.jpg" in listing
    assert "Urlaub \\xfc/inside.jpg" in listing
    # A rescan finds every file unchanged: the stored names match the ones on disk.
    summary = env.json("scan", str(library))
    assert (summary["unchanged"], summary["indexed"], summary["errors"]) == (5, 0, 0)


def test_show_and_alerts_name_the_photo(scanned: tuple[Env, Path]) -> None:
    env, library = scanned
    risky = library / LATIN1
    shown_text = env.run("show", str(risky)).stdout
    assert f"path      {shown(str(risky))}" in shown_text and "payment card" in shown_text
    detail = env.json("show", str(risky))
    assert os.fsencode(detail["path"]) == os.fsencode(risky)
    alerts = env.json("alerts")
    assert [os.fsencode(a["path"]) for a in alerts] == [os.fsencode(risky)]
    assert "F\\xeate.jpg" in env.run("alerts").stdout


def test_a_safe_copy_of_a_non_utf8_name(scanned: tuple[Env, Path], tmp_path: Path) -> None:
    env, library = scanned
    out = tmp_path / "safe"
    report = env.json("scrub", "--out", str(out), str(library / LATIN1))
    assert report[0]["ok"] is True, report
    copy = Path(report[0]["copy"])
    assert copy.exists() and copy.parent == out and os.fsencode(copy.name).startswith(b"F\xeate")


def test_the_tui_lists_and_opens_the_photo(scanned: tuple[Env, Path]) -> None:
    env, library = scanned

    async def main() -> None:
        app = ShadowlensApp(library_of(env), start="photos")
        async with app.run_test(size=(140, 30)) as pilot:
            await until_loaded(pilot)
            table = app.screen.query_one(DataTable)
            rows = [cell_text(table, i) for i in range(table.row_count)]
            assert any("F\\xeate.jpg" in row for row in rows), rows
            app.open_photo(str(library / LATIN1))
            await until(pilot, lambda: type(app.screen).__name__ == "PhotoScreen")
            await until_loaded(pilot)
            paths = str(app.screen.query_one("#photo-paths").render())
            assert "F\\xeate.jpg" in paths

    asyncio.run(main())


def test_the_watch_daemon_indexes_a_new_non_utf8_name(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    env.write_config(FAST)
    daemon = WatchProcess(env, folder)
    try:
        daemon.wait_ready()
        staged = small_jpeg(tmp_path / "staging.jpg")
        target = folder / LATIN1
        os.rename(staged, target)  # as a sync tool publishes a finished download

        def indexed() -> bool:
            rows: list[Any] = query(
                env.index, "SELECT status FROM files WHERE path = ?", index_text(str(target))
            )
            return rows == [("indexed",)]

        wait_for(indexed, 60, "the Latin-1 name to be indexed", daemon)
        code, _ = daemon.terminate()
        output = daemon.output()
    finally:
        daemon.stop()
    assert code == 0 and "Traceback" not in output, output
