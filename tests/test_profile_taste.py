"""Brand affinity, mood and marketing segments, on small synthetic libraries with exact answers."""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from shadowlens.daemon.analysis.hooks import StoredFinding
from shadowlens.daemon.profile.facts import (
    BrandHit,
    FaceFact,
    PhotoCore,
    PhotoFacts,
    installed_hooks,
    photo_facts,
)
from shadowlens.daemon.profile.segments import (
    RULES,
    Segment,
    SegmentContext,
    SegmentRule,
    Signal,
    confidence,
    day_capped_count,
    evaluate,
    load_rules,
)
from shadowlens.daemon.profile.taste import brand_affinity, category_counts, mood, parent_counts

from tests.conftest import REPO

NOW = datetime(2025, 6, 30, 12, 0)
OWNER = 1
COKE = BrandHit("Coca-Cola", "soft drinks", "The Coca-Cola Company", "text")
SPRITE = BrandHit("Sprite", "soft drinks", "The Coca-Cola Company", "logo")
HEINEKEN = BrandHit("Heineken", "alcohol", "Heineken N.V.", "text")


def brand(name: str, category: str = "food") -> BrandHit:
    return BrandHit(name, category, f"{name} Group", "text")


def face(
    person: int | None = None,
    age: float | None = 30.0,
    smiling: bool | None = None,
    expression: str | None = None,
) -> FaceFact:
    return FaceFact(face_id=-1, person_id=person, age=age, smiling=smiling, expression=expression)


def photo(
    photo_id: int,
    taken_at: datetime | None = NOW,
    *,
    brands: Sequence[BrandHit] = (),
    faces: Sequence[FaceFact] = (),
    objects: Sequence[str] = (),
    scenes: Sequence[str] = (),
    codes: Sequence[str] = (),
) -> PhotoFacts:
    """A photo as the profile loads it: its brands, objects, scenes and codes are findings of the
    built-in detectors, turned into facts by those detectors' hooks."""
    findings = [
        StoredFinding(
            "brands", "brand", b.name, attrs={"category": b.category, "parent": b.parent, "via": b.via}
        )
        for b in brands
    ]
    findings += [StoredFinding("objects", "object", label) for label in objects]
    findings += [StoredFinding("scene", "scene", label) for label in scenes]
    findings += [StoredFinding("codes", "code", "QR_CODE", attrs={"payload_type": kind}) for kind in codes]
    core = PhotoCore(taken_at=taken_at)
    built = photo_facts(photo_id, f"/pics/{photo_id}.jpg", core, findings, installed_hooks())
    return replace(built, faces=tuple(faces))


def days_ago(days: float, hour: int = 12) -> datetime:
    return (NOW - timedelta(days=days)).replace(hour=hour, minute=0)


# ---------------------------------------------------------------- brand affinity


def test_a_brand_counts_once_per_photo_and_days_are_distinct_dates() -> None:
    photos = [
        photo(1, days_ago(0, 9), brands=(COKE, COKE, SPRITE)),
        photo(2, days_ago(0, 18), brands=(COKE,)),
        photo(3, days_ago(3), brands=(COKE,)),
        photo(4, None, brands=(COKE,)),
    ]
    coke = next(a for a in brand_affinity(photos, None, NOW) if a.name == "Coca-Cola")
    assert (coke.photo_count, coke.days) == (4, 2)
    assert (coke.first_seen, coke.last_seen) == (days_ago(3), days_ago(0, 18))
    assert coke.evidence == [2, 1, 3, 4]  # newest first, undated last
    assert (coke.category, coke.parent) == ("soft drinks", "The Coca-Cola Company")


