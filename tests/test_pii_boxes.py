"""The personal-data detector on text findings: boxes around the value's characters only, and
how the new types count (their reasons and points, their words).

A safe copy fills each finding's box. With the line's polygon and character positions the box is
the name's, not the whole line's, so "Patient: John Smith   Room 12" keeps "Patient:" and
"Room 12" readable.
"""

from __future__ import annotations

from pathlib import Path

from shadowlens.daemon.analysis.detector import PhotoContext
from shadowlens.daemon.analysis.findings import BBox, TextFinding
from shadowlens.daemon.analysis.hooks import ExposureContext, StoredFinding
from shadowlens.daemon.config import ExposurePoints
from shadowlens.daemon.detectors.text.line_geometry import span_box
from shadowlens.daemon.detectors.text.personal import PersonalDataDetector, PiiFinding, PiiSettings


def line(text: str, x: float, y: float, width: float, edges: list[float] | None = None) -> TextFinding:
    """A horizontal line of text, 40 px high, as the OCR detector hands it over."""
    polygon = [[x, y], [x + width, y], [x + width, y + 40], [x, y + 40]]
    return TextFinding(label=text, confidence=0.95, bbox=(x, y, width, 40), polygon=polygon, char_edges=edges)


def detect(*lines: TextFinding) -> list[PiiFinding]:
    photo = PhotoContext(path=Path("form.jpg"), decoded=None)  # type: ignore[arg-type]  # text only
    photo.findings.extend(lines)
    detector = PersonalDataDetector(PiiSettings(), system_region=lambda: None)
    return [f for f in detector.detect(photo) if isinstance(f, PiiFinding)]


def inside(inner: BBox, outer: BBox) -> bool:
    return (
        inner[0] >= outer[0] - 1e-6
        and inner[1] >= outer[1] - 1e-6
        and inner[0] + inner[2] <= outer[0] + outer[2] + 1e-6
        and inner[1] + inner[3] <= outer[1] + outer[3] + 1e-6
    )


def test_the_detector_is_version_2() -> None:
    assert PersonalDataDetector.version == "2"


def test_the_box_covers_the_name_not_the_line() -> None:
    text = "Patient: John Smith   Room 12"
    [name] = detect(line(text, 100, 200, 580))
    assert (name.label, name.value) == ("name", "John Smith")
    start = text.index("John")
    assert name.bbox == span_box(
        [[100, 200], [680, 200], [680, 240], [100, 240]], len(text), start, start + len("John Smith")
    )
    assert name.bbox is not None
    x, _, width, height = name.bbox
    per_char = 580 / len(text)
    assert x > 100 + per_char * (start - 1) and x + width < 100 + per_char * (start + 11)
    assert height == 40 and width < 580 / 2


def test_character_positions_decide_where_the_box_is() -> None:
    # A proportional font: "Sex: " is narrow, the rest wide. The edges place the value exactly.
    text = "Sex: F"
    edges = [0.0, 0.1, 0.2, 0.3, 0.35, 0.4, 1.0]
    [sex] = detect(line(text, 0, 0, 600, edges))
    assert sex.label == "sex" and sex.bbox is not None
    assert sex.bbox == span_box([[0, 0], [600, 0], [600, 40], [0, 40]], len(text), 5, 6, edges)
    assert sex.bbox[0] < 240 < sex.bbox[0] + sex.bbox[2]  # the F starts at 40% of the line


def test_a_match_over_several_lines_is_the_union_of_each_lines_part() -> None:
    street, town = "Deliver to: 221B Baker Street", "London NW1 6XE, UK"
    found = detect(line(street, 50, 100, 580), line(town, 50, 160, 360))
    [address] = [f for f in found if f.label == "address"]
    assert address.bbox is not None
    first = span_box([[50, 100], [630, 100], [630, 140], [50, 140]], len(street), 12, len(street))
    second = span_box([[50, 160], [410, 160], [410, 200], [50, 200]], len(town), 0, len("London NW1 6XE"))
    assert inside(first, address.bbox) and inside(second, address.bbox)
    assert address.bbox[0] == second[0]  # the town line starts further left than the street part
    assert address.bbox[0] + address.bbox[2] == first[0] + first[2]
    assert address.bbox[1] == 100 and address.bbox[1] + address.bbox[3] == 200


def test_a_line_without_a_polygon_keeps_its_whole_box() -> None:
    bare = TextFinding(label="Name: Anna Becker", confidence=0.9, bbox=(10.0, 20.0, 300.0, 30.0))
    [name] = detect(bare)
    assert name.bbox == (10.0, 20.0, 300.0, 30.0)


def test_a_tilted_line_gives_the_box_of_its_part() -> None:
    text = "Dear Priya,"
    polygon = [[0.0, 100.0], [440.0, 0.0], [450.0, 40.0], [10.0, 140.0]]
    photo_line = TextFinding(label=text, confidence=0.9, bbox=(0.0, 0.0, 450.0, 140.0), polygon=polygon)
    [name] = detect(photo_line)
    assert name.bbox == span_box(polygon, len(text), 5, 10)
    assert name.bbox is not None and name.bbox[2] < 300


# --- how they count -------------------------------------------------------------------------------


def stored(label: str) -> StoredFinding:
    return StoredFinding("pii", "pii", label, attrs={"value": "x", "masked": "x***"})


def test_each_new_type_is_a_reason_with_its_own_points() -> None:
    points = ExposurePoints()
    reasons = PersonalDataDetector.exposure(
        [stored("name"), stored("place"), stored("date"), stored("sex"), stored("phone")],
        ExposureContext(),
        points,
    )
    assert [(r.code, r.points) for r in reasons] == [
        ("personal_data", 25),
        ("person_name", 20),
        ("place_name", 5),
        ("labelled_date", 5),
        ("sex", 10),
    ]
    custom = ExposurePoints(person_name=35, sex=0)
    assert {
        r.code: r.points for r in PersonalDataDetector.exposure([stored("name")], ExposureContext(), custom)
    } == {"person_name": 35}


def test_the_new_types_are_shown_in_words_with_their_mask() -> None:
    finding = StoredFinding("pii", "pii", "name", attrs={"value": "Anna Becker", "masked": "A*** B***"})
    assert PersonalDataDetector.shown(finding) == "a person's name: A*** B***"
    assert PersonalDataDetector.shown(stored("sex")) == "sex or gender: x***"
