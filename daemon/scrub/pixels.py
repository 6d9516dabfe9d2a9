"""Irreversible edits of pixels: pixelated faces and solid boxes over text. Pure functions.

A Gaussian blur can be partly undone (deconvolution) and keeps enough of a face for a recogniser;
averaging into a few large blocks throws the detail away, and the noise added on top hides the
exact block means, which would otherwise still carry a little information.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterable

import numpy as np
from PIL import Image, ImageDraw
from shadowlens.daemon.analysis.findings import BBox

Box = tuple[int, int, int, int]
"""left, top, right, bottom in pixels (right and bottom exclusive), clipped to the image."""

# Per-pixel noise amplitude (0-255 scale) over pixelated blocks: hides block means, invisible in effect.
NOISE_AMPLITUDE = 12
# Text boxes from OCR are tight; descenders and anti-aliased edges sit just outside them. The
# margin is a share of the text's height on every side, never of its width: a wide box grown by
# its width would swallow the words beside a redacted value.
TEXT_MARGIN_FRACTION = 0.25
TEXT_MARGIN_MIN_PX = 3
REDACT_FILL = (0, 0, 0)


def grow(bbox: BBox, margin: float, size: tuple[int, int], min_px: int = 0) -> Box | None:
    """``bbox`` (x, y, w, h) grown by ``margin`` of its size on every side (at least ``min_px``),
    clipped to an image of ``size``; None when nothing of it lies inside the image."""
    x, y, w, h = bbox
    dx, dy = max(w * margin, min_px), max(h * margin, min_px)
    left, top = max(0, math.floor(x - dx)), max(0, math.floor(y - dy))
    right, bottom = min(size[0], math.ceil(x + w + dx)), min(size[1], math.ceil(y + h + dy))
    if right <= left or bottom <= top:
        return None
    return left, top, right, bottom


def block_size(bbox: BBox, fraction: float) -> int:
    """The side of one pixelation block: ``fraction`` of the face box's shorter side, >= 2 px."""
    return max(2, round(min(bbox[2], bbox[3]) * fraction))


def pixelate(image: Image.Image, box: Box, block: int, rng: np.random.Generator | None = None) -> None:
    """Replace ``box`` of the RGB ``image`` (in place) by blocks of ``block`` px holding their mean
    colour, plus a little random noise."""
    if block < 1:
        raise ValueError(f"pixelation block must be at least 1 px, not {block}")
    left, top = box[0], box[1]
    region = np.asarray(image.crop(box), dtype=np.float32)
    height, width = region.shape[:2]
    rows, cols = math.ceil(height / block), math.ceil(width / block)
    # Pad to whole blocks by repeating the edge, so edge blocks average real pixels only.
    padded = np.pad(region, ((0, rows * block - height), (0, cols * block - width), (0, 0)), mode="edge")
    means = padded.reshape(rows, block, cols, block, 3).mean(axis=(1, 3))
    blocks = np.repeat(np.repeat(means, block, axis=0), block, axis=1)[:height, :width]
    generator = rng or np.random.default_rng(secrets.randbits(64))
    noise = generator.uniform(-NOISE_AMPLITUDE, NOISE_AMPLITUDE, size=blocks.shape)
    result = np.clip(blocks + noise, 0, 255).astype(np.uint8)
    image.paste(Image.fromarray(result, "RGB"), (left, top))


def pixelate_faces(image: Image.Image, faces: Iterable[BBox], margin: float, fraction: float) -> list[Box]:
    """Pixelate every face box grown by ``margin``; returns the boxes actually covered."""
    if image.mode != "RGB":
        raise ValueError(f"expected an RGB image, not {image.mode}")
    covered: list[Box] = []
    for bbox in faces:
        box = grow(bbox, margin, image.size)
        if box is not None:
            pixelate(image, box, block_size(bbox, fraction))
            covered.append(box)
    return covered


def redact_boxes(image: Image.Image, boxes: Iterable[BBox]) -> list[Box]:
    """Fill every text box (grown a little) with solid black; returns the boxes filled."""
    draw = ImageDraw.Draw(image)
    filled: list[Box] = []
    for bbox in boxes:
        height = min(bbox[2], bbox[3])  # a vertical line of text is as high as it is wide
        margin = max(height * TEXT_MARGIN_FRACTION, TEXT_MARGIN_MIN_PX)
        box = grow(bbox, 0.0, image.size, math.ceil(margin))
        if box is not None:
            # ImageDraw's rectangle includes its bottom-right corner; Box excludes it.
            draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), fill=REDACT_FILL)
            filled.append(box)
    return filled


def overlap(found: BBox, box: Box) -> float:
    """The share of ``found`` (x, y, w, h) lying inside ``box``: 0 (apart) to 1 (inside)."""
    x, y, w, h = found
    if w <= 0 or h <= 0:
        return 0.0
    inter_w = min(x + w, box[2]) - max(x, box[0])
    inter_h = min(y + h, box[3]) - max(y, box[1])
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    return (inter_w * inter_h) / (w * h)


def iou(a: BBox, b: BBox) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    inter_w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    inter_h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)