def test_more_days_rank_higher_at_equal_photo_counts() -> None:
    habit = [photo(i, days_ago(i), brands=(brand("Daily"),)) for i in range(4)]
    binge = [photo(10 + i, days_ago(0, 8 + i), brands=(brand("Once"),)) for i in range(4)]
    ranked = brand_affinity(binge + habit, None, NOW)
    assert [a.name for a in ranked] == ["Daily", "Once"]
    assert ranked[1].score == pytest.approx(4 + 2 * 1)  # seen today: weight 1
    assert ranked[0].score == pytest.approx(4 + 2 * 4)


def test_recency_halves_the_score_every_180_days() -> None:
    old = [photo(i, days_ago(180 + i), brands=(brand("Old"),)) for i in range(4)]
    new = [photo(10 + i, days_ago(i), brands=(brand("New"),)) for i in range(3)]
    ranked = brand_affinity(old + new, None, NOW)
    assert [a.name for a in ranked] == ["New", "Old"]  # fewer photos, but recent
    assert ranked[1].score == pytest.approx((4 + 2 * 4) * 0.5)
    assert ranked[0].score == pytest.approx(3 + 2 * 3)
    undated = brand_affinity([photo(20, None, brands=(brand("Undated"),))], None, NOW)[0]
    assert undated.score == pytest.approx(1 * 0.5)


def test_photos_with_the_owner_count_and_add_a_bonus() -> None:
    photos = [
        photo(1, days_ago(0), brands=(HEINEKEN,), faces=(face(OWNER), face(2))),
        photo(2, days_ago(0), brands=(HEINEKEN,), faces=(face(2),)),
        photo(3, days_ago(0), brands=(HEINEKEN,), faces=(face(OWNER), face(OWNER))),
    ]
    [with_owner] = brand_affinity(photos, OWNER, NOW)
    assert with_owner.with_owner == 2
    assert with_owner.score == pytest.approx(3 + 2 * 1 + 2)
    [without_owner] = brand_affinity(photos, None, NOW)
    assert without_owner.with_owner == 0
    assert without_owner.score == pytest.approx(3 + 2 * 1)


def test_evidence_is_capped_at_20_newest_first_and_as_dict_is_json() -> None:
    photos = [photo(i, days_ago(i), brands=(COKE,)) for i in range(25)]
    [coke] = brand_affinity(photos, None, NOW)
    assert coke.evidence == list(range(20))
    row = json.loads(json.dumps(coke.as_dict()))
    assert set(row) == {
        "name", "category", "parent", "photo_count", "days", "first_seen", "last_seen", "with_owner", "score",
    }  # fmt: skip
    assert row["last_seen"] == "2025-06-30T12:00:00"
    assert row["photo_count"] == 25


def test_categories_and_parents_roll_up_distinct_photos() -> None:
    photos = [
        photo(1, brands=(COKE, SPRITE)),
        photo(2, brands=(COKE,)),
        photo(3, brands=(HEINEKEN,)),
        photo(4, brands=(SPRITE,)),
        photo(5, brands=(HEINEKEN,)),
    ]
    affinities = brand_affinity(photos, None, NOW)
    assert parent_counts(affinities) == [
        {"parent": "The Coca-Cola Company", "photo_count": 3, "brands": ["Coca-Cola", "Sprite"]},
        {"parent": "Heineken N.V.", "photo_count": 2, "brands": ["Heineken"]},
    ]
    assert category_counts(affinities) == [
        {"category": "soft drinks", "photo_count": 3, "brands": ["Coca-Cola", "Sprite"]},
        {"category": "alcohol", "photo_count": 2, "brands": ["Heineken"]},
    ]
    assert category_counts([]) == [] and parent_counts([]) == []


def test_rollups_count_every_photo_not_only_the_evidence_shown() -> None:
    affinities = brand_affinity([photo(i, days_ago(i), brands=(COKE,)) for i in range(25)], None, NOW)
    assert affinities[0].evidence == list(range(20))
    assert parent_counts(affinities)[0]["photo_count"] == 25


# ---------------------------------------------------------------- mood


