"""What the pixels alone give away: segments from objects and labels, "what you enjoy" from
7-class expressions, and the exposure reasons of the objects and labels detectors.

The index is written through the one writer (``Store.save``) with the findings the detectors
would store (objects, whole-image labels, faces with an expression) and no brand or text at all,
then the real ``ProfileUpdater`` builds the profile as of the tests' day. No model runs.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from shadowlens.daemon import clock
from shadowlens.daemon.analysis.hooks import FindingHooks, Hooks, StoredFinding
from shadowlens.daemon.analysis.results import AnalysisResult
from shadowlens.daemon.api import FaceFinding, Finding, TimeFinding
from shadowlens.daemon.config import ExposurePoints, ProfileSettings
from shadowlens.daemon.detectors.vision.labels import LabelFinding, LabelsDetector
from shadowlens.daemon.detectors.vision.objects import ObjectFinding, ObjectsDetector
from shadowlens.daemon.detectors.vision.pixel_reasons import PixelReasons
from shadowlens.daemon.profile.builder import build_profile
from shadowlens.daemon.profile.enjoyment import MIN_FACES, enjoyment, wilson
from shadowlens.daemon.profile.exposure import ExposureContext, score
from shadowlens.daemon.profile.facts import (
    FaceFact,
    PhotoCore,
    PhotoFacts,
    fact_keys,
    installed_fact_keys,
    installed_hooks,
    photo_facts,
)
from shadowlens.daemon.profile.segments import (
    RULES,
    SegmentContext,
    evaluate,
    installed_signal_keys,
    load_rules,
    signal_keys,
)

from tests.conftest import LIBRARY_NOW, REPO, small_jpeg
from tests.library_builder import analysed, stored_profile

NOW = clock.parse_pin(LIBRARY_NOW)
FER = "fer-mini-xception"
VERSIONS = {"metadata": "1", "faces": "1+test", "objects": "1+nanodet-coco", "labels": "1+test"}


@dataclass(frozen=True)
class Pic:
    name: str
    day: int  # of April 2025
    objects: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    faces: tuple[str, ...] = ()  # expression labels: 7-class, or the landmark fallback's


def d(day: int, hour: int = 12) -> datetime:
    return datetime(2025, 4, day, hour)


# Only objects, labels and faces: no brand, no text, no GPS.
SEGMENT_PICS = (
    Pic("food1", 1, labels=("food",)),
    Pic("food2", 2, objects=("pizza",)),
    Pic("food3", 3, objects=("cake", "fork"), labels=("food",)),
    Pic("drink1", 1, objects=("wine glass", "bottle")),
    Pic("drink2", 5, labels=("alcohol",)),
    Pic("bottle1", 6, objects=("bottle", "cup")),  # a bottle and a cup are no one's segment
    Pic("bottle2", 7, objects=("bottle",)),
    Pic("coffee1", 1, labels=("coffee",)),
    Pic("coffee2", 2, labels=("coffee",)),
    Pic("coffee3", 2, labels=("coffee",)),
    Pic("soft1", 7, labels=("soft_drinks",)),
    Pic("soft2", 8, labels=("soft_drinks",)),
    Pic("dog1", 1, objects=("dog",)),
    Pic("dog2", 3, labels=("pets",)),
    Pic("cat1", 5, objects=("cat",)),
    Pic("dog3", 9, objects=("dog",)),
    Pic("sport1", 2, labels=("sport",)),
    Pic("sport2", 4, objects=("tennis racket", "sports ball")),
    Pic("sport3", 4, labels=("sport",)),
    Pic("travel1", 10, labels=("travel",)),
    Pic("travel2", 11, objects=("suitcase",)),
    Pic("travel3", 12, labels=("travel",)),
    Pic("car1", 1, objects=("car",), labels=("cars",)),
    Pic("car2", 6, labels=("cars",)),
    Pic("car3", 8, labels=("cars",)),
    Pic("street", 8, objects=("car", "car", "person")),  # a street is not a car enthusiast's
    Pic("fashion1", 2, objects=("handbag",)),
    Pic("fashion2", 3, labels=("fashion",)),
    Pic("fashion3", 3, objects=("tie",)),
    Pic("kids1", 1, objects=("teddy bear",)),
    Pic("kids2", 4, labels=("children",)),
    Pic("kids3", 5, labels=("children",)),
)
EXPECTED = {
    "foodie": {"food1", "food2", "food3"},
    "drinker": {"drink1", "drink2"},
    "coffee_lover": {"coffee1", "coffee2", "coffee3"},
    "sweet_tooth": {"food3", "soft1", "soft2"},
    "pet_owner": {"dog1", "dog2", "cat1", "dog3"},
    "sports_fan": {"sport1", "sport2", "sport3"},
    "traveller": {"travel1", "travel2", "travel3"},
    "car_enthusiast": {"car1", "car2", "car3"},
    "fashion_follower": {"fashion1", "fashion2", "fashion3"},
    "parent": {"kids1", "kids2", "kids3"},
}
# One face each: happy on nights out, mostly not elsewhere. The landmark fallback's faces (on
# nights out "smiling", elsewhere "not smiling") would change every number if they counted.
FACE_PICS = (
    *(Pic(f"night{i}", 14 + i, labels=("nightlife",), faces=("happy",)) for i in range(5)),
    *(Pic(f"day{i}", 14 + i, faces=("happy" if i < 2 else "neutral",)) for i in range(10)),
    *(Pic(f"guess_night{i}", 20 + i, labels=("nightlife",), faces=("smiling",)) for i in range(3)),
    *(Pic(f"guess_day{i}", 20 + i, faces=("not smiling",)) for i in range(6)),
)


def _face(expression: str, i: int) -> FaceFinding:
    seven = expression not in ("smiling", "not smiling")
    return FaceFinding(
        label="face",
        confidence=0.9,
        bbox=(10.0 + 40 * i, 10.0, 30.0, 30.0),
        age=34.0,
        sex="female",
        expression={
            "label": expression,
            "probs": {expression: 0.9},
            "method": FER if seven else "dlib 68-point landmark heuristic (no expression model installed)",
        },
        smiling=expression in ("happy", "smiling"),
    )


def _result(pic: Pic, folder: Path, index: int) -> AnalysisResult:
    path = small_jpeg(folder / f"{pic.name}.jpg", color=(index * 3 % 256, index * 7 % 256, index * 11 % 256))
    when = d(pic.day)
    found: dict[str, list[Finding]] = {
        "metadata": [TimeFinding(label=when.isoformat(), source="DateTimeOriginal")],
        "objects": [
            ObjectFinding(label=o, confidence=0.8, bbox=(1.0, 1.0, 9.0, 9.0), model="nanodet-coco")
            for o in pic.objects
        ],
        "labels": [
            LabelFinding(
                label=label, confidence=0.7, classes={"stand-in": 0.7}, model="efficientnet-lite0-imagenet"
            )
            for label in pic.labels
        ],
        "faces": [_face(expression, i) for i, expression in enumerate(pic.faces)],
    }
    return analysed(path, found, VERSIONS)


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("pixels")
    pics = (*SEGMENT_PICS, *FACE_PICS)
    return stored_profile(root, lambda library: (_result(pic, library, i) for i, pic in enumerate(pics)))


def names(paths: Sequence[str]) -> set[str]:
    return {Path(p).stem for p in paths}


# ---------------------------------------------------------------- segments from pixels


def test_objects_and_labels_alone_fire_the_segments_with_their_photos(profile: dict[str, Any]) -> None:
    fired = {s["name"]: s for s in profile["segments"]}
    for segment, photos in EXPECTED.items():
        assert segment in fired, (segment, sorted(fired))
        assert names(fired[segment]["evidence"]) == photos, segment
        assert fired[segment]["sentence"].split(": ")[1].startswith(f"{len(photos)} photos"), segment
    assert profile["brands"] == []  # nothing was read: it all came from the pixels


def test_generic_objects_are_nobody_s_segment(profile: dict[str, Any]) -> None:
    everything = {Path(p).stem for s in profile["segments"] for p in s["evidence"]}
    assert {"bottle1", "bottle2", "street"}.isdisjoint(everything)


def pixel_photo(
    photo_id: int, when: datetime | None, objects: Sequence[str] = (), labels: Sequence[str] = ()
) -> PhotoFacts:
    findings = [StoredFinding("objects", "object", o) for o in objects]
    findings += [StoredFinding("labels", "label", label) for label in labels]
    return photo_facts(photo_id, f"/p/{photo_id}.jpg", PhotoCore(taken_at=when), findings, installed_hooks())


def fired(photos: Sequence[PhotoFacts]) -> set[str]:
    return {s.name for s in evaluate(photos, load_rules(), SegmentContext(owner=None))}


def test_one_dog_or_one_afternoon_at_the_dog_park_makes_no_pet_owner() -> None:
    assert "pet_owner" not in fired([pixel_photo(1, d(1), objects=("dog",))])
    burst = [pixel_photo(i, d(1, 10 + i), objects=("dog",)) for i in range(8)]  # 8 photos, one day
    assert "pet_owner" not in fired(burst)
    two_days = [pixel_photo(i, d(1 + i % 2), objects=("dog",)) for i in range(8)]
    assert "pet_owner" not in fired(two_days)
    assert "pet_owner" in fired([pixel_photo(i, d(1 + i), labels=("pets",)) for i in range(4)])


def test_one_party_makes_no_parent_drinker_or_foodie() -> None:
    party = [
        pixel_photo(i, d(5, 18 + i % 5), objects=("teddy bear", "wine glass", "cake")) for i in range(10)
    ]
    assert fired(party) == set()
    undated = [pixel_photo(i, None, labels=("alcohol",)) for i in range(5)]  # no dates: no habit
    assert "drinker" not in fired(undated)


# ---------------------------------------------------------------- rule check: typos


def test_a_typo_key_is_refused_in_one_line_naming_the_segment_and_the_nearest_key(tmp_path: Path) -> None:
    path = tmp_path / "segments.toml"
    path.write_text(
        '[segments.wino]\ntitle = "W"\nsentence = "{count}"\n'
        'signals = [{ object = ["wine glass"] }, { lable = ["alcohol"] }]\n'
    )
    known = signal_keys({"object", "label", "brand", "brand_category"})
    with pytest.raises(ValueError) as error:
        load_rules(path, known)
    assert str(error.value) == (
        "segments.toml: segments.wino.signals[1]: unknown signal 'lable': no installed detector gives it"
        " and it is not a profile flag (nearest known: 'label')"
    )
    # The profile's own flags are always known; an unknown set of keys checks nothing.
    path.write_text(
        '[segments.x]\ntitle = "X"\nsentence = "{count}"\nwhy = "w"\nsignals = [{ trip = true }, { place_label = ["home"] }]\n'
    )
    assert len(load_rules(path, known)) == 1
    path.write_text(
        '[segments.x]\ntitle = "X"\nsentence = "{count}"\nwhy = "w"\nsignals = [{ tattoo = ["anchor"] }]\n'
    )
    assert len(load_rules(path, None)) == 1


def test_the_known_keys_come_from_the_detectors_hooks() -> None:
    class Tattoos(FindingHooks):  # a plugin with its own facts hook and no counted kinds
        @classmethod
        def facts(cls, finding: StoredFinding) -> Any:
            return (("tattoo", str(finding.attrs.get("motif"))),)

    class Anything(FindingHooks):  # counts every kind with the default hook: any key at all
        pass

    keys = fact_keys(Hooks({**installed_hooks().classes, "tattoo": Tattoos}))
    assert keys is not None and {"object", "brand", "brand_category", "code", "scene", "tattoo"} <= keys
    assert "face" not in keys and "gps" not in keys  # faces and positions give no facts
    assert fact_keys(Hooks({"x": Anything})) is None


def test_a_user_s_segments_file_with_a_typo_stops_the_profile(tmp_path: Path) -> None:
    if installed_fact_keys() is None:
        pytest.skip("a registered detector failed to import: the typo check is off")
    path = tmp_path / "mine.toml"
    path.write_text('[segments.x]\ntitle = "X"\nsentence = "{count}"\nsignals = [{ objet = ["dog"] }]\n')
    with pytest.raises(
        ValueError, match=r"^mine\.toml: segments\.x\.signals\[0\]: unknown signal 'objet'.*'object'\)$"
    ):
        build_profile([], [], ProfileSettings(segments_file=path), NOW.replace(tzinfo=None))


def test_the_packaged_rules_name_only_keys_the_built_in_detectors_give() -> None:
    """The built-in detectors as pyproject.toml registers them, installed here or not yet."""
    with (REPO / "pyproject.toml").open("rb") as handle:
        registered = tomllib.load(handle)["project"]["entry-points"]["shadowlens.detectors"]
    classes = {}
    for name, target in registered.items():
        module, attribute = target.split(":")
        classes[name] = getattr(importlib.import_module(module), attribute)
    keys = fact_keys(Hooks(classes))
    assert keys is not None and {"object", "label"} <= keys
    assert len(load_rules(RULES, signal_keys(keys))) == 19
    if installed_fact_keys() is not None and "labels" in installed_hooks().classes:
        assert installed_signal_keys() == signal_keys(keys)


# ---------------------------------------------------------------- what you enjoy


def test_the_happiest_activity_is_said_with_its_evidence_and_guesses_are_ignored(
    profile: dict[str, Any],
) -> None:
    enjoyed = profile["enjoyment"]
    # 15 faces read by the 7-class model, 7 happy; the 9 landmark guesses are not counted.
    assert (enjoyed["whose"], enjoyed["faces"], enjoyed["happy"]) == ("all", 15, 7)
    [said] = enjoyed["statements"]
    assert said["sentence"] == (
        "Faces in your photos look happiest at shows and nights out: 5 of 5 faces happy (100%), against 47% overall"
    )
    assert (said["dimension"], said["group"]) == ("activity", "nightlife")
    assert [Path(p).stem for p in said["evidence"]] == [f"night{i}" for i in (4, 3, 2, 1, 0)]


def face(expression: str | None, person: int | None = None, smiling: bool | None = None) -> FaceFact:
    return FaceFact(-1, person, 30.0, smiling, expression)


def faces_photo(
    photo_id: int, faces: Sequence[FaceFact], labels: Sequence[str] = (), city: str | None = None
) -> PhotoFacts:
    base = pixel_photo(photo_id, d(1 + photo_id % 28), labels=labels)
    return replace(base, faces=tuple(faces), city=city, lat=1.0 if city else None, lon=1.0 if city else None)


def library(happy_in_group: int, group_size: int, *, labels: Sequence[str] = ("sport",)) -> list[PhotoFacts]:
    """``group_size`` photos with one face each and ``labels``, then 12 photos with 3 happy faces."""
    group = [
        faces_photo(i, [face("happy" if i < happy_in_group else "sad")], labels) for i in range(group_size)
    ]
    rest = [faces_photo(100 + i, [face("happy" if i < 3 else "neutral")]) for i in range(12)]
    return group + rest


def test_too_few_faces_make_no_statement() -> None:
    assert enjoyment(library(2, 2), None, lambda p: None).statements == []  # 2 of 2 happy
    assert enjoyment(library(MIN_FACES - 1, MIN_FACES - 1), None, lambda p: None).statements == []
    [said] = enjoyment(library(MIN_FACES, MIN_FACES), None, lambda p: None).statements
    assert said.group.key == "sport" and said.faces == MIN_FACES
    # Happy faces of one group photo are one moment, not a habit: 6 faces, 1 photo.
    one_photo = [faces_photo(1, [face("happy")] * 6, ("sport",)), *library(0, 0)]
    assert enjoyment(one_photo, None, lambda p: None).statements == []


def test_a_small_lift_or_a_lucky_streak_makes_no_statement() -> None:
    # 6 of 10 happy against 3 of 12: the lower bound (0.31) is under the others' upper bound.
    assert wilson(6, 10)[0] < wilson(3, 12)[1]
    assert enjoyment(library(6, 10), None, lambda p: None).statements == []


def test_landmark_guesses_never_count_whatever_their_smile_flag() -> None:
    guesses = [faces_photo(i, [face("smiling", smiling=True)], ("sport",)) for i in range(20)]
    guesses += [faces_photo(100 + i, [face("not smiling", smiling=False)]) for i in range(20)]
    result = enjoyment(guesses, None, lambda p: None)
    assert (result.faces, result.statements) == (0, [])


def test_with_an_owner_only_their_faces_count_and_the_sentence_says_you() -> None:
    owner, anna = 1, 2
    photos = [
        # the owner happy with Anna at home; Anna's own faces are not the owner's mood
        *(faces_photo(i, [face("happy", owner), face("sad", anna)], city="Lyon") for i in range(6)),
        *(faces_photo(20 + i, [face("neutral", owner)], city="Lyon") for i in range(10)),
        *(faces_photo(40 + i, [face("happy", 3)]) for i in range(10)),  # a stranger, always happy
    ]
    places = {i: "home" for i in range(6)}
    result = enjoyment(photos, owner, lambda p: places.get(p.photo_id, "Lyon"), {anna: "Anna"})
    assert (result.whose, result.faces, result.happy) == ("owner", 16, 6)
    said = {s.group.dimension: s.sentence for s in result.statements}
    assert said["place"] == "You look happiest at home: 6 of 6 faces happy (100%), against 38% overall"
    # "with Anna" and "with other people" hold the same faces; the tie goes to the named person
    assert said["company"] == "You look happiest with Anna: 6 of 6 faces happy (100%), against 38% overall"
    assert "activity" not in said


# ---------------------------------------------------------------- exposure reasons from pixels


# The detector classes themselves, whichever of them the installed entry points list.
HOOKS = Hooks({**installed_hooks().classes, "objects": ObjectsDetector, "labels": LabelsDetector})


def obj(label: str) -> StoredFinding:
    return StoredFinding("objects", "object", label)


def lab(label: str) -> StoredFinding:
    return StoredFinding("labels", "label", label)


def child(age: float = 6.0, person: int | None = None) -> StoredFinding:
    return StoredFinding("faces", "face", "face", attrs={"age": age}, person_id=person)


def reasons(
    *findings: StoredFinding, context: ExposureContext | None = None, points: ExposurePoints | None = None
) -> list[tuple[str, int, str]]:
    photo = photo_facts(1, "a.jpg", PhotoCore(), findings, HOOKS)
    _, found = score(photo, context or ExposureContext(), points or ExposurePoints(), HOOKS)
    return [(r.code, r.points, r.text) for r in found]


def test_the_mixin_keeps_the_detector_s_own_declarations() -> None:
    assert issubclass(ObjectsDetector, PixelReasons) and issubclass(LabelsDetector, PixelReasons)
    assert ObjectsDetector.counts == frozenset({"object"}) and LabelsDetector.counts == frozenset({"label"})
    assert list(ObjectsDetector.facts(obj("dog"))) == [("object", "dog")]
    assert list(LabelsDetector.facts(lab("pets"))) == [("label", "pets")]
    assert {"objects", "labels"} <= set(HOOKS.scorers)


def test_alcohol_is_a_reason_and_a_bottle_alone_is_not() -> None:
    assert reasons(obj("wine glass")) == [("alcohol", 10, "alcohol in the picture: a wine glass")]
    assert reasons(obj("bottle"), lab("alcohol"), obj("wine glass")) == [
        ("alcohol", 10, "alcohol in the picture: a wine glass, alcoholic drinks (image label)")
    ]
    assert reasons(obj("bottle")) == [] and reasons(obj("bottle"), obj("cup")) == []
    assert reasons(obj("wine glass"), points=ExposurePoints.model_validate({"alcohol": 20}))[0][1] == 20


def test_children_s_things_count_next_to_a_child_s_face_only() -> None:
    assert reasons(obj("teddy bear"), child()) == [
        ("child", 30, "a child's face"),
        ("children_items", 10, "children's things next to a child: a teddy bear"),
    ]
    assert reasons(lab("children"), obj("teddy bear"), child(4.0), child(5.0))[1] == (
        "children_items", 10, "children's things next to a child: a teddy bear, children's things (image label)",
    )  # fmt: skip
    assert reasons(obj("teddy bear")) == []  # a toy, no child
    assert [r[0] for r in reasons(obj("teddy bear"), child(age=40.0))] == ["other_people"]
    # The user's marks win over the estimated age, and the owner is never a child.
    assert reasons(
        lab("children"), child(8.0, person=5), context=ExposureContext(adult_persons=frozenset({5}))
    ) == [("other_people", 10, "a person")]
    assert reasons(lab("children"), child(10.0, person=1), context=ExposureContext(owner=1)) == []


def test_a_night_out_is_a_small_reason() -> None:
    assert reasons(lab("nightlife")) == [
        ("nightlife", 5, "going out: a show, a concert, a cinema or a casino (image label)")
    ]
    assert reasons(lab("food"), lab("pets"), obj("dog")) == []
