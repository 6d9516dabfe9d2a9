"""Decode once: open a photo, check it, and hand detectors the pixels at the size they ask for.

The format comes from the content, never the extension. Every metadata block is read first
(``metadata_blocks``), so a file whose pixels cannot be decoded still tells what it gives away.
Pixels come from Pillow, or LibRaw for camera raw files; orientation is applied, so every
detector sees, and every bbox refers to, the upright image. Memory is budgeted before decoding:
JPEGs decode at reduced size (draft mode), big PNGs band by band, and a decode that would not
fit the per-worker budget is refused with the reason.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import filetype
import numpy as np
import pillow_heif
import pillow_jxl  # noqa: F401  (registers JPEG XL with Pillow)
from numpy.typing import NDArray
from PIL import Image, ImageFile, UnidentifiedImageError
from shadowlens.daemon.analysis import png_bands
from shadowlens.daemon.analysis.formats import (
    OTHER_IMAGE_EXTENSIONS,
    SNIFF_BYTES,
    format_name,
    has_image_magic,
    raw_format,
)
from shadowlens.daemon.analysis.heif_reduced import LIBHEIF_BYTES_PER_PIXEL, decode_heif_reduced
from shadowlens.daemon.analysis.metadata_blocks import MetadataBlocks, read_blocks, with_embedded
from shadowlens.daemon.analysis.missing_codecs import missing_codec
from shadowlens.daemon.analysis.native_messages import native_messages
from shadowlens.daemon.analysis.pixel_modes import bytes_per_pixel, flattened, shrinkable
from shadowlens.daemon.analysis.raw import RawError, decode_raw

# One hashing loop for photos and model files (re-exported: the pipeline and scrub hash here).
from shadowlens.models.registry import sha256_file as sha256_file

pillow_heif.register_heif_opener()
# We apply our own, configurable limits before decoding (see check_size and the budget).
Image.MAX_IMAGE_PIXELS = None
# Pillow warns about malformed MPO headers and EXIF; the metadata detector reports what matters.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")

# Below this, draft mode would hand detectors too few pixels to be useful.
VERIFY_SIDE = 256
DEFAULT_BUDGET_MB = 1024


class DecodeError(Exception):
    """A photo that cannot be analysed; the message is the one-line reason shown to the user."""


class UnsupportedFormat(DecodeError):
    """An image format no reader of this build handles, with nothing to read in it: skipped."""


@dataclass
class DecodedPhoto:
    """One opened photo. ``image`` is upright RGB; ``width``/``height`` are the full upright size."""

    path: Path
    format: str
    width: int
    height: int
    exif: Image.Exif
    info: dict[str, object]
    metadata: MetadataBlocks = field(default_factory=MetadataBlocks)
    image: Image.Image | None = None
    # Pixels unreadable because the file is damaged or over a limit: the photo is in error.
    error: str | None = None
    # Pixels unreadable because this build lacks the codec: the file is fine, its metadata counts.
    missing_codec: str | None = None
    # What the C decoders printed about this file.
    messages: list[str] = field(default_factory=list)
    _sized: dict[int, Image.Image] = field(default_factory=dict)
    _arrays: dict[int | None, NDArray[np.uint8]] = field(default_factory=dict)

    @property
    def upright_size(self) -> tuple[int, int]:
        return self.width, self.height

    def pixels(self, max_side: int | None = None) -> Image.Image:
        """The upright RGB image, no longer than ``max_side`` on its long side."""
        if self.image is None:
            raise DecodeError(self.error or self.missing_codec or "pixels were not decoded")
        if max_side is None or max(self.image.size) <= max_side:
            return self.image
        if max_side not in self._sized:
            copy = self.image.copy()
            copy.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
            self._sized[max_side] = copy
        return self._sized[max_side]

    def array(self, max_side: int | None = None) -> NDArray[np.uint8]:
        """The upright RGB pixels as a read-only H x W x 3 array, no longer than ``max_side``.

        Every pixel detector asks for one; each size is made once per photo and shared. Smaller
        sizes are area-averaged from the decoded array by OpenCV: a tenth of the time of
        Pillow's copy and thumbnail, and the same box filter in effect."""
        if max_side in self._arrays:
            return self._arrays[max_side]
        if self.image is None:
            raise DecodeError(self.error or self.missing_codec or "pixels were not decoded")
        base = self._arrays.get(None)
        if base is None:
            base = np.asarray(
                self.image.convert("RGB") if self.image.mode != "RGB" else self.image, dtype=np.uint8
            )
            base.flags.writeable = False
            self._arrays[None] = base
        height, width = base.shape[:2]
        if max_side is None or max(width, height) <= max_side:
            self._arrays[max_side] = base
            return base
        import cv2  # deferred: an idle daemon must not map OpenCV

        factor = max_side / max(width, height)
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        shrunk = np.asarray(cv2.resize(base, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
        shrunk.flags.writeable = False
        self._arrays[max_side] = shrunk
        return shrunk

    def release(self) -> None:
        self.image = None
        self._sized.clear()
        self._arrays.clear()


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


def _orientation(exif: Image.Exif) -> int:
    # Pillow's reading, not exiv2's: Pillow's HEIF plugin drops the tag once libheif has
    # turned the pixels, and exiv2 would turn them twice.
    value = exif.get(0x0112, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _read_exif(image: Image.Image) -> tuple[Image.Exif, str | None]:
    try:
        if image.format == "PNG":
            # Pillow decodes a whole PNG to look for an eXIf chunk after the pixels: a 250 MP
            # poster in memory before the budget is checked. exiv2 has read the metadata anyway.
            exif = Image.Exif()
            raw = image.info.get("exif")
            if isinstance(raw, bytes):
                exif.load(raw)
            return exif, None
        return image.getexif(), None
    except Exception as exc:  # Pillow raises many types on malformed EXIF
        return Image.Exif(), f"unreadable EXIF: {_reason(exc)}"


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


# Metadata blocks the scrub keeps; depth maps and HEIF thumbnails are left behind to save memory.
_KEPT_INFO = frozenset({"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "dpi", "original_orientation"})


def read_photo_bytes(path: Path, budget_mb: float = DEFAULT_BUDGET_MB) -> bytes:
    """The whole file, which the hash, exiv2 and the decoder then share."""
    size = os.path.getsize(path)
    if size == 0:
        raise DecodeError("empty file (0 bytes)")
    if size > budget_mb * 2**20:
        raise DecodeError(
            f"the file alone ({size / 2**20:,.0f} MB) is over the per-worker decode budget of "
            f"{budget_mb:g} MB (decode.max_memory_mb)"
        )
    return path.read_bytes()


def open_photo(
    path: Path,
    *,
    want_side: int | None,
    max_megapixels: float,
    data: bytes | None = None,
    max_memory_mb: float = DEFAULT_BUDGET_MB,
) -> DecodedPhoto:
    """Open, check and decode a photo, at most ``want_side`` pixels on its long side (None: full size).

    ``data`` is the file's content when the caller already read it (the hash did). Raises
    UnsupportedFormat for an image format nothing here reads, DecodeError when the file is not
    an image at all. When the metadata is readable but the pixels are not, returns a photo with
    ``error`` or ``missing_codec`` set, so metadata detectors still report what the file gives away.
    """
    if data is None:
        data = read_photo_bytes(path, max_memory_mb)
    elif not data:
        raise DecodeError("empty file (0 bytes)")
    budget = int(max_memory_mb * 2**20)
    # exiv2 logs through Python (named by file): outside the stderr capture, which would take
    # those lines for a C library's.
    metadata = read_blocks(data, path.name)
    head = data[:SNIFF_BYTES]
    raw_name = raw_format(path, head, metadata.mime)
    with native_messages(path.name) as messages:
        if raw_name is not None:
            photo = _open_raw(path, data, metadata, raw_name, want_side, max_megapixels, budget)
        else:
            photo = _open_pillow(path, data, metadata, want_side, max_megapixels, budget)
    photo.messages = messages
    if photo.format in ("HEIF", "AVIF") or not metadata.exif:
        xmp = photo.info.get("xmp") or photo.info.get("XML:com.adobe.xmp")
        photo.metadata = with_embedded(metadata, photo.info.get("exif"), xmp, path.name)
    return photo


def _open_raw(
    path: Path,
    data: bytes,
    metadata: MetadataBlocks,
    raw_name: str,
    want_side: int | None,
    max_megapixels: float,
    budget: int,
) -> DecodedPhoto:
    width, height = metadata.pixel_size or (0, 0)
    photo = DecodedPhoto(path, raw_name, width, height, Image.Exif(), {}, metadata)
    try:
        if width and height:
            check_size(width, height, max_megapixels)
        decoded = decode_raw(data, want_side=want_side, budget_bytes=budget, format_name=raw_name)
    except DecodeError as exc:
        photo.error = str(exc)
        return photo
    except RawError as exc:
        if metadata:
            photo.error = f"no pixels: {exc}"
            return photo
        if exc.unsupported:
            raise UnsupportedFormat(
                f"unsupported format: {raw_name} (no reader for its pixels or metadata)"
            ) from None
        raise DecodeError(f"damaged {raw_name} file: {exc}") from None
    photo.width, photo.height = decoded.width, decoded.height
    photo.image = flattened(decoded.image)
    photo.error = decoded.problem
    photo.info["shadowlens.pixels_from"] = decoded.source
    return photo


def _open_pillow(
    path: Path,
    data: bytes,
    metadata: MetadataBlocks,
    want_side: int | None,
    max_megapixels: float,
    budget: int,
) -> DecodedPhoto:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        return _unopened(path, data, metadata, "not recognised by Pillow")
    except Exception as exc:  # decoders raise OSError, ValueError, SyntaxError, struct.error...
        if metadata or _image_like(path, data):
            return _unopened(path, data, metadata, _reason(exc))
        raise DecodeError(f"cannot parse image header: {_reason(exc)}") from None
    with image:
        exif, exif_problem = _read_exif(image)
        orientation = _orientation(exif)
        w, h = image.size
        width, height = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
        info = {str(k): v for k, v in image.info.items() if k in _KEPT_INFO}
        photo = DecodedPhoto(path, str(image.format), width, height, exif, info, metadata)
        if exif_problem:
            photo.info["shadowlens.exif_problem"] = exif_problem
        try:
            check_size(width, height, max_megapixels)
            _verify_extra_frames(image)
            photo.image = _pixels(image, data, want_side, budget, orientation)
        except DecodeError as exc:
            photo.error = str(exc)
        except MemoryError:
            photo.error = "out of memory while decoding"
        except Exception as exc:
            codec = missing_codec(photo.format, metadata, data, exc)
            if codec:
                photo.missing_codec = codec
            else:
                photo.error = f"truncated or corrupt image data: {_reason(exc)}"
    return photo


def _pixels(
    image: ImageFile.ImageFile | Image.Image,
    data: bytes,
    want_side: int | None,
    budget: int,
    orientation: int,
) -> Image.Image:
    if want_side and image.format in ("JPEG", "MPO") and max(image.size) > want_side:
        scale = max(image.size) / want_side
        image.draft("RGB", (int(image.size[0] / scale), int(image.size[1] / scale)))
    need = decode_bytes(image, len(data), shrinking=bool(want_side))
    if need > budget:
        upright = flattened(_reduced(image, data, want_side, budget, need))
    else:
        image.load()
        loaded: Image.Image = image
        if want_side and max(image.size) > want_side:
            # Shrink before any copy: a 200 MP HEIC must not exist twice in memory. A box
            # reduction down to within 2x first, then bilinear: detectors see no difference
            # and a 12 MP photo shrinks in a third of the time.
            loaded = shrinkable(image)
            loaded.thumbnail((want_side, want_side), Image.Resampling.BILINEAR, reducing_gap=1.0)
        upright = flattened(loaded)
    if orientation in _TRANSPOSE:
        upright = upright.transpose(_TRANSPOSE[orientation])
    return upright


def _reduced(image: Image.Image, data: bytes, want_side: int | None, budget: int, need: int) -> Image.Image:
    """Pixels over the budget when decoded whole: a big PNG band by band, a big HEIC from
    libheif's own buffer; any other is refused with what it would take."""
    pixels = image.size[0] * image.size[1]
    if want_side and image.format == "PNG":
        header = png_bands.png_header(data)
        if header is not None and not header.interlaced:
            return png_bands.decode_png_reduced(data, want_side)
    if want_side and image.format == "HEIF" and pixels * LIBHEIF_BYTES_PER_PIXEL + len(data) <= budget:
        return decode_heif_reduced(data, want_side)
    raise DecodeError(
        f"decoding needs about {need / 2**20:,.0f} MB, over the per-worker budget of "
        f"{budget / 2**20:,.0f} MB (decode.max_memory_mb)"
    )


def decode_bytes(image: Image.Image, file_bytes: int, *, shrinking: bool) -> int:
    """Memory a decode of ``image`` at its current (draft) size holds at its peak, with the file."""
    pixels = image.size[0] * image.size[1]
    held = pixels * bytes_per_pixel(image.mode)
    if image.format in ("HEIF", "AVIF"):
        held += pixels * 4  # libheif's own decoded planes, alive while Pillow copies them
    if bytes_per_pixel(image.mode) == 2:
        held += pixels * 4  # widened to 32 bits before shrinking
    if not shrinking:
        held += pixels * 8  # the RGB copy, and the RGBA composite of a transparent image
    return held + file_bytes


def _image_like(path: Path, data: bytes) -> bool:
    return has_image_magic(data[:SNIFF_BYTES]) or path.suffix.lower() in OTHER_IMAGE_EXTENSIONS


def _unread_format(path: Path, data: bytes) -> bool:
    """An image format by its first bytes (or name) that no reader here has: a GIF or PNG that
    Pillow cannot open is damaged, an OpenEXR is simply not read."""
    kind = filetype.guess(data[:SNIFF_BYTES])
    if kind is not None and str(kind.mime).startswith("image/"):
        return f".{kind.extension}" not in Image.registered_extensions()
    return path.suffix.lower() in OTHER_IMAGE_EXTENSIONS


def _unopened(path: Path, data: bytes, metadata: MetadataBlocks, why: str) -> DecodedPhoto:
    """A file Pillow cannot open: a known container whose codec is missing keeps its metadata;
    an image format with nothing readable is skipped; anything else is not an image."""
    codec = missing_codec(None, metadata, data, None)
    if metadata or codec:
        width, height = metadata.pixel_size or (0, 0)
        mime = (metadata.mime or "image/generic").removeprefix("image/")
        name = format_name(path, data[:SNIFF_BYTES]) if mime == "generic" else mime.upper()
        photo = DecodedPhoto(path, name, width, height, Image.Exif(), {}, metadata)
        if codec:
            photo.missing_codec = codec
        else:  # the metadata is readable but the image is not: a damaged file
            photo.error = f"truncated or corrupt image data: {why}"
        return photo
    if _unread_format(path, data):
        raise UnsupportedFormat(f"unsupported format: {format_name(path, data[:SNIFF_BYTES])}")
    raise DecodeError("not a recognised image format (or too damaged to identify)")
