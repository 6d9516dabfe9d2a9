"""The packaged segment rules checked against the data they name.

segments.toml is loaded together with brands.toml (through the brand lexicon), labels.toml (through
its loader), the COCO classes of the objects model and the values the scene and code detectors
construct. Any name that does not exist fails, and so does a rule fed by a brand category that
contradicts its title: ``FEEDS`` below says, segment by segment, which categories fit. Then two small
libraries written through the one writer show that a petrol station is no sweet tooth.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from shadowlens.daemon import clock
from shadowlens.daemon.analysis.results import AnalysisResult
from shadowlens.daemon.api import BrandFinding, Finding, TimeFinding
from shadowlens.daemon.detectors.text.lexicon import Lexicon
from shadowlens.daemon.detectors.vision import label_rules
from shadowlens.daemon.detectors.vision.objects import ObjectFinding
from shadowlens.daemon.profile import enjoyment, going_out
from shadowlens.daemon.profile.segments import FLAG_SIGNALS, PLACE_SIGNAL, RULES, SegmentRule, load_rules
from shadowlens.models.manifest import load_manifest

from tests.conftest import LIBRARY_NOW, REPO, small_jpeg
from tests.library_builder import analysed, stored_profile

NOW = clock.parse_pin(LIBRARY_NOW)
OBJECTS_MODEL = "nanodet-coco"


class Feeds(NamedTuple):
    whole: frozenset[str]  # every brand of these categories fits: { brand_category = [...] } is fine
    named: frozenset[str] = frozenset()  # only some fit: the rule may name single brands from them


def feeds(whole: Sequence[str] = (), named: Sequence[str] = ()) -> Feeds:
    return Feeds(frozenset(whole), frozenset(named))


# Which brand categories of brands.toml may feed each segment, judged by what the brands in them
# are. "fuel" (oil companies, petrol stations) fits no segment here; "soft drinks" only partly fits
# a sweet tooth (it holds bottled water), "streaming" only partly fits watching (it holds music),
# "household" only partly fits parents (nappies, beside washing powder). "oral care" fits none:
# toothpaste is everyone's. A new segment, or a new category in a rule, needs a line here.
FEEDS: dict[str, Feeds] = {
    "foodie": feeds(["food"]),
    "fast_food_fan": feeds(["fast food"]),
    "sweet_tooth": feeds(["energy drinks"], named=["soft drinks", "food", "fast food"]),
    "coffee_lover": feeds(["coffee"]),
    "drinker": feeds(["alcohol"]),
    "smoker": feeds(["tobacco"]),
    "sports_fan": feeds(["sportswear"]),
    "traveller": feeds(["travel"]),
    "parent": feeds(["toys"], named=["household"]),
    "pet_owner": feeds(["pet food"]),
    "night_owl": feeds(),
    "homebody": feeds(),
    "luxury_buyer": feeds(["luxury"]),
    "fashion_follower": feeds(["fashion"]),
    "beauty_buyer": feeds(["beauty"]),
    "gamer_or_techie": feeds(["tech"]),
    "car_enthusiast": feeds(["cars"]),
    "binge_watcher": feeds(named=["streaming"]),
    "shopper": feeds(["retail"]),
}

# Where a rule names brands from a category that mostly fits, every other brand of that category is
# listed here as not fitting, so that a brand added to brands.toml must be sorted one way or the other.
BOTTLED_WATER = frozenset(
    {"Dasani", "smartwater", "Aquafina", "Evian", "Volvic", "San Pellegrino", "Perrier"}
)
# fruit juice, sports drinks and mixers: a drink, not a taste for sweets
OTHER_DRINKS = frozenset(
    {"Minute Maid", "Tropicana", "Innocent", "Powerade", "Gatorade", "Lucozade", "Schweppes", "Fever-Tree"}
)
NOT_FITTING: dict[tuple[str, str], frozenset[str]] = {
    ("sweet_tooth", "soft drinks"): BOTTLED_WATER | OTHER_DRINKS,
    ("binge_watcher", "streaming"): frozenset({"Spotify", "Deezer"}),  # music, not watching
}

# Pixels (objects, labels) are seen in other people's lives too, so rules they feed need several days
# (the file's header says so); the one exception says why.
ONE_DAY_IS_ENOUGH = {"traveller": "a trip is already photos away from home"}


# ---------------------------------------------------------------- the data the rules name


def constructed(path: Path, constructor: str, keyword: str | None = None) -> set[str]:
    """The string literals a module passes to ``constructor`` (first argument, or ``keyword``): the
    values that detector can produce, read from its source so that a new one is known at once."""
    values: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == constructor:
            args = [k.value for k in node.keywords if k.arg == keyword] if keyword else node.args[:1]
            values |= {a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return values


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load()


@pytest.fixture(scope="module")
def known(lexicon: Lexicon) -> dict[str, set[str]]:
    [objects_model] = [spec for spec in load_manifest() if spec.id == OBJECTS_MODEL]
    objects = objects_model.input["objects"]
    assert isinstance(objects, dict)
    detectors = REPO / "daemon" / "detectors"
    return {
        "brand_category": {b.category.casefold() for b in lexicon.brands},
        "brand": {b.name.casefold() for b in lexicon.brands},
        "object": {str(c).casefold() for c in objects["classes"]},
        "label": set(label_rules.load_rules().categories),
        "scene": constructed(detectors / "vision" / "scene.py", "SceneFinding", "label"),
        "code": constructed(detectors / "codes" / "payloads.py", "Payload"),
    }


def unknown_names(rules: Sequence[SegmentRule], known: dict[str, set[str]]) -> list[str]:
    problems = []
    for rule in rules:
        for signal in rule.signals:
            if signal.kind in FLAG_SIGNALS or signal.kind == PLACE_SIGNAL:
                continue  # the profile's own: true/false, or the user's place names and cities
            if signal.kind not in known:
                problems.append(f"{rule.name}: signal '{signal.kind}' is not checked by this test")
                continue
            problems += [
                f"{rule.name}: {signal.kind} '{value}' does not exist"
                for value in sorted(signal.values - known[signal.kind])
            ]
    return problems


def contradictions(rules: Sequence[SegmentRule], lexicon: Lexicon) -> list[str]:
    category_of = {b.name.casefold(): b.category.casefold() for b in lexicon.brands}
    problems = []
    for rule in rules:
        if rule.name not in FEEDS:
            problems.append(f"{rule.name}: no line in FEEDS says which brand categories fit it")
            continue
        fits = FEEDS[rule.name]
        for signal in rule.signals:
            if signal.kind == "brand_category":
                problems += [
                    f"{rule.name} ({rule.title}): brand category '{category}' does not fit it"
                    for category in sorted(signal.values - fits.whole)
                ]
            elif signal.kind == "brand":
                problems += [
                    f"{rule.name} ({rule.title}): brand '{name}' is in '{category_of.get(name)}', which does not fit it"
                    for name in sorted(signal.values)
                    if category_of.get(name) not in fits.whole | fits.named
                ]
    return problems


# ---------------------------------------------------------------- the checks


def test_the_detectors_values_are_read_from_their_source(known: dict[str, set[str]]) -> None:
    assert known["scene"] == {"document", "id_card", "screenshot"}
    assert {"url", "wifi", "contact", "boarding_pass", "product"} <= known["code"]
    assert {"cake", "donut", "wine glass", "hair drier"} <= known["object"] and len(known["object"]) == 80
    assert {"food", "soft_drinks", "pets"} <= known["label"]


def test_every_name_a_rule_uses_exists(known: dict[str, set[str]]) -> None:
    assert unknown_names(load_rules(), known) == []


def test_the_profiles_own_signal_lists_name_real_values(known: dict[str, set[str]]) -> None:
    """Going out and enjoyment read facts by name too: a renamed label or COCO class would
    silently never count."""
    used = {
        **{f"going_out {key}": values for key, values in going_out.OUT_SIGNALS.items()},
        "going_out brand_category": going_out.OUT_BRAND_CATEGORIES,
        "enjoyment label": frozenset(enjoyment.LABEL_ACTIVITIES),
        "enjoyment object": frozenset(enjoyment.ACTIVITY_OF_OBJECT),
    }
    unknown = {
        where: sorted(v for v in values if v.casefold() not in known[where.split()[1]])
        for where, values in used.items()
    }
    assert {where: names for where, names in unknown.items() if names} == {}


def test_no_rule_is_fed_by_a_category_that_contradicts_its_title(lexicon: Lexicon) -> None:
    rules = load_rules()
    assert set(FEEDS) == {r.name for r in rules}  # the table covers every rule, and no stale ones
    assert contradictions(rules, lexicon) == []


def test_oil_companies_feeding_the_sweet_tooth_fail_both_checks(
    tmp_path: Path, lexicon: Lexicon, known: dict[str, set[str]]
) -> None:
    """The bug of issue #15, put back: the old name fails as unknown, the new one as a contradiction."""
    text = RULES.read_text(encoding="utf-8")
    good = '{ brand_category = ["energy drinks"] }'
    assert text.count(good) == 1
    for category, unknown, contradiction in [
        ("energy", ["sweet_tooth: brand_category 'energy' does not exist"], "energy"),
        ("fuel", [], "fuel"),
    ]:
        path = tmp_path / "segments.toml"
        path.write_text(text.replace(good, f'{{ brand_category = ["energy drinks", "{category}"] }}'))
        rules = load_rules(path)
        assert unknown_names(rules, known) == unknown
        assert contradictions(rules, lexicon) == [
            f"sweet_tooth (Sweet tooth): brand category '{contradiction}' does not fit it"
        ]


