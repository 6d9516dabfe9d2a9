"""The labels detector: the real converted EfficientNet-Lite0 on corpus photos, and its rules file.

The model is the one `shadowlens models build` makes (skipped when it was not built; `make test`
builds it). Photos are read from the shared corpus by path; synthetic images are made in code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError
from shadowlens.daemon.analysis.decode import open_photo
from shadowlens.daemon.analysis.detector import PhotoContext
from shadowlens.daemon.api import StoredFinding
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.vision.label_rules import (
    RULES,
    RulesError,
    categorise,
    imagenet_classes,
    load_rules,
)
from shadowlens.daemon.detectors.vision.labels import LabelFinding, LabelsDetector, LabelsSettings
from shadowlens.models.registry import Registry

from tests.conftest import BUILT_MODELS, built_model_or_skip, corpus_or_skip

MODEL_ID = "efficientnet-lite0-imagenet"


@pytest.fixture(scope="module")
def detector() -> LabelsDetector:
    built_model_or_skip(MODEL_ID)
    found = LabelsDetector(LabelsSettings(), registry=Registry(BUILT_MODELS))
    assert found.version == f"2+{MODEL_ID}"
    return found


def _photo(path: Path) -> PhotoContext:
    decoded = open_photo(path, want_side=1280, max_megapixels=Config().decode.max_megapixels)
    return PhotoContext(path=path, decoded=decoded)


def _corpus_photo(relative: str) -> PhotoContext:
    return _photo(corpus_or_skip() / relative)


def _top_classes(detector: LabelsDetector, photo: PhotoContext, count: int) -> list[str]:
    assert detector.model is not None
    image, _ = photo.rgb(detector.options.long_side)
    probabilities = detector.model.probabilities(image)
    assert probabilities.shape == (1000,) and abs(float(probabilities.sum()) - 1) < 1e-4
    return [detector.names[i] for i in np.argsort(-probabilities)[:count]]


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("easyocr-text/french.jpg", "street sign"),  # Paris signposts
        ("easyocr-text/chinese.jpg", "street sign"),  # 'Yuyuan Rd.'
        ("exif-samples/gps/DSCN0040.jpg", "monastery"),  # a church front in Arezzo
        ("exif-samples/tests/35-empty.jpg", "minivan"),  # a Toyota with a dealer plate
    ],
)
def test_the_converted_model_sees_what_is_in_corpus_photos(
    detector: LabelsDetector, relative: str, expected: str
) -> None:
    assert expected in _top_classes(detector, _corpus_photo(relative), 3)


@pytest.mark.parametrize(
    ("relative", "category", "seen"),
    [
        ("heic/pillow-heif/invalid_id.heic", "pets", "pug"),
        ("exif-samples/tests/35-empty.jpg", "cars", "minivan"),
        ("exif-samples/gps/DSCN0040.jpg", "travel", "monastery"),
        ("heic/exif-samples/iphone_13_pro_max.HEIC", "home", None),  # a kitchen
    ],
)
def test_corpus_photos_map_to_the_marketers_category(
    detector: LabelsDetector, relative: str, category: str, seen: str | None
) -> None:
    findings = detector.detect(_corpus_photo(relative))
    assert findings and all(isinstance(f, LabelFinding) for f in findings)
    first = findings[0]
    assert isinstance(first, LabelFinding) and first.label == category
    assert first.model == MODEL_ID and 0.2 <= first.confidence <= 1
    assert first.confidence == pytest.approx(sum(first.classes.values()), abs=1e-3)
    if seen is not None:
        assert seen in first.classes
    stored = StoredFinding.of(first, "labels")
    assert list(LabelsDetector.facts(stored)) == [("label", category)]
    assert LabelsDetector.shown(stored).startswith(f"label {category} (")


def test_a_street_sign_is_seen_but_sells_nothing(detector: LabelsDetector) -> None:
    photo = _corpus_photo("easyocr-text/french.jpg")
    assert _top_classes(detector, photo, 1) == ["street sign"]
    assert detector.detect(photo) == []


def test_blank_tiny_and_noise_images_give_no_category(detector: LabelsDetector, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    images = {
        "grey.png": Image.new("RGB", (640, 480), (128, 128, 128)),
        "black.png": Image.new("RGB", (480, 640), (0, 0, 0)),
        "one-pixel.png": Image.new("RGB", (1, 1), (200, 30, 30)),
        "noise.png": Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)),
        "strip.png": Image.fromarray(rng.integers(0, 256, (3, 900, 3), dtype=np.uint8)),
    }
    for name, image in images.items():
        image.save(tmp_path / name)
        assert detector.detect(_photo(tmp_path / name)) == [], name


def test_without_a_model_the_detector_finds_nothing_and_says_so(tmp_path: Path) -> None:
    offline = LabelsDetector(LabelsSettings(), registry=Registry(tmp_path / "no-models"))
    assert offline.version == "2+off" and offline.model is None
    image = tmp_path / "grey.png"
    Image.new("RGB", (64, 48), (90, 90, 90)).save(image)
    assert offline.detect(_photo(image)) == []


# -- the rules ----------------------------------------------------------------

HEADER = '[categories]\npets = "Pets"\ncoffee = "Coffee"\n'


def _rules(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "labels.toml"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_the_shipped_rules_cover_the_taxonomy() -> None:
    rules = load_rules()
    names = imagenet_classes()
    assert len(names) == 1000
    assert (names[0], names[1], names[504], names[663], names[919], names[967]) == (
        "tench",
        "goldfish",
        "coffee mug",
        "monastery",
        "street sign",
        "espresso",
    )
    categories = {rule.category for rule in rules.by_class.values()}
    assert categories == set(rules.categories) == {
        "food", "coffee", "alcohol", "soft_drinks", "sport", "pets", "fashion",
        "cars", "travel", "nightlife", "children", "home", "gadgets",
    }  # fmt: skip
    assert all(rules.by_class[i].category == "pets" for i in range(151, 269))  # every dog breed
    wanted = {"espresso": "coffee", "beer bottle": "alcohol", "pop bottle": "soft_drinks", "crib": "children"}
    for name, category in wanted.items():
        assert rules.by_class[names.index(name)].category == category, name
    assert names.index("street sign") not in rules.by_class


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            '[rules.dogs]\ncategory = "pets"\nclasses = ["pugg"]\nthreshold = 0.1\npriority = 1\n',
            "unknown ImageNet class 'pugg'",
        ),
        (
            '[rules.dogs]\ncategory = "pet"\nclasses = ["pug"]\nthreshold = 0.1\npriority = 1\n',
            "unknown category 'pet'",
        ),
        (
            '[rules.dogs]\ncategory = "pets"\nclasses = ["pug"]\nthreshold = 1.5\npriority = 1\n',
            "threshold must be",
        ),
        (
            '[rules.dogs]\ncategory = "pets"\nclasses = ["pug"]\nthreshold = 0\npriority = 1\n',
            "threshold must be",
        ),
        (
            '[rules.dogs]\ncategory = "pets"\nclasses = ["pug"]\nthreshold = 0.1\npriority = "high"\n',
            "priority must be",
        ),
        (
            '[rules.dogs]\ncategory = "pets"\nclasses = ["pug"]\nthreshold = 0.1\npriority = 1\ncolour = 2\n',
            "unknown key 'colour'",
        ),
        (
            '[rules.dogs]\ncategory = "pets"\nindices = [[151, 1000]]\nthreshold = 0.1\npriority = 1\n',
            "outside 0-999",
        ),
        ('[rules.dogs]\ncategory = "pets"\nthreshold = 0.1\npriority = 1\n', "names no classes"),
        (
            '[rules.dogs]\ncategory = "pets"\nclasses = ["cup"]\nthreshold = 0.1\npriority = 1\n'
            '[rules.drinks]\ncategory = "coffee"\nclasses = ["cup"]\nthreshold = 0.1\npriority = 1\n',
            "class 'cup' is also in rules.dogs",
        ),
    ],
)
def test_a_malformed_rule_is_one_line_naming_the_rule(tmp_path: Path, body: str, problem: str) -> None:
    path = _rules(tmp_path, body)
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    message = str(caught.value)
    assert problem in message and str(path) in message and "\n" not in message
    assert "rules.dogs" in message or "rules.drinks" in message
    with pytest.raises(
        ValidationError, match=problem.replace("[", r"\[")
    ):  # as [detectors.labels] rules_file
        LabelsSettings.model_validate({"rules_file": str(path)})


def test_a_missing_rules_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no such file"):
        LabelsSettings.model_validate({"rules_file": str(tmp_path / "absent.toml")})


def test_categories_sum_their_classes_and_respect_threshold_priority_and_top_k(tmp_path: Path) -> None:
    names = imagenet_classes()
    path = _rules(
        tmp_path,
        '[rules.dogs]\ncategory = "pets"\nindices = [[151, 268]]\nthreshold = 0.1\npriority = 5\n'
        '[rules.coffee]\ncategory = "coffee"\nclasses = ["espresso", "cup"]\nthreshold = 0.3\npriority = 9\n',
    )
    rules = load_rules(path)
    probabilities = np.zeros(1000, dtype=np.float32)
    probabilities[[names.index("pug"), names.index("boxer"), names.index("Pekinese")]] = (0.12, 0.09, 0.05)
    probabilities[names.index("espresso")] = 0.31
    probabilities[names.index("cup")] = 0.2
    probabilities[0] = 0.23  # tench: no rule
    found = categorise(probabilities, names, rules, top_k=5, min_confidence=0.2)
    # coffee first (higher priority), summed; pets summed over its top-5 breeds (Pekinese is 6th)
    assert [(c, round(p, 4)) for c, p, _ in found] == [("coffee", 0.51), ("pets", 0.21)]
    assert found[1][2] == {"pug": 0.12, "boxer": 0.09}
    assert [c for c, _, _ in categorise(probabilities, names, rules, top_k=5, min_confidence=0.3)] == [
        "coffee"
    ]
    probabilities[names.index("espresso")] = 0.29  # no coffee class reaches 0.3 any more
    assert [c for c, _, _ in categorise(probabilities, names, rules, top_k=5, min_confidence=0.2)] == ["pets"]


def test_the_default_rules_file_is_the_packaged_one() -> None:
    assert RULES.name == "labels.toml" and RULES.parent.name == "data" and RULES.is_file()
