"""The text detector before and after small print (issue #16), in the same run.

OLD is ``OcrSettings(small_print=False)``: the gate and the read pass only, as version 1 read.
NEW is the default. Photos are decoded as the pipeline decodes them for the text detector (at its
``long_side``) outside the timing; NEW decodes a scan again at a larger size itself, and that is
timed. Every photo is read once by each to load and warm the models, then the two take turns,
photo by photo, so a noisy machine slows both alike.

Rows:

* ``ocr.phone_photo_ms.old`` / ``.new``: median over photos of each photo's median ms, on the 8
  largest phone-size corpus photos (3 with ``--quick``); the notes give each photo's.
* ``ocr.phone_photo_ratio``: NEW / OLD of the photos' total time (the sum of their medians); goal
  <= 1.15. One of them has no readable camera metadata, so NEW looks there for small print.
* ``ocr.large_scan_ms.old`` / ``.new``: a rendered 3000 px scan (a letter on white paper,
  20 px body text with a 12 px date of birth and 16 px footer); NEW must read the date of birth.
  The notes say how many lines each read.
* ``ocr.strict_read_ms``: ``RapidOcrEngine.read_strict`` (the scrub verifier's read) on that scan
  at full resolution.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detector_timing import decoded_photo
from harness import Context, Measurement, median, row, spread

PHOTOS, QUICK_PHOTOS = 8, 3
REPEATS, QUICK_REPEATS = 5, 1
RATIO_GOAL = 1.15
DATE_OF_BIRTH = "Date of birth: 14.03.1987"


@dataclass
class Timings:
    """Per photo, the ms of each run, for OLD and NEW."""

    names: list[str]
    old: dict[str, list[float]] = field(default_factory=dict)
    new: dict[str, list[float]] = field(default_factory=dict)
    found: dict[str, list[str]] = field(default_factory=dict)  # NEW's lines per photo
    found_old: dict[str, list[str]] = field(default_factory=dict)

    def medians(self, which: dict[str, list[float]]) -> list[float]:
        return [median(which[name]) for name in self.names]

    def notes(self, which: dict[str, list[float]]) -> str:
        runs = len(which[self.names[0]])
        return f"{len(self.names)} photos x {runs} runs; per photo {spread(self.medians(which), '{:.0f}')}"


def _detectors() -> tuple[Any, Any]:
    from shadowlens.daemon.detectors.text.ocr import OcrDetector, OcrSettings

    old, new = OcrDetector(OcrSettings(small_print=False)), OcrDetector(OcrSettings())
    # One set of models for both (their settings are the same): two would take turns in the CPU
    # caches, and whichever ran second would pay for it.
    old.engine = new.engine
    return old, new


def _time(ctx: Context, paths: list[Path]) -> Timings:
    old, new = _detectors()
    photos = [decoded_photo(path, new.options.long_side) for path in paths]
    timings = Timings([path.name for path in paths])
    for path, photo in zip(paths, photos, strict=True):
        timings.found_old[path.name] = [f.label for f in old.detect(photo)]
        timings.found[path.name] = [f.label for f in new.detect(photo)]
        timings.old[path.name], timings.new[path.name] = [], []
    for repeat in range(QUICK_REPEATS if ctx.quick else REPEATS):
        for path, photo in zip(paths, photos, strict=True):
            # Who goes first alternates: the second often finds the CPU caches warmer.
            pair = [(old, timings.old), (new, timings.new)]
            for detector, samples in pair if repeat % 2 == 0 else pair[::-1]:
                started = time.perf_counter()
                detector.detect(photo)
                samples[path.name].append((time.perf_counter() - started) * 1000)
    old.close()
    new.close()
    return timings


def _phone_photos(ctx: Context) -> Timings:
    def measure() -> Timings:
        corpus = ctx.need_corpus()
        entries = sorted(corpus.phone_size(), key=lambda e: (-e.pixels, e.path))
        entries = entries[: QUICK_PHOTOS if ctx.quick else PHOTOS]
        return _time(ctx, [corpus.root / entry.path for entry in entries])

    return ctx.memo("ocr.phone_photos", measure)


def render_scan(path: Path, background: Path) -> Path:
    """A letter scanned at 3000 px: white paper with a faint grey cast, a heading, body text at
    20 px, a 12 px date of birth, a 16 px footer, and a corpus photo printed on it."""
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("RGB", (2120, 3000), (246, 245, 240))
    page.paste(Image.open(background).convert("RGB").resize((900, 675)), (1060, 1700))
    draw = ImageDraw.Draw(page)
    draw.text((160, 160), "Northfield Medical Practice", fill="black", font=ImageFont.load_default(size=44))
    body = ImageFont.load_default(size=20)
    for i in range(24):
        draw.text(
            (160, 320 + i * 40),
            f"Line {i + 1} of the letter about your appointment and results.",
            fill="black",
            font=body,
        )
    draw.text(
        (160, 1320),
        f"Patient: Jane Doe   {DATE_OF_BIRTH}",
        fill="black",
        font=ImageFont.load_default(size=12),
    )
    footer = ImageFont.load_default(size=16)
    draw.text((160, 2860), "Phone: +44 20 7946 0958   jane.doe@example.com", fill="black", font=footer)
    page.save(path, quality=90)
    return path


def _scan(ctx: Context) -> Timings:
    def measure() -> Timings:
        corpus = ctx.need_corpus()
        path = render_scan(
            ctx.tempdir("ocr-scan") / "letter.jpg", corpus.root / "exif-samples/gps/DSCN0010.jpg"
        )
        return _time(ctx, [path])

    return ctx.memo("ocr.scan", measure)


def _value(timings: Callable[[Context], Timings], which: str) -> Callable[[Context], Measurement]:
    def measure(ctx: Context) -> Measurement:
        t = timings(ctx)
        samples = t.old if which == "old" else t.new
        return Measurement(statistics.median(t.medians(samples)), t.notes(samples))

    return measure


row("ocr.phone_photo_ms.old", unit="ms", needs_corpus=True)(_value(_phone_photos, "old"))
row("ocr.phone_photo_ms.new", unit="ms", needs_corpus=True)(_value(_phone_photos, "new"))


def _scan_row(which: str) -> Callable[[Context], Measurement]:
    def measure(ctx: Context) -> Measurement:
        t = _scan(ctx)
        lines = (t.found if which == "new" else t.found_old)[t.names[0]]
        read = any("14.03.1987" in line for line in lines)
        samples = t.new if which == "new" else t.old
        notes = f"{t.notes(samples)}; {len(lines)} lines read, date of birth {'read' if read else 'missed'}"
        problem = None if read or which == "old" else f"the 12 px date of birth was not read: {lines}"
        return Measurement(statistics.median(t.medians(samples)), notes, check_failed=problem)

    return measure


row("ocr.large_scan_ms.old", unit="ms", needs_corpus=True)(_scan_row("old"))
row("ocr.large_scan_ms.new", unit="ms", needs_corpus=True)(_scan_row("new"))


@row("ocr.phone_photo_ratio", unit="x", needs_corpus=True)
def phone_photo_ratio(ctx: Context) -> Measurement:
    t = _phone_photos(ctx)
    old, new = t.medians(t.old), t.medians(t.new)
    # Totals, not the median photo: with an even count the median is the mean of two photos, and
    # which two changes when one photo moves past the others.
    ratio = sum(new) / sum(old)
    per_photo = ", ".join(f"{name} {n / o:.2f}" for name, o, n in zip(t.names, old, new, strict=True))
    notes = (
        f"NEW/OLD of the photos' total time; goal <= {RATIO_GOAL} ({'met' if ratio <= RATIO_GOAL else 'MISSED'}); "
        f"of the median photo {statistics.median(new) / statistics.median(old):.2f}; per photo {per_photo}"
    )
    problem = None if ratio <= RATIO_GOAL else f"NEW takes {ratio:.2f}x OLD's time, goal <= {RATIO_GOAL}"
    return Measurement(ratio, notes, extra={"old_ms": old, "new_ms": new}, check_failed=problem)


@row("ocr.strict_read_ms", unit="ms", needs_corpus=True)
def strict_read_ms(ctx: Context) -> Measurement:
    import numpy as np
    from PIL import Image
    from shadowlens.daemon.detectors.text.ocr_engine import RapidOcrEngine

    corpus = ctx.need_corpus()
    path = render_scan(
        ctx.tempdir("ocr-strict") / "letter.jpg", corpus.root / "exif-samples/gps/DSCN0010.jpg"
    )
    image = np.asarray(Image.open(path).convert("RGB"))
    engine = RapidOcrEngine()
    lines = engine.read_strict(image)  # loads the models
    samples = []
    for _ in range(1 if ctx.quick else 3):
        started = time.perf_counter()
        engine.read_strict(image)
        samples.append((time.perf_counter() - started) * 1000)
    engine.unload()
    read = any("14.03.1987" in text for text, _, _ in lines)
    notes = f"{image.shape[1]}x{image.shape[0]}, {len(lines)} lines; ms {spread(samples, '{:.0f}')}"
    problem = None if read else "the strict read missed the 12 px date of birth"
    return Measurement(median(samples), notes, check_failed=problem)
