"""A very large HEIC (a 200 MP phone photo) at reduced size, without Pillow's copy of it.

libheif has no reduced decode: it always gives the full image. Through Pillow that buffer is
copied once more (RGB held in 4 bytes a pixel), 1.4 GB at its peak for 200 MP. Read as a
NumPy view of libheif's own buffer and averaged down band by band, the peak is libheif's
buffer alone (3 bytes a pixel) plus the small result.
"""

from __future__ import annotations

import io

import numpy as np
import pillow_heif
from PIL import Image

LIBHEIF_BYTES_PER_PIXEL = 3


def decode_heif_reduced(data: bytes, want_side: int) -> Image.Image:
    """The primary image, upright (libheif applies the file's rotation and mirroring), shrunk by
    an integer box factor so its long side is at most ``want_side``."""
    heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
    width, height = heif.size
    mode = heif.mode
    channels = {"RGB": 3, "RGBA": 4}.get(mode)
    if channels is None:
        raise ValueError(f"HEIF: unexpected decoded mode {mode}")
    factor = max(1, -(-max(width, height) // want_side))
    buffer = np.frombuffer(heif.data, dtype=np.uint8)
    rows = buffer[: heif.stride * height].reshape(height, heif.stride)
    out_h, out_w = height // factor, width // factor
    out = np.empty((out_h, out_w, channels), dtype=np.uint8)
    used = out_w * factor
    for band in range(out_h):
        block = rows[band * factor : (band + 1) * factor, : used * channels]
        pixels = block.reshape(factor, out_w, factor, channels)
        out[band] = pixels.mean(axis=(0, 2), dtype=np.float32).round().astype(np.uint8)
    del rows, buffer, heif
    return Image.fromarray(out, mode)