def mood_library() -> list[PhotoFacts]:
    return [
        # 2024-12-30 is the Monday of ISO week 1 of 2025
        photo(1, datetime(2024, 12, 30, 10), faces=(face(smiling=True, expression="happy"), face(smiling=False, expression="neutral"))),
        photo(2, datetime(2025, 1, 13, 10), faces=(face(expression="happy"), face())),  # no reading: skipped
        photo(3, datetime(2025, 1, 19, 22), faces=(face(smiling=False), face(smiling=True, expression="surprised"))),
        photo(4, datetime(2025, 2, 3, 10), faces=(face(),)),
        photo(5, None, faces=(face(smiling=True), face(smiling=True))),
    ]  # fmt: skip


PLACES = {1: "home", 2: "Lisbon", 3: "Lisbon", 4: "Paris", 5: "home"}


def test_weekly_mood_counts_faces_with_a_reading_by_iso_week() -> None:
    assert mood(mood_library(), None, lambda p: PLACES.get(p.photo_id)).weekly == [
        {"week": "2025-W01", "faces": 2, "smiles": 1, "smile_share": 0.5, "expressions": {"happy": 1, "neutral": 1}},
        {"week": "2025-W03", "faces": 3, "smiles": 2, "smile_share": 0.667, "expressions": {"happy": 1, "surprised": 1}},
    ]  # fmt: skip


def test_mood_by_place_uses_undated_photos_too() -> None:
    assert mood(mood_library(), None, lambda p: PLACES.get(p.photo_id)).by_place == [
        {"place": "home", "faces": 4, "smiles": 3, "smile_share": 0.75},
        {"place": "Lisbon", "faces": 3, "smiles": 2, "smile_share": 0.667},
    ]
    assert mood(mood_library(), None, lambda p: None).by_place == []


def test_mood_by_person_is_how_often_the_owner_smiles_with_them() -> None:
    photos = [
        photo(1, faces=(face(OWNER, smiling=True), face(2), face(3))),
        photo(2, faces=(face(OWNER, smiling=False), face(2, smiling=True))),
        photo(3, faces=(face(OWNER), face(2))),  # the owner's face has no reading
        photo(4, faces=(face(3, smiling=True),)),  # the owner is absent
        photo(5, faces=(face(OWNER, expression="happy"), face(None))),  # an unknown person
    ]
    result = mood(photos, OWNER, lambda p: None)
    assert result.by_person == [
        {"person_id": 2, "photos": 2, "owner_smiles": 1, "owner_faces": 2, "smile_share": 0.5},
        {"person_id": 3, "photos": 1, "owner_smiles": 1, "owner_faces": 1, "smile_share": 1.0},
    ]
    assert mood(photos, None, lambda p: None).by_person == []
    assert json.loads(json.dumps(result.as_dict())).keys() == {"weekly", "by_place", "by_person"}


# ---------------------------------------------------------------- segments

SIGNAL_RULES = """
[segments.by_category]
title = "t"
sentence = "{count} photos"
why = "w"
signals = [{ brand_category = ["Alcohol"] }]
min_photos = 1
[segments.by_brand]
title = "t"
sentence = "{count} photos"
why = "w"
signals = [{ brand = ["coca-cola"] }]
min_photos = 1
[segments.by_object]
title = "t"
sentence = "{count} photos"
why = "w"
signals = [{ object = ["dog"] }]
min_photos = 1
[segments.by_scene]
title = "t"
sentence = "{count} photos"
why = "w"
signals = [{ scene = ["id_card"] }]
min_photos = 1
[segments.by_code]
title = "t"
sentence = "{count} photos"
why = "w"
signals = [{ code = ["boarding_pass"] }]
min_photos = 1
[segments.by_child]
title = "t"
sentence = "{count} photos"
why = "w"
signals = [{ child_face = true }]
min_photos = 1
[segments.by_trip]
title = "t"
sentence = "{count} photos"
why = "w"
signals = [{ trip = true }]
min_photos = 1
[segments.by_night]
title = "t"
sentence = "{count} photos"
why = "w"
signals = [{ night = true }]
min_photos = 1
[segments.by_place]
title = "t"
sentence = "{count} photos"
why = "w"
signals = [{ place_label = ["home"] }]
min_photos = 1
"""


