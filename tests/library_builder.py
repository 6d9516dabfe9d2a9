"""Builds photo libraries for profile tests: real corpus photos re-dated, re-located and labelled.

Each photo gets EXIF DateTimeOriginal (+ offset) and GPS rewritten, and optionally lines of text
rendered on it (brand names, a phone number), so the whole pipeline runs on it as on a phone's
photo.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont
from shadowlens.daemon import clock
from shadowlens.daemon.analysis.findings import Finding
from shadowlens.daemon.analysis.results import AnalysisResult, DetectorRun, FileStat
from shadowlens.daemon.config import load_config
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.profile.updater import ProfileUpdater

from tests.conftest import LIBRARY_NOW, Env, corpus_or_skip

BACKGROUNDS = (
    "exif-samples/gps/DSCN0010.jpg",
    "exif-samples/gps/DSCN0012.jpg",
    "exif-samples/gps/DSCN0021.jpg",
    "exif-samples/gps/DSCN0025.jpg",
)
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATETIME_ORIGINAL, OFFSET_ORIGINAL = 0x9003, 0x9011


@dataclass
class Shot:
    name: str
    when: datetime
    lat: float | None = None
    lon: float | None = None
    lines: list[str] = field(default_factory=list)
    background: str | None = None
    device: tuple[str, str] = ("Google", "Pixel 7")  # EXIF Make, Model


def _dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return Fraction(degrees), Fraction(minutes), Fraction(seconds).limit_denominator(10000)


def write_shot(shot: Shot, folder: Path, index: int = 0) -> Path:
    source = corpus_or_skip() / (shot.background or BACKGROUNDS[index % len(BACKGROUNDS)])
    image = Image.open(source).convert("RGB").resize((1280, 960))
    draw, size, y = ImageDraw.Draw(image), 48, 60
    font = ImageFont.load_default(size=size)
    for line in shot.lines:
        width = draw.textlength(line, font=font)
        draw.rectangle((40, y - 8, 60 + width, y + size + 12), fill="white")
        draw.text((50, y), line, fill="black", font=font)
        y += size + 60
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = shot.device
    details = exif.get_ifd(EXIF_IFD)
    details[DATETIME_ORIGINAL] = shot.when.strftime("%Y:%m:%d %H:%M:%S")
    details[OFFSET_ORIGINAL] = "+01:00"
    if shot.lat is not None and shot.lon is not None:
        gps = exif.get_ifd(GPS_IFD)
        gps[0] = b"\x02\x03\x00\x00"
        gps[1], gps[2] = ("N" if shot.lat >= 0 else "S"), _dms(shot.lat)
        gps[3], gps[4] = ("E" if shot.lon >= 0 else "W"), _dms(shot.lon)
    path = folder / shot.name
    folder.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=90, exif=exif)
    return path


def write_library(shots: list[Shot], folder: Path) -> list[Path]:
    return [write_shot(shot, folder, i) for i, shot in enumerate(shots)]


def analysed(
    path: Path,
    found: Mapping[str, Sequence[Finding]],
    versions: Mapping[str, str],
    size: tuple[int, int] = (64, 48),
) -> AnalysisResult:
    """An analysis of the small JPEG at ``path`` as the pipeline would give it, with the findings a
    test chose per detector (detectors without any found nothing): a library without models."""
    return AnalysisResult(
        path=str(path),
        stat=FileStat.of(path),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        format="JPEG",
        width=size[0],
        height=size[1],
        runs=[DetectorRun(name, version, list(found.get(name, []))) for name, version in versions.items()],
        signature=",".join(f"{n}@{v}" for n, v in sorted(versions.items())),
    )


def stored_profile(root: Path, results: Callable[[Path], Iterable[AnalysisResult]]) -> dict[str, Any]:
    """The profile the daemon would build from ``results`` (made for files in ``root/library``),
    saved into a real index of a fresh account with the clock pinned to ``LIBRARY_NOW``."""
    env = Env(root / "home", now=LIBRARY_NOW)
    env.write_config("")
    now = clock.parse_pin(LIBRARY_NOW)
    store = Store.open(env.index)
    try:
        with clock.pinned(now):
            for result in results(root / "library"):
                store.save(result)
            updater = ProfileUpdater(store, load_config(env.config_file))
            updater.catch_up(alert=False)
            snapshot = updater.refresh(force=True, now=now.replace(tzinfo=None))
    finally:
        store.close()
    assert snapshot is not None
    return snapshot
