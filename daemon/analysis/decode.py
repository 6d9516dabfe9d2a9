"""Decode once: open a photo, check it, and hand detectors the pixels at the size they ask for.

Type comes from magic bytes, never the extension. Orientation from EXIF is applied, so every
detector sees, and every bbox refers to, the upright image. JPEGs are decoded at reduced size
(draft mode) when no detector needs full resolution.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import filetype
import pillow_heif
from PIL import Image, ImageFile, IptcImagePlugin, UnidentifiedImageError

# One hashing loop for photos and model files (re-exported: the pipeline and scrub hash here).
from shadowlens.models.registry import sha256_file as sha256_file

pillow_heif.register_heif_opener()
# We apply our own, configurable limit before decoding (see check_size).
Image.MAX_IMAGE_PIXELS = None
# Pillow warns about malformed MPO headers and EXIF; the metadata detector reports what matters.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")

IMAGE_EXTENSIONS = frozenset(
    [
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".gif",
        ".webp",
        ".heic",
        ".heif",
        ".hif",
        ".avif",
        ".tif",
        ".tiff",
        ".mpo",
        ".bmp",
    ]
)
RAW_EXTENSIONS = frozenset([".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf", ".srw", ".pef"])
_IMAGE_MIME_PREFIX = "image/"
# Below this, draft mode would hand detectors too few pixels to be useful.
VERIFY_SIDE = 256


class DecodeError(Exception):
    """A photo that cannot be analysed; the message is the one-line reason shown to the user."""


def has_photo_extension(path: Path) -> bool:
    suffix = path.suffix.lower()
    return suffix in IMAGE_EXTENSIONS or suffix in RAW_EXTENSIONS


def has_image_magic(head: bytes) -> bool:
    """Whether the first bytes of a file are those of an image format (extension ignored)."""
    if not head:
        return False
    kind = filetype.guess(head)
    return kind is not None and str(kind.mime).startswith(_IMAGE_MIME_PREFIX)


@dataclass
class DecodedPhoto:
    """One opened photo. ``image`` is upright RGB; ``scale`` maps its pixels to full size."""

    path: Path
    format: str
    width: int
    height: int
    exif: Image.Exif
    info: dict[str, object]
    image: Image.Image | None = None
    error: str | None = None
    _sized: dict[int, Image.Image] = field(default_factory=dict)

    @property
    def upright_size(self) -> tuple[int, int]:
        return self.width, self.height

    def pixels(self, max_side: int | None = None) -> Image.Image:
        """The upright RGB image, no longer than ``max_side`` on its long side."""
        if self.image is None:
            raise DecodeError(self.error or "pixels were not decoded")
        if max_side is None or max(self.image.size) <= max_side:
            return self.image
        if max_side not in self._sized:
            copy = self.image.copy()
            copy.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
            self._sized[max_side] = copy
        return self._sized[max_side]

    def release(self) -> None:
        self.image = None
        self._sized.clear()


def check_size(width: int, height: int, max_megapixels: float) -> None:
    megapixels = width * height / 1e6
    if megapixels > max_megapixels:
        raise DecodeError(
            f"too large: {width}x{height} is {megapixels:,.1f} megapixels, over the limit of "
            f"{max_megapixels:g} (decode.max_megapixels); possibly a decompression bomb"
        )


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _upright_size(image: Image.Image, orientation: int) -> tuple[int, int]:
    w, h = image.size
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _orientation(exif: Image.Exif) -> int:
    value = exif.get(0x0112, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _read_exif(image: Image.Image) -> tuple[Image.Exif, str | None]:
    try:
        return image.getexif(), None
    except Exception as exc:  # Pillow raises many types on malformed EXIF
        return Image.Exif(), f"unreadable EXIF: {_reason(exc)}"


def _read_iptc(image: Image.Image) -> dict[tuple[int, int], bytes]:
    if image.format not in ("JPEG", "MPO", "TIFF") or not isinstance(image, ImageFile.ImageFile):
        return {}
    try:
        found = IptcImagePlugin.getiptcinfo(image)
    except Exception:
        return {}
    return {k: v for k, v in (found or {}).items() if isinstance(v, bytes)}


def _verify_extra_frames(image: Image.Image) -> None:
    """A HEIF with a truncated second image is an incomplete file, even if image 1 decodes."""
    frames = getattr(image, "n_frames", 1)
    if image.format not in ("HEIF", "AVIF") or frames <= 1:
        return
    for index in range(1, frames):
        image.seek(index)
        try:
            image.load()
        except Exception as exc:
            raise DecodeError(
                f"truncated or corrupt: image {index + 1} of {frames}: {_reason(exc)}"
            ) from None
    image.seek(0)


# Metadata blocks detectors read; depth maps and HEIF thumbnails are left behind to save memory.
_KEPT_INFO = frozenset({"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "dpi", "original_orientation"})


def open_photo(path: Path, *, want_side: int | None, max_megapixels: float) -> DecodedPhoto:
    """Open, check and decode a photo, at most ``want_side`` pixels on its long side (None: full size).

    Raises DecodeError when the file is not an image at all. When the header and metadata
    are readable but the pixels are not, returns a photo with ``error`` set, so metadata
    detectors can still report what the file gives away.
    """
    try:
        if os.path.getsize(path) == 0:
            raise DecodeError("empty file (0 bytes)")
        image = Image.open(path)
    except DecodeError:
        raise
    except UnidentifiedImageError:
        raise DecodeError("not a recognised image format (or too damaged to identify)") from None
    except OSError as exc:
        raise DecodeError(f"cannot open: {_reason(exc)}") from None
    except Exception as exc:  # decoders raise ValueError, SyntaxError, struct.error...
        raise DecodeError(f"cannot parse image header: {_reason(exc)}") from None

    with image:
        exif, exif_problem = _read_exif(image)
        orientation = _orientation(exif)
        width, height = _upright_size(image, orientation)
        photo = DecodedPhoto(
            path=path,
            format=str(image.format),
            width=width,
            height=height,
            exif=exif,
            info={str(k): v for k, v in image.info.items() if k in _KEPT_INFO},
        )
        if exif_problem:
            photo.info["shadowlens.exif_problem"] = exif_problem
        photo.info["shadowlens.iptc"] = _read_iptc(image)
        try:
            check_size(width, height, max_megapixels)
            _verify_extra_frames(image)
            if want_side and image.format in ("JPEG", "MPO") and max(image.size) > want_side:
                scale = max(image.size) / want_side
                image.draft("RGB", (int(image.size[0] / scale), int(image.size[1] / scale)))
            image.load()
            if want_side and max(image.size) > want_side:
                # Shrink before any copy: a 200 MP HEIC must not exist twice in memory. A box
                # reduction down to within 2x first, then bilinear: detectors see no difference
                # and a 12 MP photo shrinks in a third of the time.
                image.thumbnail((want_side, want_side), Image.Resampling.BILINEAR, reducing_gap=1.0)
            upright = _flattened(image)
            if orientation in _TRANSPOSE:
                upright = upright.transpose(_TRANSPOSE[orientation])
            photo.image = upright
        except DecodeError as exc:
            photo.error = str(exc)
        except MemoryError:
            photo.error = "out of memory while decoding"
        except Exception as exc:
            photo.error = f"truncated or corrupt image data: {_reason(exc)}"
    return photo


def _flattened(image: Image.Image) -> Image.Image:
    """RGB as a viewer shows it: transparent areas over white. Dropping the alpha channel instead
    would reveal whatever colour a transparent pixel stores, which a safe copy must not do."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")