def signal_library() -> list[PhotoFacts]:
    return [
        photo(1, brands=(HEINEKEN,)),
        photo(2, brands=(COKE, SPRITE)),
        photo(3, objects=("dog", "person")),
        photo(4, objects=("cat",)),
        photo(5, scenes=("id_card",)),
        photo(6, scenes=("document",)),
        photo(7, codes=("boarding_pass",)),
        photo(8, codes=("url",)),
        photo(9, faces=(face(5, age=6.0),)),
        photo(10, faces=(face(OWNER, age=10.0),)),  # the age model guesses the owner young
        photo(11, faces=(face(6, age=30.0), face(7, age=None))),
        photo(12, None, faces=(face(None, age=12.9),)),
        photo(13),
        photo(14, NOW.replace(hour=2, minute=30)),
        photo(15, NOW.replace(hour=0, minute=0)),
        photo(16, NOW.replace(hour=5, minute=0)),
        photo(17, NOW.replace(hour=23, minute=59)),
        photo(18),
        photo(19),
    ]


def signal_context(owner: int | None = OWNER) -> SegmentContext:
    places = {18: "Home", 19: "Lisbon"}
    return SegmentContext(
        owner=owner, trip_photo_ids=frozenset({13, 3}), place_of=lambda p: places.get(p.photo_id)
    )


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ("by_category", {1}),
        ("by_brand", {2}),
        ("by_object", {3}),
        ("by_scene", {5}),
        ("by_code", {7}),
        ("by_child", {9, 12}),
        ("by_trip", {3, 13}),
        ("by_night", {14, 15}),
        ("by_place", {18}),
    ],
)
def test_each_signal_fires_on_its_photos_only(tmp_path: Path, segment: str, expected: set[int]) -> None:
    (tmp_path / "segments.toml").write_text(SIGNAL_RULES)
    found = {
        s.name: s
        for s in evaluate(signal_library(), load_rules(tmp_path / "segments.toml"), signal_context())
    }
    assert set(found[segment].evidence) == expected
    assert found[segment].sentence == f"{len(expected)} photos"


def test_without_an_owner_every_young_face_is_a_child() -> None:
    rule = SegmentRule("kids", "t", "{count}", (Signal("child_face"),), min_photos=1)
    [kids] = evaluate(signal_library(), [rule], signal_context(owner=None))
    assert set(kids.evidence) == {9, 10, 12}


def test_confidence_rises_with_evidence_and_is_zero_below_min_photos() -> None:
    rule = SegmentRule("dogs", "Dogs", "{count} dogs", (Signal("object", frozenset({"dog"})),), 10, 3)
    assert [confidence(n, rule) for n in (0, 2, 3, 5, 10, 20)] == [0.0, 0.0, 0.5, 0.68, 0.9, 0.99]
    assert confidence(3, rule) == round(1 - math.exp(-math.log(10) * 3 / 10), 2)
    dogs = [photo(i, days_ago(i), objects=("dog",)) for i in range(60)]
    assert evaluate(dogs[:2], [rule], SegmentContext(owner=None)) == []
    assert evaluate(dogs[:3], [rule], SegmentContext(owner=None))[0].confidence == 0.5
    [many] = evaluate([*dogs, photo(99, objects=("cat",))], [rule], SegmentContext(owner=None))
    assert many.confidence == 1.0 and many.sentence == "60 dogs"
    assert many.evidence == list(range(60))  # newest first, every photo: a claim lists them all
    assert many.as_dict(lambda i: f"/p/{i}")["evidence"][:2] == ["/p/0", "/p/1"]


