"""Clean encoding of a safe copy: pixels only, in sRGB, with no metadata block at all.

Pillow carries ``info`` (EXIF, ICC, comments) from image to image through convert() and
transpose(), and some encoders read it back from ``info``: every write starts from a fresh image
with empty ``info`` and passes each metadata block explicitly, so nothing rides along unnoticed.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pillow_heif
from PIL import Image, ImageCms
from shadowlens.daemon.analysis import decode  # noqa: F401  (registers the HEIF opener)

OutputFormat = Literal["jpeg", "heic"]
SUFFIX: dict[OutputFormat, str] = {"jpeg": ".jpg", "heic": ".heic"}
ORIENTATION, MAKER_NOTE, EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x0112, 0x927C, 0x8769, 0x8825, 0xA005
HEIC_QUALITY = 85  # x265 quality comparable to JPEG 92 at about half the size


@dataclass(frozen=True)
class KeptMetadata:
    """What ``--keep-metadata`` carries over: EXIF without thumbnail or maker notes, XMP, ICC."""

    exif: bytes | None = None
    xmp: bytes | None = None
    icc: bytes | None = None


def to_srgb(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, str | None]:
    """The RGB ``image`` with pixels converted from its embedded profile to sRGB, so the copy
    needs no profile; returns a note when the profile could not be applied."""
    if not icc:
        return image, None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if "srgb" in ImageCms.getProfileDescription(source).lower().replace(" ", ""):
            return image, None
        if source.profile.xcolor_space.strip() != "RGB":
            # A grey or CMYK profile cannot describe the RGB pixels decode produced.
            return image, "colour profile not RGB: colours kept as decoded"
        target = ImageCms.createProfile("sRGB")
        converted = ImageCms.profileToProfile(image, source, target, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        return image, f"colour profile unusable ({' '.join(str(exc).split())[:80]}): colours kept as decoded"
    assert converted is not None  # profileToProfile returns None only with inPlace=True
    return converted, None


def bare(image: Image.Image) -> Image.Image:
    """A copy of the pixels with no ``info`` at all (EXIF, ICC, comment, dpi, thumbnails)."""
    clean = image.convert("RGB") if image.mode != "RGB" else image.copy()
    clean.info = {}
    return clean


def kept_metadata(exif: Image.Exif, info: dict[str, object]) -> KeptMetadata:
    """The original's metadata for ``--keep-metadata``: orientation reset (the pixels are upright),
    the EXIF thumbnail and maker notes dropped (both can hold an unredacted preview)."""
    data: bytes | None = None
    if len(exif):
        try:
            data = _exif_bytes(exif)
        except Exception:  # Pillow raises many types on malformed EXIF; keep the rest
            data = None
    xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
    icc = info.get("icc_profile")
    return KeptMetadata(
        exif=data,
        xmp=xmp.encode() if isinstance(xmp, str) else xmp if isinstance(xmp, bytes) else None,
        icc=icc if isinstance(icc, bytes) and icc else None,
    )


def _exif_bytes(exif: Image.Exif) -> bytes:
    """EXIF rebuilt from its values: IFD0 plus the EXIF and GPS IFDs as dicts (their offsets
    point into the original file), without maker notes, interop pointer or IFD1 thumbnail."""
    copy = Image.Exif()
    for tag, value in exif.items():
        if tag not in (EXIF_IFD, GPS_IFD):
            copy[tag] = value
    details = {k: v for k, v in exif.get_ifd(EXIF_IFD).items() if k not in (MAKER_NOTE, INTEROP_IFD)}
    if details:
        copy[EXIF_IFD] = details
    gps = dict(exif.get_ifd(GPS_IFD))
    if gps:
        copy[GPS_IFD] = gps
    copy[ORIENTATION] = 1
    return copy.tobytes()


def write_temp(
    image: Image.Image,
    out_dir: Path,
    fmt: OutputFormat,
    quality: int,
    keep: KeptMetadata | None = None,
) -> Path:
    """Encode into a new, hidden temp file in ``out_dir`` (created exclusively, never replacing
    anything) and return its path; the caller renames it once verified."""
    clean = bare(image)
    fd, name = tempfile.mkstemp(dir=out_dir, prefix=".shadowlens-scrub-", suffix=SUFFIX[fmt])
    path = Path(name)
    try:
        # mkstemp makes the file private (0600); the copy is meant to be shared, so it gets the
        # permissions any new file of the user gets.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            if fmt == "jpeg":
                _jpeg(clean, handle, quality, keep)
            else:
                _heic(clean, handle, keep)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def _jpeg(image: Image.Image, handle: io.BufferedWriter, quality: int, keep: KeptMetadata | None) -> None:
    extra: dict[str, object] = {}
    if keep is not None:
        extra = {k: v for k, v in (("exif", keep.exif), ("xmp", keep.xmp), ("icc_profile", keep.icc)) if v}
    # An explicit empty comment: the JPEG encoder would otherwise fall back to info["comment"].
    image.save(handle, "JPEG", quality=quality, optimize=True, comment=b"", **extra)


def _heic(image: Image.Image, handle: io.BufferedWriter, keep: KeptMetadata | None) -> None:
    heif = pillow_heif.from_pillow(image)
    for item in heif:
        # from_pillow copies whatever info the image had; a bare image has none, but make sure.
        for key in ("exif", "xmp", "icc_profile", "thumbnails", "aux", "depth_images"):
            item.info.pop(key, None)
    if keep is not None and keep.icc:
        heif.info["icc_profile"] = keep.icc
    heif.save(
        handle,
        quality=HEIC_QUALITY,
        exif=keep.exif if keep else None,
        xmp=keep.xmp if keep else None,
        save_all=False,
    )