def test_petrol_stations_and_red_bull_sit_in_the_categories_the_rules_expect(lexicon: Lexicon) -> None:
    category = {b.name: b.category for b in lexicon.brands}
    assert {category[n] for n in ("Shell", "BP", "TotalEnergies", "Esso", "Aral")} == {"fuel"}
    assert {category[n] for n in ("Red Bull", "Monster Energy")} == {"energy drinks"}


@pytest.mark.parametrize(("segment", "category"), sorted(NOT_FITTING))
def test_every_brand_of_a_partly_fitting_category_is_sorted(
    lexicon: Lexicon, segment: str, category: str
) -> None:
    [rule] = [r for r in load_rules() if r.name == segment]
    named = {v for s in rule.signals if s.kind == "brand" for v in s.values}
    in_category = {b.name.casefold() for b in lexicon.brands if b.category == category}
    not_fitting = {n.casefold() for n in NOT_FITTING[segment, category]}
    assert not_fitting <= in_category, "a brand listed as not fitting has left the category"
    assert sorted(in_category - named - not_fitting) == [], (
        "new brands: name them in the rule or list them here"
    )
    assert named & not_fitting == set()


def test_rules_that_pixels_can_fire_need_several_days() -> None:
    for rule in load_rules():
        pixels = any(s.kind in ("object", "label") for s in rule.signals)
        if pixels and rule.name not in ONE_DAY_IS_ENOUGH:
            assert rule.min_days >= 2, rule.name