def test_a_burst_on_few_days_counts_less_than_the_same_photos_on_many_days() -> None:
    rule = SegmentRule("dogs", "Dogs", "{count} dogs", (Signal("object", frozenset({"dog"})),), 10, 3)
    burst = [photo(i, days_ago(i % 2, hour=10 + i % 8), objects=("dog",)) for i in range(40)]
    spread = [photo(i, days_ago(i), objects=("dog",)) for i in range(6)]
    [few_days] = evaluate(burst, [rule], SegmentContext(owner=None))
    [many_days] = evaluate(spread, [rule], SegmentContext(owner=None))
    # 40 photos on 2 days count as 2 x PER_DAY_CAP = 6, the same as 6 photos on 6 days
    assert few_days.confidence == many_days.confidence == confidence(6, rule) == 0.75
    assert few_days.sentence == "40 dogs" and len(few_days.evidence) == 40
    assert day_capped_count([photo(1, None), photo(2, None)]) == 2  # undated: one each


def test_segments_come_highest_confidence_first() -> None:
    def rule(name: str, label: str) -> SegmentRule:
        return SegmentRule(name, name, "{count}", (Signal("object", frozenset({label})),), 10, 1)

    photos = [photo(1, objects=("cat",)), photo(2, objects=("dog",)), photo(3, objects=("dog",))]
    result = evaluate(photos, [rule("cats", "cat"), rule("dogs", "dog")], SegmentContext(owner=None))
    assert [s.name for s in result] == ["dogs", "cats"]
    assert result[0] == Segment("dogs", "dogs", "2", 0.37, [3, 2])


def test_night_owl_needs_a_share_of_the_dated_photos() -> None:
    [night_owl] = [r for r in load_rules() if r.name == "night_owl"]
    assert night_owl.min_share == 0.15
    nights = [photo(i, days_ago(i, hour=1)) for i in range(6)]
    days = [photo(100 + i, days_ago(i)) for i in range(34)]
    undated = [photo(200 + i, None) for i in range(30)]
    context = SegmentContext(owner=None)
    assert [s.name for s in evaluate(nights + days + undated, [night_owl], context)] == ["night_owl"]  # 6/40
    assert evaluate(nights + days + [photo(300, days_ago(1))], [night_owl], context) == []  # 6/41 < 0.15
    assert evaluate(nights[:4], [night_owl], context) == []  # every photo, but fewer than min_photos


GOOD_SEGMENT = '[segments.x]\ntitle = "X"\nsentence = "{count}"\nwhy = "w"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD_SEGMENT, "segments.x.signals: missing: a non-empty list of signals is required"),
        (GOOD_SEGMENT + "signals = []", "segments.x.signals: missing: a non-empty list of signals is required"),
        (GOOD_SEGMENT + 'signals = [{ object = "dog" }]', "segments.x.signals[0]: signal 'object' must be a non-empty list of names"),
        (GOOD_SEGMENT + "signals = [{ object = [] }]", "segments.x.signals[0]: signal 'object' must be a non-empty list of names"),
        (GOOD_SEGMENT + 'signals = [{ night = "yes" }]', "segments.x.signals[0]: signal 'night' must be true"),
        (GOOD_SEGMENT + 'signals = [{ night = true, trip = true }]', "segments.x.signals[0]: a signal must be a table with exactly one key, e.g. { object = ['dog'] }"),
        (GOOD_SEGMENT + 'signals = ["dog"]', "segments.x.signals[0]: a signal must be a table with exactly one key, e.g. { object = ['dog'] }"),
        (GOOD_SEGMENT + 'signals = [{ trip = true }]\nsaturation = "ten"', "segments.x.saturation: must be a number"),
        (GOOD_SEGMENT + "signals = [{ trip = true }]\nsaturation = 0", "segments.x.saturation: must be greater than 0"),
        (GOOD_SEGMENT + "signals = [{ trip = true }]\nmin_photos = 2.5", "segments.x.min_photos: must be a whole number"),
        (GOOD_SEGMENT + "signals = [{ trip = true }]\nmin_share = 1.5", "segments.x.min_share: must be between 0 and 1"),
        (GOOD_SEGMENT + "signals = [{ trip = true }]\nsingals = 1", "segments.x: unknown key 'singals'"),
        ('[segments.x]\ntitle = 3\nsentence = "s"\nsignals = [{ trip = true }]', "segments.x.title: must be a non-empty string"),
        ('[segments.x]\ntitle = "X"\nsentence = "{n} photos"\nsignals = [{ trip = true }]', "segments.x.sentence: the only placeholder allowed is {count}"),
        ("segments = 3", "segments: missing: the file needs at least one [segments.<name>] table"),
        ("[other]\na = 1", "segments: missing: the file needs at least one [segments.<name>] table"),
    ],
)  # fmt: skip
def test_a_malformed_file_gives_a_one_line_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "segments.toml"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        load_rules(path)
    assert str(error.value) == f"segments.toml: {message}"


