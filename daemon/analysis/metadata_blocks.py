"""Every metadata block a file carries, read by exiv2: EXIF with maker notes, XMP, IPTC.

exiv2 reads the same blocks in JPEG, HEIF/AVIF, PNG, WebP, TIFF, JPEG XL and the raw formats
(CR2, CR3, NEF, ARW, RAF, RW2, ORF, DNG...), so one path serves every format a phone or camera
writes. It reads from the bytes the hash already read: the file is not opened twice.

Values are kept as exiv2 decodes them, as plain Python data, so detectors never touch exiv2.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import exiv2
from shadowlens.daemon.analysis.exif import text as clean_text

log = logging.getLogger("shadowlens.exiv2")
# exiv2 reports through Python's logging (logger "exiv2"): each message is tagged with the
# file being read, instead of raw lines on stderr.
exiv2.LogMsg.setHandler(exiv2.pythonHandler)
exiv2.LogMsg.setLevel(exiv2.LogMsg.Level.warn)
_reading: ContextVar[str] = ContextVar("shadowlens_exiv2_file", default="?")

ExifValue = str | float | int | tuple[float, ...] | tuple[int, ...]
_RATIONAL_TYPES = frozenset({"Rational", "SRational"})
_INTEGER_TYPES = frozenset({"Byte", "SByte", "Short", "SShort", "Long", "SLong", "Undefined"})
_TEXT_TYPES = frozenset({"Ascii", "Comment", "String", "Date", "Time", "XmpText", "LangAlt"})
# Maker-note tables and thumbnails are kilobytes of numbers no detector reads.
_MAX_NUMBERS = 64


class _FileNameFilter(logging.Filter):
    """Names the file, and keeps exiv2's complaints about odd but readable metadata at info
    level: they are about the file, not the daemon, and the metadata detector reports what matters."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = f"{_reading.get()}: exiv2: {str(record.msg).strip()}"
        if record.levelno == logging.WARNING:
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


logging.getLogger("exiv2").addFilter(_FileNameFilter())


@dataclass
class MetadataBlocks:
    """EXIF by exiv2 key ("Exif.GPSInfo.GPSLatitude"), XMP by key with the namespace URI of each
    prefix (vendors choose their own prefixes), IPTC by key with every repeat of a dataset."""

    exif: dict[str, ExifValue] = field(default_factory=dict)
    exif_tags: dict[str, dict[int, ExifValue]] = field(default_factory=dict)
    xmp: dict[str, str] = field(default_factory=dict)
    xmp_lists: dict[str, list[str]] = field(default_factory=dict)
    xmp_namespaces: dict[str, str] = field(default_factory=dict)
    iptc: dict[str, list[str]] = field(default_factory=dict)
    mime: str | None = None
    pixel_size: tuple[int, int] | None = None
    # Why exiv2 stopped early (what it read before stopping is kept).
    problem: str | None = None

    def __bool__(self) -> bool:
        return bool(self.exif or self.xmp or self.iptc)

    def group(self, name: str) -> dict[int, ExifValue]:
        """One EXIF group ("Image", "Photo", "GPSInfo", "Canon"...) by tag number."""
        return self.exif_tags.get(name, {})

    def iptc_first(self, dataset: str) -> str | None:
        """The first value of an IPTC dataset ("City" for Iptc.Application2.City)."""
        values = self.iptc.get(f"Iptc.Application2.{dataset}")
        return values[0] if values else None

    def xmp_in(self, namespace: str, name: str) -> str | None:
        """An XMP property by namespace URI, whatever prefix the writer gave it."""
        for prefix, uri in self.xmp_namespaces.items():
            value = self.xmp.get(f"Xmp.{prefix}.{name}")
            if uri == namespace and value is not None:
                return value
        return None


@contextmanager
def reading(name: str) -> Iterator[None]:
    """Names the file in every message a C library logs while it is read."""
    token = _reading.set(name)
    try:
        yield
    finally:
        _reading.reset(token)


def image_type(data: bytes | memoryview) -> str | None:
    """The MIME type exiv2 recognises from the content (extension ignored), or None."""
    try:
        image = exiv2.ImageFactory.open(bytes(data[:4096]) if len(data) > 4096 else bytes(data))
        return str(image.mimeType())
    except Exception:  # too short to open is also "not recognised"
        return None


def read_blocks(data: bytes | memoryview, name: str = "?") -> MetadataBlocks:
    """Every block exiv2 can read; never raises. A file exiv2 does not know gives empty blocks."""
    blocks = MetadataBlocks()
    with reading(name):
        try:
            image = exiv2.ImageFactory.open(data)
        except Exception:
            return blocks  # not a format exiv2 knows: the decoder says what it is
        blocks.mime = str(image.mimeType())
        try:
            image.readMetadata()
        except Exception as exc:  # a truncated raw or broken block: keep what was read before it
            blocks.problem = f"metadata partly unreadable: {_exiv2_reason(exc)}"
        try:
            _collect(image, blocks)
        except Exception as exc:
            blocks.problem = blocks.problem or f"metadata partly unreadable: {_exiv2_reason(exc)}"
    return blocks


