"""Safe copies of a letter, end to end through the real CLI: personal data is covered character by
character, the words beside it survive, ``--redact names`` covers names only, and a phone number
written the national way on a photo without GPS is read in the library's country.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from shadowlens.daemon.detectors.text.ocr import OcrSettings, RapidOcrEngine

from tests.conftest import LIBRARY_NOW, Env
from tests.library_builder import Shot, write_shot

pytestmark = pytest.mark.corpus
# Only what a letter needs: every other detector would only make the test slower.
TEXT_ONLY = "".join(
    f"[detectors.{name}]\nenabled = false\n"
    for name in ("faces", "codes", "brands", "nudity", "objects", "logos", "labels", "scene")
)
LETTER = [
    "Patient: Margaret Hollingsworth",
    "Tel. 030 2345 6789 ask for reception",
    "Please bring your card tomorrow",
]
BERLIN = (52.5200, 13.4050)
# A phone's locale must not decide the region: the library's country must.
NO_LOCALE = {"LANG": "C.UTF-8", "LC_ALL": "", "LC_TELEPHONE": ""}


def strict_text(path: Path) -> str:
    settings = OcrSettings()
    engine = RapidOcrEngine(settings.gate_side, settings.read_side, settings.read_margin)
    with Image.open(path) as image:
        lines = engine.read_strict(np.asarray(image.convert("RGB")))
    return "\n".join(text for text, _, _ in lines)


@pytest.fixture(scope="module")
def letter_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Env, Path]:
    """A library of photos taken in Berlin, scanned first; then a letter without GPS."""
    root = tmp_path_factory.mktemp("letter")
    env = Env(root / "home", now=LIBRARY_NOW)
    env.write_config(TEXT_ONLY)
    berlin = root / "berlin"
    for day in range(3):
        write_shot(Shot(f"berlin{day}.jpg", datetime(2025, 3, 1 + day, 12), *BERLIN), berlin, day)
    env.run("scan", str(berlin), extra_env=NO_LOCALE)
    letters = root / "letters"
    write_shot(Shot("letter.jpg", datetime(2025, 3, 9, 12), lines=LETTER), letters)
    env.run("scan", str(letters), extra_env=NO_LOCALE)
    return env, letters / "letter.jpg"


def pii_of(env: Env, path: Path) -> dict[str, dict[str, Any]]:
    [photo] = [p for p in env.json("photos") if Path(p["path"]) == path]
    return {f["label"]: f for f in photo["findings"] if f["kind"] == "pii"}


def test_a_national_number_without_gps_is_read_in_the_library_s_country(letter_env: tuple[Env, Path]) -> None:
    env, letter = letter_env
    found = pii_of(env, letter)
    assert {"name", "phone"} <= set(found), sorted(found)
    phone = found["phone"]["attrs"]
    assert phone["value"] == "+493023456789"
    assert (phone["details"]["region"], phone["details"]["region_from"]) == ("DE", "library")


def test_the_copy_covers_the_values_and_keeps_the_words_beside_them(
    letter_env: tuple[Env, Path], tmp_path: Path
) -> None:
    env, letter = letter_env
    proc = env.run("scrub", str(letter), "--out", str(tmp_path / "safe"), "--json", extra_env=NO_LOCALE)
    [report] = json.loads(proc.stdout)
    assert report["ok"], report["problems"]
    assert any("strict OCR" in line for line in report["checked"]), report["checked"]
    text = strict_text(Path(report["copy"]))
    assert "Hollingsworth" not in text and "2345" not in text, text
    # the label before each value and the words after it are still there
    for word in ("Patient", "ask for reception", "Please bring your card tomorrow"):
        assert word in text, (word, text)


def test_redact_names_covers_the_name_and_leaves_the_phone(
    letter_env: tuple[Env, Path], tmp_path: Path
) -> None:
    env, letter = letter_env
    out = tmp_path / "names"
    proc = env.run(
        "scrub", str(letter), "--out", str(out), "--redact", "names", "--json", extra_env=NO_LOCALE
    )
    [report] = json.loads(proc.stdout)
    assert report["ok"], report["problems"]
    text = strict_text(Path(report["copy"]))
    assert "Hollingsworth" not in text and "2345 6789" in text, text
