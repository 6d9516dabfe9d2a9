"""Camera raw pixels through LibRaw (rawpy): the embedded preview when it is big enough, else a
demosaic at the smallest size that serves the detectors.

Almost every raw file carries a full-size or large JPEG preview the camera rendered; decoding it
takes a fraction of a demosaic and shows detectors what the photographer saw.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import rawpy
from PIL import Image

# LibRaw's flip codes to the transposition that makes the image upright.
_FLIP = {3: Image.Transpose.ROTATE_180, 5: Image.Transpose.ROTATE_90, 6: Image.Transpose.ROTATE_270}
# A demosaic holds the raw mosaic (2 bytes a photosite) and a 4-channel 16-bit image (8 bytes a
# pixel, a quarter of them at half size) at once.
DEMOSAIC_BYTES_PER_PIXEL = 10
HALF_SIZE_BYTES_PER_PIXEL = 4


class RawError(Exception):
    """LibRaw cannot give pixels; the message is the one-line reason."""

    def __init__(self, message: str, *, unsupported: bool = False) -> None:
        super().__init__(message)
        # LibRaw does not know the camera or variant, as opposed to damaged data.
        self.unsupported = unsupported


@dataclass
class RawPixels:
    image: Image.Image
    # Upright size of the full raw image, which bboxes refer to.
    width: int
    height: int
    source: str  # "preview" or "demosaic"
    # The raw data failed to decode and only the preview is shown: the file is damaged.
    problem: str | None = None


def decode_raw(
    data: bytes | memoryview, *, want_side: int | None, budget_bytes: int, format_name: str
) -> RawPixels:
    """The raw file's pixels, upright RGB; raises RawError with the reason."""
    try:
        raw = rawpy.imread(io.BytesIO(bytes(data)))
    except rawpy.LibRawFileUnsupportedError:
        raise RawError(
            f"LibRaw cannot decode this {format_name} file (unsupported camera or variant)", unsupported=True
        ) from None
    except rawpy.LibRawError as exc:
        raise RawError(f"{format_name} pixel data unreadable: {_reason(exc)}") from None
    with raw:
        sizes = raw.sizes
        width, height = (sizes.height, sizes.width) if sizes.flip in (5, 6) else (sizes.width, sizes.height)
        preview = _preview(raw)
        if (
            preview is not None
            and want_side is not None
            and max(preview.size) >= min(want_side, max(width, height))
        ):
            return RawPixels(_shrunk(preview, want_side), width, height, "preview")
        half = want_side is not None and max(width, height) // 2 >= want_side
        need = (
            sizes.raw_width
            * sizes.raw_height
            * (HALF_SIZE_BYTES_PER_PIXEL if half else DEMOSAIC_BYTES_PER_PIXEL)
        )
        if need > budget_bytes:
            if preview is not None:
                return RawPixels(_shrunk(preview, want_side), width, height, "preview")
            raise RawError(
                f"demosaicing needs about {need / 2**30:.1f} GB, over the per-worker budget "
                f"of {budget_bytes / 2**30:.1f} GB (decode.max_memory_mb)"
            )
        try:
            rgb = raw.postprocess(use_camera_wb=True, half_size=half, output_bps=8, no_auto_bright=False)
        except rawpy.LibRawError as exc:
            if preview is not None:
                problem = f"{format_name} raw data unreadable ({_reason(exc)}); only its embedded preview was analysed"
                return RawPixels(_shrunk(preview, want_side), width, height, "preview", problem)
            raise RawError(f"{format_name} pixel data unreadable: {_reason(exc)}") from None
    image = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    return RawPixels(_shrunk(image, want_side), width, height, "demosaic")


def _preview(raw: rawpy.RawPy) -> Image.Image | None:
    """The embedded preview, upright, or None when there is none usable."""
    try:
        thumb = raw.extract_thumb()
    except rawpy.LibRawError:
        return None
    try:
        image: Image.Image
        if thumb.format == rawpy.ThumbFormat.JPEG and isinstance(thumb.data, bytes):
            with Image.open(io.BytesIO(thumb.data)) as preview:
                # Stored as the sensor lies; the raw's flip says how to stand it up.
                image = preview.convert("RGB")
        elif thumb.format == rawpy.ThumbFormat.BITMAP:
            image = Image.fromarray(np.ascontiguousarray(thumb.data), "RGB")
        else:
            return None
    except Exception:  # a broken preview: demosaic instead
        return None
    flip = raw.sizes.flip
    return image.transpose(_FLIP[flip]) if flip in _FLIP else image


def _shrunk(image: Image.Image, want_side: int | None) -> Image.Image:
    if want_side is not None and max(image.size) > want_side:
        image.thumbnail((want_side, want_side), Image.Resampling.BILINEAR, reducing_gap=1.0)
    return image


def _reason(exc: BaseException) -> str:
    text = exc.args[0] if exc.args else type(exc).__name__
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split())[:200]