def with_embedded(blocks: MetadataBlocks, exif: object, xmp: object, name: str = "?") -> MetadataBlocks:
    """Add the EXIF and XMP Pillow's plugin extracted, still parsed by exiv2. In a HEIF with
    several images (a spatial photo) exiv2 may read another image's EXIF, or none: Pillow's is
    the primary image's, so its values win."""
    if isinstance(exif, bytes) and exif:
        body = exif[6:] if exif.startswith(b"Exif\x00\x00") else exif
        if len(body) + 8 < 0xFFFF:
            # The smallest container exiv2 reads EXIF from: a JPEG of one APP1 segment.
            segment = b"Exif\x00\x00" + body
            wrapped = b"\xff\xd8\xff\xe1" + (len(segment) + 2).to_bytes(2, "big") + segment + b"\xff\xd9"
            found = read_blocks(wrapped, name)
            blocks.exif.update(found.exif)
            for group, values in found.exif_tags.items():
                blocks.exif_tags.setdefault(group, {}).update(values)
    if not blocks.xmp and isinstance(xmp, (bytes, str)) and xmp:
        packet = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else xmp
        data = exiv2.XmpData()
        with reading(name):
            try:
                exiv2.XmpParser.decode(data, packet.strip("\x00"))
                _collect_xmp(data, blocks)
            except Exception as exc:  # hostile or broken XMP: the rest of the metadata stands
                blocks.problem = blocks.problem or f"XMP unreadable: {_exiv2_reason(exc)}"
    return blocks


def _collect(image: exiv2.Image, blocks: MetadataBlocks) -> None:
    width, height = image.pixelWidth(), image.pixelHeight()
    blocks.pixel_size = (int(width), int(height)) if width and height else None
    for datum in image.exifData():
        value = _exif_value(datum)
        if value is None:
            continue
        blocks.exif[datum.key()] = value
        blocks.exif_tags.setdefault(datum.groupName(), {})[int(datum.tag())] = value
    _collect_xmp(image.xmpData(), blocks)
    for datum in image.iptcData():
        text = clean_text(datum.toString())
        if text is not None:
            blocks.iptc.setdefault(datum.key(), []).append(text)


def _collect_xmp(xmp: exiv2.XmpData, blocks: MetadataBlocks) -> None:
    for datum in xmp:
        key, text = datum.key(), clean_text(datum.toString())
        prefix = datum.groupName()
        if prefix not in blocks.xmp_namespaces:
            blocks.xmp_namespaces[prefix] = str(exiv2.XmpProperties.ns(prefix))
        if text is None:
            continue
        if datum.typeName() in ("XmpBag", "XmpSeq", "XmpAlt"):
            value = datum.value()
            blocks.xmp_lists[key] = [t for i in range(value.count()) if (t := clean_text(value.toString(i)))]
        blocks.xmp[key] = text


def _exif_value(datum: exiv2.Exifdatum) -> ExifValue | None:
    type_name, count = datum.typeName(), datum.count()
    if type_name in _RATIONAL_TYPES and 0 < count <= _MAX_NUMBERS:
        value = datum.value()
        numbers = tuple(_ratio(*value.toRational(i)) for i in range(count))
        return numbers[0] if count == 1 else numbers
    if type_name in _INTEGER_TYPES and 0 < count <= _MAX_NUMBERS:
        value = datum.value()
        try:
            integers = tuple(int(value.toInt64(i)) for i in range(count))
        except Exception:
            return clean_text(datum.toString())
        if type_name == "Undefined":
            # Undefined holds text (maker notes' serials, versions) as often as numbers.
            return clean_text(bytes(i & 0xFF for i in integers).decode("latin-1")) or integers
        return integers[0] if count == 1 else integers
    if type_name in _TEXT_TYPES or count <= _MAX_NUMBERS:
        return clean_text(datum.toString())
    return None


def _ratio(numerator: int, denominator: int) -> float:
    # A zero denominator is a broken value; NaN lets the checks say so ("malformed rational").
    return numerator / denominator if denominator else math.nan


def _exiv2_reason(exc: BaseException) -> str:
    args: tuple[object, ...] = tuple(getattr(exc, "args", ()))
    message = args[1] if len(args) > 1 and isinstance(args[1], str) else str(exc)
    return " ".join(message.split())[:200] or type(exc).__name__
