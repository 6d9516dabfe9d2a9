"""The exposure score: every reason, its exact points, the cap, and what the profile changes.

The photos are built as the profile loads them: findings of the built-in detectors, counted by
those detectors' own hooks (``exposure``), then settled into one reason per code.
"""

from __future__ import annotations

from datetime import datetime

from shadowlens.daemon.analysis.hooks import Part, Reason, StoredFinding
from shadowlens.daemon.config import ExposurePoints
from shadowlens.daemon.profile.exposure import ExposureContext, score, settle
from shadowlens.daemon.profile.facts import PhotoCore, PhotoFacts, installed_hooks, photo_facts

HOME = (52.5200, 13.4050)
WHEN = datetime(2025, 3, 1, 12, 0)


def photo(*findings: StoredFinding, city: str | None = None, country: str | None = None) -> PhotoFacts:
    gps = next((f for f in findings if f.kind == "gps"), None)
    lat, lon = (gps.attrs["lat"], gps.attrs["lon"]) if gps else (None, None)
    core = PhotoCore(taken_at=WHEN, lat=lat, lon=lon, city=city, country_code=country)
    return photo_facts(1, "a.jpg", core, findings, installed_hooks())


def gps(lat: float, lon: float) -> StoredFinding:
    return StoredFinding("metadata", "gps", f"{lat:.6f}, {lon:.6f}", attrs={"lat": lat, "lon": lon})


def face(person: int | None = None, age: float | None = 35.0) -> StoredFinding:
    return StoredFinding("faces", "face", "face", bbox=(1, 2, 30, 30), attrs={"age": age}, person_id=person)


def pii(label: str) -> StoredFinding:
    return StoredFinding("pii", "pii", label, attrs={"value": "secret", "masked": "s***"})


def code(payload: str) -> StoredFinding:
    return StoredFinding("codes", "code", "QR_CODE", attrs={"payload_type": payload})


def scene(label: str) -> StoredFinding:
    return StoredFinding("scene", "scene", label)


def nudity(label: str) -> StoredFinding:
    return StoredFinding("nudity", "nudity", label, attrs={"exposed": label.endswith("_EXPOSED")})


def brand(name: str, detector: str = "brands") -> StoredFinding:
    return StoredFinding(detector, "brand", name, attrs={"category": "food", "parent": name, "via": "text"})


def codes_of(photo: PhotoFacts, context: ExposureContext | None = None) -> tuple[int, list[tuple[str, int]]]:
    value, reasons = score(photo, context or ExposureContext(), ExposurePoints())
    return value, [(r.code, r.points) for r in reasons]


def texts_of(photo: PhotoFacts, context: ExposureContext | None = None) -> list[str]:
    return [r.text for r in score(photo, context or ExposureContext(), ExposurePoints())[1]]


def test_each_reason_is_worth_its_documented_points() -> None:
    at_home = photo(gps(HOME[0] + 0.001, HOME[1]))  # about 110 m away
    assert codes_of(at_home) == (15, [("gps", 15)])
    assert codes_of(at_home, ExposureContext(home=HOME)) == (40, [("gps", 15), ("gps_near_home", 25)])
    away = photo(gps(HOME[0] + 0.003, HOME[1]))  # about 330 m away
    assert codes_of(away, ExposureContext(home=HOME)) == (15, [("gps", 15)])
    assert codes_of(photo(face(age=7.0))) == (30, [("child", 30)])
    assert codes_of(photo(pii("card"))) == (40, [("identity_document", 40)])
    assert codes_of(photo(code("boarding_pass"))) == (40, [("identity_document", 40)])
    assert codes_of(photo(scene("id_card"))) == (40, [("identity_document", 40)])
    assert codes_of(photo(scene("document"))) == (15, [("document", 15)])
    assert codes_of(photo(pii("phone"), pii("email"))) == (25, [("personal_data", 25)])
    assert codes_of(photo(pii("name"))) == (20, [("person_name", 20)])
    assert codes_of(photo(pii("place"))) == (5, [("place_name", 5)])
    assert codes_of(photo(pii("date"))) == (5, [("labelled_date", 5)])
    assert codes_of(photo(pii("sex"))) == (10, [("sex", 10)])
    assert codes_of(photo(pii("name"), pii("phone"), pii("sex"))) == (
        55,
        [("personal_data", 25), ("person_name", 20), ("sex", 10)],
    )
    assert codes_of(photo(code("wifi"))) == (25, [("personal_data", 25)])
    assert codes_of(photo(code("url"), pii("url"))) == (0, [])
    assert codes_of(photo(nudity("FEMALE_BREAST_EXPOSED"))) == (40, [("nudity", 40)])
    assert codes_of(photo(nudity("FEMALE_BREAST_COVERED"))) == (0, [])
    assert codes_of(photo(brand("Nike"))) == (5, [("brands", 5)])
    assert codes_of(photo(scene("screenshot"))) == (10, [("screenshot", 10)])


