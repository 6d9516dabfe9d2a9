"""The exposure score: every reason, its exact points, the cap, and what the profile changes."""

from __future__ import annotations

from datetime import datetime

from shadowlens.daemon.config import ExposurePoints
from shadowlens.daemon.profile.exposure import ExposureContext, score
from shadowlens.daemon.profile.facts import BrandHit, FaceFact, PhotoFacts

HOME = (52.5200, 13.4050)
WHEN = datetime(2025, 3, 1, 12, 0)


def face(person: int | None = None, age: float | None = 35.0) -> FaceFact:
    return FaceFact(face_id=1, person_id=person, age=age, smiling=None, expression=None)


def codes_of(photo: PhotoFacts, context: ExposureContext | None = None) -> tuple[int, list[tuple[str, int]]]:
    value, reasons = score(photo, context or ExposureContext(), ExposurePoints())
    return value, [(r.code, r.points) for r in reasons]


def test_each_reason_is_worth_its_documented_points() -> None:
    at_home = PhotoFacts(1, "a.jpg", WHEN, lat=HOME[0] + 0.001, lon=HOME[1])  # about 110 m away
    assert codes_of(at_home) == (15, [("gps", 15)])
    assert codes_of(at_home, ExposureContext(home=HOME)) == (40, [("gps", 15), ("gps_near_home", 25)])
    away = PhotoFacts(1, "a.jpg", WHEN, lat=HOME[0] + 0.003, lon=HOME[1])  # about 330 m away
    assert codes_of(away, ExposureContext(home=HOME)) == (15, [("gps", 15)])
    assert codes_of(PhotoFacts(1, "a", WHEN, faces=(face(age=7.0),))) == (30, [("child", 30)])
    assert codes_of(PhotoFacts(1, "a", WHEN, pii=("card",))) == (40, [("identity_document", 40)])
    assert codes_of(PhotoFacts(1, "a", WHEN, codes=("boarding_pass",))) == (40, [("identity_document", 40)])
    assert codes_of(PhotoFacts(1, "a", WHEN, scenes=("id_card",))) == (40, [("identity_document", 40)])
    assert codes_of(PhotoFacts(1, "a", WHEN, scenes=("document",))) == (15, [("document", 15)])
    assert codes_of(PhotoFacts(1, "a", WHEN, pii=("phone", "email"))) == (25, [("personal_data", 25)])
    assert codes_of(PhotoFacts(1, "a", WHEN, codes=("wifi",))) == (25, [("personal_data", 25)])
    assert codes_of(PhotoFacts(1, "a", WHEN, codes=("url",), pii=("url",))) == (0, [])
    assert codes_of(PhotoFacts(1, "a", WHEN, nudity_exposed=("FEMALE_BREAST_EXPOSED",))) == (
        40,
        [("nudity", 40)],
    )
    assert codes_of(PhotoFacts(1, "a", WHEN, nudity_covered=("FEMALE_BREAST_COVERED",))) == (0, [])
    brands = (BrandHit("Nike", "sportswear", "Nike, Inc.", "text"),)
    assert codes_of(PhotoFacts(1, "a", WHEN, brands=brands)) == (5, [("brands", 5)])
    assert codes_of(PhotoFacts(1, "a", WHEN, scenes=("screenshot",))) == (10, [("screenshot", 10)])


def test_the_owner_children_and_other_people() -> None:
    group = PhotoFacts(1, "a", WHEN, faces=(face(person=1), face(person=2), face(person=3, age=6.0)))
    assert codes_of(group) == (40, [("child", 30), ("other_people", 10)])
    context = ExposureContext(owner=1)
    _, reasons = score(group, context, ExposurePoints())
    assert [r.text for r in reasons] == ["a child's face", "a person other than you"]
    # The user said person 3 is not a child, whatever the age model thinks.
    assert codes_of(group, ExposureContext(owner=1, adult_persons=frozenset({3}))) == (
        10,
        [("other_people", 10)],
    )
    assert codes_of(PhotoFacts(1, "a", WHEN, faces=(face(person=1),)), context) == (0, [])
    marked = PhotoFacts(1, "a", WHEN, faces=(face(person=4, age=None),))
    assert codes_of(marked, ExposureContext(child_persons=frozenset({4}))) == (30, [("child", 30)])


def test_the_score_is_capped_and_reasons_never_carry_values() -> None:
    everything = PhotoFacts(
        1,
        "a",
        WHEN,
        lat=HOME[0],
        lon=HOME[1],
        faces=(face(age=5.0),),
        pii=("card", "phone"),
        nudity_exposed=("BUTTOCKS_EXPOSED",),
        scenes=("screenshot",),
    )
    value, reasons = score(everything, ExposureContext(home=HOME), ExposurePoints())
    assert value == 100 and sum(r.points for r in reasons) > 100
    assert all(ch not in r.text for r in reasons for ch in "0123456789@")
    custom = ExposurePoints(gps=3, gps_near_home=0)
    assert score(everything, ExposureContext(home=HOME), custom)[1][0].points == 3
    assert "gps_near_home" not in [r.code for r in score(everything, ExposureContext(home=HOME), custom)[1]]
