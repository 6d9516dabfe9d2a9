"""What people and cameras typed into the file: the device and its serial numbers (maker notes
included), names, a written place, keywords and a caption, from EXIF, XMP and IPTC."""

from __future__ import annotations

import re

from shadowlens.daemon.analysis import exif as tags
from shadowlens.daemon.analysis.metadata_blocks import ExifValue, MetadataBlocks
from shadowlens.daemon.api import (
    CaptionFinding,
    DeviceFinding,
    Finding,
    KeywordsFinding,
    NameFinding,
    WrittenPlaceFinding,
)
from shadowlens.daemon.wording import device_name

TIFF_NS = "http://ns.adobe.com/tiff/1.0/"
AUX_NS = "http://ns.adobe.com/exif/1.0/aux/"
PHOTOSHOP_NS = "http://ns.adobe.com/photoshop/1.0/"
IPTC_CORE_NS = "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
DC = "Xmp.dc"
IPTC = "Iptc.Application2"
# Serial numbers maker notes hold under these names (Canon, Nikon, Fujifilm, Sony, Olympus...).
_BODY_SERIAL = re.compile(
    r"^Exif\.(?!Photo\.)\w+\.(SerialNumber|SerialNO|InternalSerialNumber|CameraSerialNumber)$"
)
_LENS_SERIAL = re.compile(r"^Exif\.(?!Photo\.)\w+\.LensSerialNumber$")
_NAME_SOURCES = (
    ("Exif.Image.Artist", "Artist"),
    ("Exif.Image.Copyright", "Copyright"),
    ("Exif.Photo.CameraOwnerName", "CameraOwnerName"),
    ("Exif.Canon.OwnerName", "CameraOwnerName"),
    ("Exif.Photo.Photographer", "Photographer"),
)
_IPTC_NAMES = (("Byline", "IPTC By-line"), ("Copyright", "IPTC Copyright Notice"), ("Writer", "IPTC Writer"))
_XMP_LANG = re.compile(r'^lang="[^"]*"\s*')


def device(blocks: MetadataBlocks) -> DeviceFinding | None:
    image, photo = blocks.group("Image"), blocks.group("Photo")
    make = tags.text(image.get(tags.MAKE)) or blocks.xmp_in(TIFF_NS, "Make")
    model = tags.text(image.get(tags.MODEL)) or blocks.xmp_in(TIFF_NS, "Model")
    lens_make, lens_model = tags.text(photo.get(tags.LENS_MAKE)), tags.text(photo.get(tags.LENS_MODEL))
    lens = " ".join(part for part in (lens_make, lens_model) if part) or blocks.xmp_in(AUX_NS, "Lens")
    software = tags.text(image.get(tags.SOFTWARE))
    body = _serial(photo.get(tags.BODY_SERIAL)) or blocks.xmp_in(AUX_NS, "SerialNumber")
    body = body or _first_serial(blocks, _BODY_SERIAL)
    lens_serial = _serial(photo.get(tags.LENS_SERIAL)) or _first_serial(blocks, _LENS_SERIAL)
    if not any((make, model, lens, software, body, lens_serial)):
        return None
    return DeviceFinding(
        label=device_name(make, model) or software or "unknown device",
        make=make,
        model=model,
        lens=lens,
        software=software,
        body_serial=body,
        lens_serial=lens_serial or blocks.xmp_in(AUX_NS, "LensSerialNumber"),
    )


def _serial(value: ExifValue | None) -> str | None:
    """A serial number as text; all zeros or blanks is a camera's placeholder, not a serial."""
    if isinstance(value, tuple):
        value = "".join(str(v) for v in value)
    text = tags.text(str(value)) if value is not None else None
    if not text or not text.strip("0 ."):
        return None
    return text


def _first_serial(blocks: MetadataBlocks, pattern: re.Pattern[str]) -> str | None:
    for key, value in blocks.exif.items():
        if pattern.match(key) and (serial := _serial(value)):
            return serial
    return None


