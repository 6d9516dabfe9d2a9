"""Safe copies proven by a stricter read than detection (daemon/scrub/reread.py), and redaction
that covers the personal data, not the words beside it.

The fuzzy search and ``--redact`` selection are pure; the reads use the real rapidocr on text
rendered over a corpus photo.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from shadowlens.daemon.analysis.hooks import ScrubBox, StoredFinding
from shadowlens.daemon.detectors.text.ocr import OcrSettings, RapidOcrEngine
from shadowlens.daemon.detectors.text.pii import PII_TYPES
from shadowlens.daemon.scrub.reread import folded, reread, still_readable
from shadowlens.daemon.scrub.runner import REDACTIONS

from tests.conftest import corpus_or_skip

BACKGROUND = "exif-samples/gps/DSCN0010.jpg"


def pii(label: str, value: str) -> StoredFinding:
    return StoredFinding(
        detector="pii",
        kind="pii",
        label=label,
        confidence=0.9,
        bbox=(0.0, 0.0, 10.0, 10.0),
        attrs={"value": value, "masked": value[:2] + "***", "details": {"region": "US"}},
    )


def test_ocr_confusions_are_folded_before_comparing() -> None:
    assert folded("+1 (212) 555-T234") == folded("12125557234")
    assert folded("j.doe@examp1e.com") == folded("J.Doe@Example.COM")
    assert still_readable("555-1234", ["Call 555-I234 today"])
    assert still_readable("+1 212 555 7234", ["Tel: (212) 555-", "7234"])  # wrapped over two lines
    assert still_readable("Margaret Hollingsworth", ["Patient: Margaret Ho11ingsw0rth, F"])
    assert not still_readable("555-1234", ["Call 555-9876 today"])
    assert not still_readable("F", ["Fax"])  # too short to tell apart from chance


def test_redact_selects_types() -> None:
    name, phone, text = pii("name", "Anna Berg"), pii("phone", "+12125557234"), pii("x", "y")
    face = ScrubBox((0, 0, 1, 1), "face")
    data, words = ScrubBox((0, 0, 1, 1), "personal_data"), ScrubBox((0, 0, 1, 1), "text")
    assert REDACTIONS["pii"].covers(name, data) and REDACTIONS["all-pii"].covers(phone, data)
    assert REDACTIONS["names"].covers(name, data) and not REDACTIONS["names"].covers(phone, data)
    assert REDACTIONS["text"].covers(text, words) and not REDACTIONS["pii"].covers(text, words)
    assert not any(r.covers(name, face) for r in REDACTIONS.values())
    assert not REDACTIONS["none"].selects("name")
    # every type a --redact group names is one the personal-data detector gives
    named = {t for r in REDACTIONS.values() for t in (r.pii_types or ())}
    assert named <= set(PII_TYPES), named - set(PII_TYPES)


@pytest.fixture(scope="module")
def reader() -> RapidOcrEngine:
    settings = OcrSettings()
    return RapidOcrEngine(settings.gate_side, settings.read_side, settings.read_margin)


def letter(tmp_path: Path, lines: list[str], size: int = 40) -> Image.Image:
    image = Image.open(corpus_or_skip() / BACKGROUND).convert("RGB").resize((1600, 1200))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=size)
    for i, line in enumerate(lines):
        y = 100 + i * (size * 2)
        draw.rectangle((60, y - 10, 80 + draw.textlength(line, font=font), y + size + 10), fill="white")
        draw.text((70, y), line, fill="black", font=font)
    return image


@pytest.mark.corpus
def test_a_value_left_readable_fails_and_a_redacted_one_passes(
    tmp_path: Path, reader: RapidOcrEngine
) -> None:
    phone = pii("phone", "+12125557234")
    shown = lambda f: f"phone number: {f.attrs['masked']}"  # noqa: E731
    readable = letter(tmp_path, ["Dear customer,", "please call (212) 555-7234 tomorrow."])
    failed = reread(readable, [phone], REDACTIONS["pii"].selects, reader, shown)
    assert failed.problems == ["phone number: +1*** still readable in the copy (strict read)"]
    assert failed.checked[1] == "1 of 1 redacted values looked for, OCR confusions allowed"
    covered = letter(tmp_path, ["Dear customer,", "please call tomorrow."])
    passed = reread(covered, [phone], REDACTIONS["pii"].selects, reader, shown)
    assert passed.problems == [] and passed.checked[0].endswith("lines read")
    assert "personal data searched again in the strict read: 0 found" in passed.checked