def test_any_other_signal_is_a_fact_key_so_a_plugin_s_facts_need_no_code(tmp_path: Path) -> None:
    path = tmp_path / "segments.toml"
    path.write_text(GOOD_SEGMENT + 'signals = [{ tattoo = ["Anchor", "rose"] }]\nmin_photos = 1\n')
    [rule] = load_rules(path)
    assert rule.signals == (Signal("tattoo", frozenset({"anchor", "rose"})),)
    inked = replace(photo(1), facts=(("tattoo", "anchor"),))
    other = replace(photo(2), facts=(("object", "anchor"), ("tattoo", "skull")))
    [segment] = evaluate([inked, other], [rule], SegmentContext(owner=None))
    assert segment.evidence == [1]


def test_a_toml_syntax_error_is_one_line_too(tmp_path: Path) -> None:
    path = tmp_path / "segments.toml"
    path.write_text("[segments.x\ntitle = ")
    with pytest.raises(ValueError, match=r"^segments\.toml: .*line 1") as error:
        load_rules(path)
    assert "\n" not in str(error.value)


REQUIRED_SEGMENTS = {
    "foodie", "sports_fan", "drinker", "smoker", "traveller", "parent", "pet_owner", "night_owl",
    "luxury_buyer", "coffee_lover", "gamer_or_techie", "beauty_buyer", "car_enthusiast", "fashion_follower",
}  # fmt: skip


def test_the_packaged_rules_load_and_name_real_categories_and_objects() -> None:
    assert RULES == REPO / "daemon" / "data" / "segments.toml"  # beside brands.toml, shipped by data/*.toml
    rules = load_rules()
    assert {r.name for r in rules} >= REQUIRED_SEGMENTS and len(rules) == 19
    with (REPO / "daemon" / "data" / "brands.toml").open("rb") as handle:
        lexicon = tomllib.load(handle)["brand"]
    with (REPO / "models" / "manifest.toml").open("rb") as handle:
        models = {m["id"]: m for m in tomllib.load(handle)["model"]}
    known = {
        "brand_category": {b["category"].casefold() for b in lexicon},
        "brand": {b["name"].casefold() for b in lexicon},
        "object": {c.casefold() for c in models["yolo-objects"]["input"]["objects"]["classes"]},
        "scene": {"document", "id_card", "screenshot"},
        "code": {"url", "wifi", "contact", "boarding_pass", "product"},
    }
    for rule in rules:
        assert rule.title and "{count}" in rule.sentence, rule.name
        for signal in rule.signals:
            assert signal.values <= known.get(signal.kind, signal.values), (rule.name, signal)
    drinker = next(r for r in rules if r.name == "drinker")
    assert Signal("brand_category", frozenset({"alcohol"})) in drinker.signals