def names(blocks: MetadataBlocks) -> list[Finding]:
    pairs: list[tuple[str, str | None]] = [
        (field, tags.text(blocks.exif.get(key))) for key, field in _NAME_SOURCES
    ]
    for key, field in ((f"{DC}.creator", "XMP dc:creator"), (f"{DC}.rights", "XMP dc:rights")):
        values = blocks.xmp_lists.get(key) or ([blocks.xmp[key]] if key in blocks.xmp else [])
        pairs += [(field, _lang_free(v)) for v in values]
    for dataset, field in _IPTC_NAMES:
        pairs += [(field, v) for v in blocks.iptc.get(f"{IPTC}.{dataset}", [])]
    seen: set[tuple[str, str]] = set()
    found: list[Finding] = []
    for field, value in pairs:
        if value and (field, value) not in seen:
            seen.add((field, value))
            found.append(NameFinding(label=value, field=field))
    return found


def written_place(blocks: MetadataBlocks) -> WrittenPlaceFinding | None:
    iptc = blocks.iptc_first
    parts = {
        "sublocation": iptc("SubLocation"),
        "city": iptc("City"),
        "region": iptc("ProvinceState"),
        "country": iptc("CountryName"),
        "country_code": iptc("CountryCode"),
    }
    source = "IPTC" if any(parts.values()) else "XMP"
    xmp = {
        "sublocation": blocks.xmp_in(IPTC_CORE_NS, "Location"),
        "city": blocks.xmp_in(PHOTOSHOP_NS, "City"),
        "region": blocks.xmp_in(PHOTOSHOP_NS, "State"),
        "country": blocks.xmp_in(PHOTOSHOP_NS, "Country"),
        "country_code": blocks.xmp_in(IPTC_CORE_NS, "CountryCode"),
    }
    place = {key: parts[key] or xmp[key] for key in parts}
    if not any(place.values()):
        return None
    shown = [place[k] for k in ("sublocation", "city", "region", "country") if place[k]]
    label = ", ".join(dict.fromkeys(v for v in shown if v)) or str(place["country_code"])
    return WrittenPlaceFinding(
        label=label,
        source=source,
        sublocation=place["sublocation"],
        city=place["city"],
        region=place["region"],
        country=place["country"],
        country_code=place["country_code"],
    )


def keywords(blocks: MetadataBlocks) -> KeywordsFinding | None:
    words = blocks.iptc.get(f"{IPTC}.Keywords", [])
    source = "IPTC Keywords"
    if not words:
        words = blocks.xmp_lists.get(f"{DC}.subject") or (
            [blocks.xmp[f"{DC}.subject"]] if f"{DC}.subject" in blocks.xmp else []
        )
        source = "XMP dc:subject"
    unique = list(dict.fromkeys(w for w in words if w))
    if not unique:
        return None
    return KeywordsFinding(label=", ".join(unique), keywords=unique, source=source)


def caption(blocks: MetadataBlocks) -> CaptionFinding | None:
    candidates = (
        ("IPTC Caption", blocks.iptc_first("Caption")),
        ("XMP dc:description", _lang_free(blocks.xmp.get(f"{DC}.description"))),
        ("EXIF ImageDescription", tags.text(blocks.exif.get("Exif.Image.ImageDescription"))),
        ("EXIF UserComment", _lang_free(tags.text(blocks.exif.get("Exif.Photo.UserComment")))),
    )
    for source, text in candidates:
        if text and not _placeholder(text):
            return CaptionFinding(label=text[:500], source=source)
    return None


def _lang_free(value: str | None) -> str | None:
    """XMP's language alternatives read 'lang="x-default" text'; EXIF comments 'charset=Ascii text'."""
    if not value:
        return None
    text = _XMP_LANG.sub("", value)
    text = re.sub(r"^charset=\w+\s*", "", text)
    return text.strip() or None


def _placeholder(text: str) -> bool:
    # Cameras fill descriptions with their own name or a stock phrase.
    return text.upper() in ("OLYMPUS DIGITAL CAMERA", "SONY DSC", "DIGITAL CAMERA", "DCIM") or not text.strip(
        " .-_"
    )
