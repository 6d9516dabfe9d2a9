"""Evidence one key away: every statement of the profile is a claim with a stable id and all
the photos behind it, printed by the CLI (three examples, ``--explain`` for all) and opened from
the TUI's Profile screen, on the seeded library (a real index built through the store)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from shadowlens.daemon.fsnames import shown
from shadowlens.daemon.index.writer import Store
from shadowlens.tui.app import ShadowlensApp
from shadowlens.tui.screens.evidence_list import EvidenceListScreen
from shadowlens.tui.screens.photo import PhotoScreen
from textual.widgets import DataTable, OptionList

from tests.conftest import Env
from tests.tui_support import build_library, cell_text, library_of, until, until_loaded

pytestmark = pytest.mark.corpus
ID_FIELDS = {"id", "kind", "text", "count", "days", "confidence", "why", "evidence", "photo_ids"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Env:
    env, _ = build_library(tmp_path_factory.mktemp("claims"))
    return env


def claims_by_id(env: Env) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in env.json("profile")["claims"]}


def test_every_statement_is_a_claim_with_all_its_photos(seeded: Env) -> None:
    profile = seeded.json("profile")
    claims = {c["id"]: c for c in profile["claims"]}
    # Home on four evenings and weekends, Italy and France, two cities, the located photos, and
    # the Heineken bottles: each statement under its readable id.
    assert {"place.home", "travel.countries", "travel.cities", "gps", "segment.drinker"} <= set(claims)
    for claim in claims.values():
        assert set(claim) == ID_FIELDS, claim
        assert claim["count"] == len(claim["evidence"]) == len(claim["photo_ids"]) > 0, claim
        assert all(Path(path).is_file() for path in claim["evidence"]), claim
    # The old plain list is still there, for the weekly digest: the same texts, in order.
    texts = [c["text"] for c in profile["claims"] if c["kind"] in ("place", "travel", "gps")]
    assert profile["statements"] == texts
    # The GPS line's photos are the located ones; home's are those the place counted.
    assert claims["gps"]["text"].startswith(f"{claims['gps']['count']} of {profile['photo_count']} photos")
    [home] = [p for p in profile["places"] if p["label"] == "home"]
    assert sorted(claims["place.home"]["photo_ids"]) == sorted(home["photo_ids"])
    assert claims["place.home"]["days"] == 4 and claims["place.home"]["confidence"] is None
    drinker = claims["segment.drinker"]
    assert drinker["confidence"] == next(
        s["confidence"] for s in profile["segments"] if s["name"] == "drinker"
    )
    assert drinker["why"] and {Path(p).name for p in drinker["evidence"]} == {"brand1.jpg", "brand2.jpg"}
    # Newest first: brand1 (2 May) before brand2 (26 April).
    assert [Path(p).name for p in drinker["evidence"]] == ["brand1.jpg", "brand2.jpg"]


def test_claim_ids_are_stable_across_rebuilds(seeded: Env) -> None:
    before = seeded.json("profile")["claims"]
    after = seeded.json("profile", "--refresh")["claims"]
    assert [(c["id"], c["evidence"]) for c in after] == [(c["id"], c["evidence"]) for c in before]


def test_the_cli_prints_each_claim_with_three_example_photos(seeded: Env) -> None:
    said = seeded.run("profile").stdout
    claims = claims_by_id(seeded)
    gps = claims["gps"]
    assert gps["count"] > 3
    line = f"  - {gps['text']} ({gps['count']} photos on {gps['days']} days)  [gps]"
    examples = ", ".join(shown(p) for p in gps["evidence"][:3]) + f" (+{gps['count'] - 3} more)"
    assert f"{line}\n      {examples}\n" in said, said
    drinker = claims["segment.drinker"]
    line = f"  - {drinker['text']} (2 photos on 2 days, confidence {drinker['confidence']:.0%})  [segment.drinker]"
    assert f"{line}\n      {', '.join(drinker['evidence'])}\n" in said, said


def test_explain_prints_every_photo_and_refuses_an_unknown_id(seeded: Env) -> None:
    gps = claims_by_id(seeded)["gps"]
    said = seeded.run("profile", "--explain", "gps").stdout.splitlines()
    assert said[0] == f"{gps['text']}  [gps]"
    assert said[said.index("Photos, newest first:") + 1 :] == [f"  {p}" for p in gps["evidence"]]
    why = seeded.run("profile", "--explain", "segment.drinker").stdout
    assert "\nWhy: " in why

    wrong = seeded.run("profile", "--explain", "segment.drinkr", check=False)
    assert wrong.returncode == 2 and wrong.stdout == ""
    assert wrong.stderr.strip().splitlines() == [
        "shadowlens: no statement with id 'segment.drinkr' (nearest: 'segment.drinker');"
        " `shadowlens profile` lists them all"
    ]


def test_json_keeps_the_whole_evidence_list(seeded: Env) -> None:
    raw = json.loads(seeded.run("profile", "--json").stdout)
    gps = next(c for c in raw["claims"] if c["id"] == "gps")
    assert len(gps["evidence"]) == gps["count"] > 3


def test_enter_on_a_statement_lists_its_photos_and_opens_one(seeded: Env) -> None:
    expected = claims_by_id(seeded)["segment.drinker"]

    async def main() -> None:
        app = ShadowlensApp(library_of(seeded))
        async with app.run_test(size=(120, 40)) as pilot:
            await until_loaded(pilot)
            options = app.screen.query_one("#profile-claims", OptionList)
            assert options.has_focus
            index = options.get_option_index("segment.drinker")
            while options.highlighted != index:
                await pilot.press("down")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, EvidenceListScreen) and app.screen.loaded)
            table = app.screen.query_one("#evidence-photos", DataTable)
            rows = [cell_text(table, i) for i in range(table.row_count)]
            assert [r.split()[-2] for r in rows] == [Path(p).name for p in expected["evidence"]], rows
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, PhotoScreen) and app.screen.loaded)
            assert isinstance(app.screen, PhotoScreen)
            assert app.screen.photo_path == expected["evidence"][0]
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, EvidenceListScreen))
            await pilot.press("escape")
            await until(pilot, lambda: type(app.screen).__name__ == "ProfileScreen")

    asyncio.run(main())


def test_an_older_profile_without_claims_still_lists_its_statements(tmp_path: Path) -> None:
    """A profile stored before claims existed: the CLI builds it anew, the TUI shows its
    sentences (segments with the paths they kept)."""
    from shadowlens.daemon.profile.stored import claims_of

    old = {
        "statements": ["13 of 18 photos carry a GPS location"],
        "segments": [
            {"name": "drinker", "sentence": "You probably drink", "confidence": 0.37, "evidence": ["/a.jpg"]}
        ],
    }
    assert [(c["id"], c["evidence"], c["photo_ids"]) for c in claims_of(old)] == [
        ("statement.1", [], None),
        ("segment.drinker", ["/a.jpg"], None),
    ]


def test_cli_rebuilds_a_stored_profile_without_claims(tmp_path: Path) -> None:
    env, _ = build_library(tmp_path)
    profile = env.json("profile")
    del profile["claims"]
    store = Store.open(env.index)
    try:
        store.profile.save_profile(profile)
    finally:
        store.close()
    said = env.run("profile").stdout
    assert "  [gps]\n" in said and "--explain ID" in said, said
