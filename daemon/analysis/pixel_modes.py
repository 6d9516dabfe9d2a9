"""Bring any decoded mode to what detectors see: upright 8-bit RGB, transparency over white.

Pillow shrinks only 8-bit modes and 32-bit int/float ones, so 16-bit greyscale (film and
astro scans) is widened to 32-bit before shrinking, and scaled to 8 bits after, when it is small.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

_SIXTEEN_BIT = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I;16S"})
# Bytes Pillow holds per pixel for each mode (RGB is stored in 4 bytes, 1-bit in 1).
BYTES_PER_PIXEL = {
    "1": 1,
    "L": 1,
    "P": 1,
    "LA": 4,
    "La": 4,
    "PA": 4,
    "RGB": 4,
    "RGBA": 4,
    "RGBa": 4,
    "RGBX": 4,
    "CMYK": 4,
    "YCbCr": 4,
    "LAB": 4,
    "HSV": 4,
    "I": 4,
    "F": 4,
    **{mode: 2 for mode in _SIXTEEN_BIT},
}


def bytes_per_pixel(mode: str) -> int:
    return BYTES_PER_PIXEL.get(mode, 4)


def shrinkable(image: Image.Image) -> Image.Image:
    """A mode Pillow can shrink: 16-bit greyscale becomes 32-bit int, same values."""
    if image.mode in _SIXTEEN_BIT:
        return image.convert("I")
    return image


def to_eight_bit(image: Image.Image) -> Image.Image:
    """32-bit int and float greyscale to 8 bits: 16-bit ranges keep their scale (a dark scan
    stays dark), anything else is stretched between its finite extremes."""
    if image.mode not in ("I", "F") and image.mode not in _SIXTEEN_BIT:
        return image
    values = np.asarray(image, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Image.new("L", image.size, 0)
    low, high = float(finite.min()), float(finite.max())
    if image.mode != "F" and low >= 0 and high <= 65535:
        low, high = 0.0, 65535.0 if high > 255 else 255.0
    span = high - low or 1.0
    scaled = np.nan_to_num((values - low) * (255.0 / span), nan=0.0, posinf=255.0, neginf=0.0)
    return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L")


def flattened(image: Image.Image) -> Image.Image:
    """RGB as a viewer shows it: transparent areas over white. Dropping the alpha channel instead
    would reveal whatever colour a transparent pixel stores, which a safe copy must not do."""
    image = to_eight_bit(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")
