"""How counts, rates and devices are said (``daemon.wording``), and that the CLI says them so on a
real scan: never "1 photos", "0.0 photos a week" or "Canon Canon EOS 40D"."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from shadowlens.daemon.wording import agree, device_name, plural, rate_per_week

from tests.conftest import LIBRARY_NOW, Env, corpus_or_skip, manifest_rows

# Only the metadata detector: a device needs nothing else, and the scan takes a second.
METADATA_ONLY = "".join(
    f"[detectors.{name}]\nenabled = false\n"
    for name in ("faces", "text", "codes", "nudity", "objects", "logos", "labels", "scene", "brands", "pii")
)
# A count and its noun, disagreeing: "1 photos", "1 errors", "1 days".
ONE_WITH_A_PLURAL = re.compile(r"(?<![\d.,])1 (photos|errors|alerts|faces|days|people|children)\b")


def test_counts_agree_with_their_noun() -> None:
    assert [plural(n, "photo") for n in (0, 1, 2, 1234)] == [
        "0 photos",
        "1 photo",
        "2 photos",
        "1,234 photos",
    ]
    assert plural(1, "person", "people") == "1 person" and plural(3, "person", "people") == "3 people"
    assert plural(1, "safe copy", "safe copies") == "1 safe copy"
    assert (agree(1, "tells", "tell"), agree(5, "tells", "tell")) == ("tells", "tell")


@pytest.mark.parametrize("per_week", [1e-6, 0.004, 0.016, 0.03, 0.049, 0.05, 0.1, 0.24, 0.5, 0.94, 0.95])
def test_a_small_rate_is_never_said_as_zero(per_week: float) -> None:
    said = rate_per_week(per_week)
    assert not re.match(r"0(\.0)? ", said) and "about 0" not in said, said
    assert said.endswith(("a week", "a month", "a year")), said


def test_rates_use_the_largest_unit_that_says_at_least_one() -> None:
    assert rate_per_week(2.5) == "2.5 photos a week"
    assert rate_per_week(1.0) == "1 photo a week"
    assert rate_per_week(0.5) == "about 2 photos a month"
    assert rate_per_week(0.02) == "about 1 photo a year"
    assert rate_per_week(0.001) == "less than one photo a year"
    assert rate_per_week(0.0) == "no photos"


@pytest.mark.parametrize(
    ("make", "model", "name"),
    [
        ("Canon", "Canon EOS 40D", "Canon EOS 40D"),
        ("Jolla", "Jolla", "Jolla"),
        ("NIKON CORPORATION", "NIKON D70", "NIKON D70"),
        ("Eastman Kodak Company", "KODAK DX6490 ZOOM DIGITAL CAMERA", "KODAK DX6490 ZOOM DIGITAL CAMERA"),
        ("LG Electronics", "LG-H850", "LG-H850"),
        ("OLYMPUS IMAGING CORP.", "E-M5", "OLYMPUS E-M5"),
        ("Minolta Co., Ltd.", "DiMAGE 7", "Minolta DiMAGE 7"),
        ("Apple", "iPhone 12 Pro", "Apple iPhone 12 Pro"),
        ("Google", "Pixel 7", "Google Pixel 7"),
        ("Canon", None, "Canon"),
        (None, "Pixel 7", "Pixel 7"),
        (" ", "", None),
    ],
)
def test_a_device_names_its_maker_once(make: str | None, model: str | None, name: str | None) -> None:
    assert device_name(make, model) == name


@pytest.mark.corpus
def test_no_camera_in_the_corpus_is_named_with_its_maker_twice() -> None:
    pairs = {(r["camera_make"], r["camera_model"]) for r in manifest_rows() if r["camera_model"]}
    assert len(pairs) >= 10
    for make, model in pairs:
        name = device_name(make, model)
        assert name is not None and model in name, (make, model, name)
        words = name.casefold().split()
        assert len(words) < 2 or words[0] != words[1], (make, model, name)


@pytest.mark.corpus
def test_the_cli_names_counts_and_devices_as_people_say_them(tmp_path: Path) -> None:
    """A real scan of two corpus phones and cameras whose Model repeats the Make."""
    corpus = corpus_or_skip()
    env, library = Env(tmp_path / "home", now=LIBRARY_NOW), tmp_path / "library"
    library.mkdir()
    env.write_config(METADATA_ONLY)
    shutil.copy(corpus / "exif-samples/mobile/jolla.jpg", library)
    scanned = env.run("scan", str(library))
    assert "Scanned 1 photo in" in scanned.stderr and "0 errors" in scanned.stderr, scanned.stderr
    said = env.run("profile", "--refresh").stdout
    assert said.startswith("What your 1 photo tells a marketer"), said
    assert not ONE_WITH_A_PLURAL.search(said), said

    shutil.copy(corpus / "exif-samples/cameras/Canon_40D.jpg", library)
    env.run("scan", str(library))
    devices = {d["device"] for d in env.json("profile", "--refresh")["habits"]["devices"]}
    assert devices == {"Jolla", "Canon EOS 40D"}
    shown = env.run("show", str(library / "Canon_40D.jpg")).stdout
    assert re.search(r"^device +Canon EOS 40D$", shown, re.MULTILINE), shown