def test_every_packaged_rule_says_why_in_one_line() -> None:
    for rule in load_rules():
        assert rule.why and "\n" not in rule.why and rule.why != rule.sentence, rule.name


RULE = '[segments.x]\ntitle = "X"\nsentence = "{count}"\nsignals = [{ trip = true }]\n'


@pytest.mark.parametrize(
    ("why", "message"),
    [
        (
            "",
            'segments.x.why: missing: one line saying why this evidence means this segment, e.g. why = "..."',
        ),
        ('why = ""', "segments.x.why: must be a non-empty string"),
        ("why = 3", "segments.x.why: must be a non-empty string"),
        ('why = """Trips.\nAnd more."""', "segments.x.why: must be one line"),
    ],
)
def test_a_rule_without_a_one_line_why_is_refused(tmp_path: Path, why: str, message: str) -> None:
    path = tmp_path / "segments.toml"
    path.write_text(RULE + why + "\n")
    with pytest.raises(ValueError) as error:
        load_rules(path)
    assert str(error.value) == f"segments.toml: {message}"


def test_the_why_is_kept_and_shown_with_the_segment(tmp_path: Path) -> None:
    path = tmp_path / "segments.toml"
    path.write_text(RULE + 'why = "  Photos away from home are trips.  "\n')
    [rule] = load_rules(path)
    assert rule.why == "Photos away from home are trips."


