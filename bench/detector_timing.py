"""Timing one detector's ``detect`` on corpus photos decoded beforehand, for the model rows.

The photos are decoded as the pipeline decodes them (``PhotoContext.rgb`` at the detector's long
side) outside the timing, every photo is analysed once to load the model and warm it, then each
is timed ``repeats`` times in turn. The value is the mean over photos and repetitions.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import Context, spread

PHOTOS, QUICK_PHOTOS = 10, 3
REPEATS, QUICK_REPEATS = 3, 1
MIN_PIXELS = 640 * 480


@dataclass
class DetectorTiming:
    mean_ms: float
    notes: str
    found: dict[str, list[Any]]  # photo name -> the findings of the warm-up run


def decoded_photo(path: Path, long_side: int) -> Any:
    """A PhotoContext of ``path`` decoded and shrunk as the pipeline would for a detector of
    ``long_side``, so that timing covers ``detect`` alone."""
    from shadowlens.daemon.analysis.decode import open_photo
    from shadowlens.daemon.api import PhotoContext
    from shadowlens.daemon.config import Config

    limit = Config().decode.max_megapixels
    photo = PhotoContext(path=path, decoded=open_photo(path, want_side=long_side, max_megapixels=limit))
    photo.rgb(long_side)
    return photo


def time_detector(ctx: Context, detector: Any, long_side: int) -> DetectorTiming:
    corpus = ctx.need_corpus()
    entries = sorted((e for e in corpus.photos() if e.pixels >= MIN_PIXELS), key=lambda e: e.path)
    entries = entries[: QUICK_PHOTOS if ctx.quick else PHOTOS]
    photos = [decoded_photo(corpus.root / entry.path, long_side) for entry in entries]
    found = {entry.name: detector.detect(photo) for entry, photo in zip(entries, photos, strict=True)}
    per_photo: dict[str, list[float]] = {entry.name: [] for entry in entries}
    for _ in range(QUICK_REPEATS if ctx.quick else REPEATS):
        for entry, photo in zip(entries, photos, strict=True):
            started = time.perf_counter()
            detector.detect(photo)
            per_photo[entry.name].append((time.perf_counter() - started) * 1000)
    every = [ms for samples in per_photo.values() for ms in samples]
    notes = (
        f"{len(entries)} photos x {len(every) // len(entries)} runs, long side {long_side}; "
        f"per photo {spread([statistics.mean(v) for v in per_photo.values()], '{:.1f}')}"
    )
    return DetectorTiming(statistics.mean(every), notes, found)
