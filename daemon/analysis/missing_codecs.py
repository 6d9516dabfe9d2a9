"""Telling a codec this build lacks from a damaged file.

A HEIF coded in VVC or left uncompressed, a TIFF compressed with WebP or Zstandard: the file
is valid, and its metadata says as much as any other's. Calling it corrupt would be false and
hide it; it is indexed, and the pixel detectors name the missing codec.
"""

from __future__ import annotations

import re

import pillow_heif
from shadowlens.daemon.analysis.formats import heif_codec, tiff_compression
from shadowlens.daemon.analysis.metadata_blocks import MetadataBlocks

# Codecs every build here decodes: a failure with one of them means damage, not a missing codec.
_TIFF_BUILT_IN = frozenset({"uncompressed", "LZW", "Deflate", "PackBits", "JPEG", "old-style JPEG"})
_HEIF_MIME = ("image/heif", "image/heic", "image/avif", "image/heif-sequence", "image/heic-sequence")
_MISSING = re.compile(
    r"decoder \S+ not available|no decoding plugin|not supported|unsupported (codec|compression)"
    r"|ghostscript|not implemented",
    re.IGNORECASE,
)


def heif_decoders() -> set[str]:
    """The HEIF codecs libheif of this build decodes (always HEVC through libde265)."""
    names = {"HEVC"}
    decoders = pillow_heif.libheif_info().get("decoders", {})
    text = " ".join(f"{k} {v}" for k, v in decoders.items()).lower()
    if "dav1d" in text or "aom" in text:
        names.add("AV1")
    if "openjpeg" in text:
        names.add("JPEG 2000")
    if "libjpeg" in text or "jpeg" in text:
        names.add("JPEG")
    return names


def missing_codec(
    image_format: str | None, metadata: MetadataBlocks, data: bytes, exc: BaseException | None
) -> str | None:
    """The one-line reason when the pixels fail for want of a codec, else None (damage).

    The container must be whole (exiv2 read its metadata without a problem): a fuzzed file
    naming a rare codec is damaged, not merely unsupported."""
    whole = bool(metadata) and metadata.problem is None
    is_heif = whole and (
        image_format in ("HEIF", "AVIF") or metadata.mime in _HEIF_MIME or data[4:8] == b"ftyp"
    )
    if is_heif:
        codec = heif_codec(data)
        if codec is not None and codec not in heif_decoders() and codec != "AV1":
            return f"no {codec} decoder for HEIF in this build; its metadata is read, its pixels are not"
    if whole and (image_format == "TIFF" or metadata.mime == "image/tiff"):
        compression = tiff_compression(metadata.exif.get("Exif.Image.Compression"))
        if compression is not None and compression not in _TIFF_BUILT_IN:
            return (
                f"no {compression} decoder for TIFF in this build; its metadata is read, its pixels are not"
            )
    if exc is not None and _MISSING.search(str(exc)):
        name = image_format or (metadata.mime or "image").removeprefix("image/").upper()
        return f"no decoder for this {name} in this build ({' '.join(str(exc).split())[:160]})"
    return None
