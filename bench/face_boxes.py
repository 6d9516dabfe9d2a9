"""The photos of the BlazeFace vs dlib HOG comparison (``rows_blazeface.py``), what each
detector found on them, and how found boxes are matched to the labelled ones.

Boxes are (x, y, w, h) in the pixels of the photo as decoded for the faces stage; a labelled
face counts as found when a found box overlaps it at IoU >= ``faces_support.IOU_MIN``. Photos
without boxes are scored by count, and the negatives by how many faces were found on them.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import faces_support as fs
import numpy as np
from harness import Context

COUNTED = {
    "dlib-faces/bald_guys.jpg": 24,
    "face_recognition/two_people.jpg": 2,
    "face_recognition/obama.jpg": 1,
    "dlib-faces/Tom_Cruise_avp_2014_4.jpg": 1,
    "face_recognition/obama-240p.jpg": 1,
}
NEGATIVES = (
    "dlib-faces/dogs.jpg",
    "easyocr-text/chinese.jpg",
    "easyocr-text/japanese.jpg",
    "easyocr-text/korean.png",
    "easyocr-text/thai.jpg",
    "heic/exif-samples/HMD_Nokia_8.3_5G_hdr.heif",
    "exif-samples/tests/30-type_error.jpg",
    "heic/exif-py/mountains.avif",
    "exif-samples/hdr/iphone_hdr_YES.jpg",
    "exif-samples/gps/DSCN0010.jpg",
)
QUICK = (
    "dlib-faces/2008_007676.jpg",
    "dlib-faces/2009_004587.jpg",
    "face_recognition/obama.jpg",
    "dlib-faces/dogs.jpg",
)
FRAMED = 2  # labelled photos again, centred on a canvas this many times their size
SMALL_SIDE = 640  # photos up to this long side get their own mean: HOG's cost grows with area


@dataclass
class Compared:
    """What each detector found on each photo and how long it took, beside the photos' truth."""

    labelled: dict[str, list[fs.Box]]
    counted: dict[str, int]
    negatives: list[str]
    seconds: dict[str, dict[str, float]] = field(default_factory=dict)  # detector -> photo -> summed
    repeats: int = 0
    sides: dict[str, int] = field(default_factory=dict)  # long side of the array each detector got
    found: dict[str, dict[str, list[fs.Box]]] = field(default_factory=dict)  # detector -> photo -> boxes
    scores: dict[str, list[float]] = field(default_factory=dict)  # BlazeFace, same order as found
    threads: int = 0
    framed: dict[str, tuple[int, int]] = field(default_factory=dict)  # detector -> (hits, faces)

    def ms(self, name: str, small: bool | None = None) -> float:
        """Mean ms a photo: every photo, or only those up to (or over) SMALL_SIDE px."""
        chosen = [p for p, side in self.sides.items() if small is None or (side <= SMALL_SIDE) == small]
        return (
            1000 * sum(self.seconds[name][p] for p in chosen) / (self.repeats * len(chosen))
            if chosen
            else float("nan")
        )


def photo_sets(ctx: Context) -> tuple[dict[str, list[fs.Box]], dict[str, int], list[str]]:
    root = ctx.need_corpus().root
    labelled = fs.labelled_boxes(root)
    counted = {p: n for p, n in COUNTED.items() if (root / p).exists()}
    negatives = [p for p in NEGATIVES if (root / p).exists()]
    if ctx.quick:
        labelled = {p: b for p, b in labelled.items() if p in QUICK}
        counted = {p: n for p, n in counted.items() if p in QUICK}
        negatives = [p for p in negatives if p in QUICK]
    return labelled, counted, negatives


def framed_hits(
    finder: Any, labelled: dict[str, list[fs.Box]], photos: dict[str, Any], min_px: int
) -> tuple[int, int]:
    """Hits on the labelled photos centred on a mid-grey canvas FRAMED times their size, as if
    the same group had been shot from further away: faces become a smaller share of the photo."""
    hits = total = 0
    for path, boxes in labelled.items():
        image, width = photos[path]
        scale = width / image.shape[1]
        height, across = image.shape[:2]
        canvas = np.full((height * FRAMED, across * FRAMED, 3), 127, dtype=np.uint8)
        top, left = (canvas.shape[0] - height) // 2, (canvas.shape[1] - across) // 2
        canvas[top : top + height, left : left + across] = image
        found = [(f.x, f.y, f.w, f.h) for f in finder(canvas) if min(f.w, f.h) >= min_px]
        truth = [(x / scale + left, y / scale + top, w / scale, h / scale) for x, y, w, h in boxes]
        hits += sum(1 for b in truth if any(fs.iou(b, f) >= fs.IOU_MIN for f in found))
        total += len(truth)
    return hits, total


def labelled_hits(
    truth: dict[str, list[fs.Box]], found: dict[str, list[fs.Box]], iou_min: float
) -> tuple[int, int]:
    """(labelled faces found at IoU >= ``iou_min``, labelled faces)."""
    hits = sum(
        1 for p, boxes in truth.items() for b in boxes if any(fs.iou(b, f) >= iou_min for f in found[p])
    )
    return hits, sum(len(b) for b in truth.values())


def smaller_half(truth: dict[str, list[fs.Box]]) -> dict[str, list[fs.Box]]:
    widths = sorted(b[2] for boxes in truth.values() for b in boxes)
    cut = statistics.median(widths) if widths else 0
    return {p: [b for b in boxes if b[2] <= cut] for p, boxes in truth.items()}


def counted_hits(c: Compared, found: dict[str, list[fs.Box]]) -> tuple[int, int]:
    return sum(min(len(found[p]), n) for p, n in c.counted.items()), sum(c.counted.values())


def false_faces(c: Compared, found: dict[str, list[fs.Box]]) -> int:
    return sum(len(found[p]) for p in c.negatives)


def recall_of(c: Compared, found: dict[str, list[fs.Box]]) -> float:
    hits, total = labelled_hits(c.labelled, found, fs.IOU_MIN)
    return hits / total if total else float("nan")