# ---------------------------------------------------------------- two libraries through the writer


@dataclass(frozen=True)
class Shot:
    name: str
    day: int  # of April 2025
    brands: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()


PETROL = tuple(
    Shot(f"petrol{i}", 1 + 3 * i, brands=(station,), objects=("car",))
    for i, station in enumerate(["Shell", "BP", "TotalEnergies", "Shell", "BP", "TotalEnergies", "Esso"])
)
SWEET = (
    Shot("redbull1", 2, brands=("Red Bull",)),
    Shot("coke1", 5, brands=("Coca-Cola",)),
    Shot("cake1", 9, objects=("cake", "fork")),
    Shot("redbull2", 12, brands=("Red Bull",)),
    Shot("coke2", 16, brands=("Coca-Cola",), objects=("bottle",)),
    Shot("cake2", 20, objects=("cake",)),
)
VERSIONS = {"metadata": "1", "objects": "1+nanodet-coco", "brands": "3"}


def _result(shot: Shot, folder: Path, index: int, lexicon: Lexicon) -> AnalysisResult:
    path = small_jpeg(folder / f"{shot.name}.jpg", color=(index * 9 % 256, index * 5 % 256, 90))
    by_name = {b.name: b for b in lexicon.brands}
    found: dict[str, list[Finding]] = {
        "metadata": [
            TimeFinding(label=datetime(2025, 4, shot.day, 17).isoformat(), source="DateTimeOriginal")
        ],
        "objects": [
            ObjectFinding(label=o, confidence=0.8, bbox=(1.0, 1.0, 9.0, 9.0), model=OBJECTS_MODEL)
            for o in shot.objects
        ],
        # category and parent as brands.toml has them: the data under test, not a copy of it
        "brands": [
            BrandFinding(
                label=name,
                confidence=0.9,
                category=by_name[name].category,
                parent=by_name[name].parent,
                via="text",
                matched=name,
                score=1.0,
            )
            for name in shot.brands
        ],
    }
    return analysed(path, found, VERSIONS)


def profile_of(root: Path, shots: Sequence[Shot], lexicon: Lexicon) -> dict[str, Any]:
    return stored_profile(
        root, lambda library: (_result(shot, library, i, lexicon) for i, shot in enumerate(shots))
    )


def test_a_petrol_station_library_is_no_sweet_tooth_and_a_sweet_one_is(
    tmp_path: Path, lexicon: Lexicon
) -> None:
    petrol = profile_of(tmp_path / "petrol", PETROL, lexicon)
    assert {b["category"] for b in petrol["brands"]} == {"fuel"}  # the stations were read
    assert "sweet_tooth" not in {s["name"] for s in petrol["segments"]}

    sweet = profile_of(tmp_path / "sweet", SWEET, lexicon)
    segments = {s["name"]: s for s in sweet["segments"]}
    assert "sweet_tooth" in segments, sorted(segments)
    evidence = {Path(p).stem for p in segments["sweet_tooth"]["evidence"]}
    assert evidence == {shot.name for shot in SWEET}
    assert segments["sweet_tooth"]["why"] == next(r.why for r in load_rules() if r.name == "sweet_tooth")