def test_the_owner_children_and_other_people() -> None:
    group = photo(face(person=1), face(person=2), face(person=3, age=6.0))
    assert codes_of(group) == (40, [("child", 30), ("other_people", 10)])
    context = ExposureContext(owner=1)
    assert texts_of(group, context) == ["a child's face", "a person other than you"]
    assert texts_of(group) == ["a child's face", "2 people"]
    # The user said person 3 is not a child, whatever the age model thinks.
    assert codes_of(group, ExposureContext(owner=1, adult_persons=frozenset({3}))) == (
        10,
        [("other_people", 10)],
    )
    assert codes_of(photo(face(person=1)), context) == (0, [])
    marked = photo(face(person=4, age=None))
    assert codes_of(marked, ExposureContext(child_persons=frozenset({4}))) == (30, [("child", 30)])


def test_the_score_is_capped_and_reasons_never_carry_values() -> None:
    everything = photo(
        gps(*HOME), face(age=5.0), pii("card"), pii("phone"), nudity("BUTTOCKS_EXPOSED"), scene("screenshot")
    )
    value, reasons = score(everything, ExposureContext(home=HOME), ExposurePoints())
    assert value == 100 and sum(r.points for r in reasons) > 100
    assert all(ch not in r.text for r in reasons for ch in "0123456789@")
    assert all("secret" not in r.text and "s***" not in r.text for r in reasons)
    custom = ExposurePoints(gps=3, gps_near_home=0)
    assert score(everything, ExposureContext(home=HOME), custom)[1][0].points == 3
    assert "gps_near_home" not in [r.code for r in score(everything, ExposureContext(home=HOME), custom)[1]]


def test_one_reason_per_code_whichever_detectors_raise_it() -> None:
    # The ID card (scene), its number and MRZ (pii) and a boarding pass (codes): one reason,
    # worth its points once, naming the card first, then the personal data, then the pass.
    papers = photo(scene("document"), code("boarding_pass"), pii("mrz"), pii("card"), scene("id_card"))
    assert codes_of(papers) == (40, [("identity_document", 40)])  # it supersedes "document"
    assert texts_of(papers) == [
        "identity or payment document: an ID card or passport, payment card number, "
        "passport/ID machine-readable zone, a boarding pass"
    ]
    personal = photo(code("wifi"), pii("phone"), pii("email"), code("contact"), pii("phone"))
    assert texts_of(personal) == [
        "readable personal data: contact card (QR code), e-mail address, phone number, Wi-Fi password (QR code)"
    ]
    # Brands read in the text and seen as logos: one list, sorted, at most five names.
    names = ["Zara", "Adidas", "Nike", "Lego", "Heineken", "Coca-Cola"]
    brands = photo(*(brand(n) for n in names[:3]), *(brand(n, "logos") for n in names[2:]))
    assert texts_of(brands) == ["brands a marketer can read: Adidas, Coca-Cola, Heineken, Lego, Nike"]
    located = photo(gps(43.46, 11.88), city="Arezzo", country="IT")
    assert texts_of(located) == ["GPS location in the file (Arezzo, IT)"]


def test_settling_orders_built_in_codes_first_and_honours_overrides() -> None:
    raised = [
        Reason("tattoo", 20, "a tattoo that identifies you"),
        Reason("brands", 5, "brands a marketer can read", parts=(Part(1, "B", "B"), Part(1, "A", "A"))),
        Reason("tattoo", 20, "a tattoo that identifies you"),
        Reason("document", 15, "a document (many lines of text)"),
        Reason("gps", 15, "GPS location in the file"),
    ]
    settled = settle(raised, ExposurePoints())
    assert [(r.code, r.points, r.text) for r in settled] == [
        ("gps", 15, "GPS location in the file"),
        ("document", 15, "a document (many lines of text)"),
        ("brands", 5, "brands a marketer can read: A, B"),
        ("tattoo", 20, "a tattoo that identifies you"),
    ]
    override = ExposurePoints.model_validate({"tattoo": 35, "gps": 1})
    assert [(r.code, r.points) for r in settle(raised, override)][::3] == [("gps", 1), ("tattoo", 35)]
    assert settled[0].as_dict() == {"code": "gps", "points": 15, "text": "GPS location in the file"}
