"""Builders for photos whose metadata sits where a marketer's reader would look and a naive reader
would not: GPS only in XMP, a drone's own XMP namespace, IPTC IIM without EXIF, two sources that
disagree, real raw files with GPS added, and files no decoder here can open but whose EXIF is
still readable.

Each builder writes one realistic file into the folder it is given and returns its path, with
an ``Expected`` of what the file really holds when there is something to expect. The files are
built at test time (nothing binary is stored in the repo) from a plain rendered picture; the raw
builders copy the shared raw skeletons (``../shared/samples/raw``) into the folder first and never
into the repo. Metadata is written with Pillow and exiv2, so most builders work without exiftool;
the ones that need it (CR3 and RAF GPS) skip when it is not installed.
``tests/test_metadata_builders.py`` checks every claim made here with exiv2 and exiftool.
"""

from __future__ import annotations

import json
import random
import shutil
import struct
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from io import BytesIO
from pathlib import Path

import exiv2
import numpy as np
import pillow_heif
import pillow_jxl  # noqa: F401  (registers the JPEG XL plugin with Pillow)
import pytest
from PIL import Image

SHARED = Path(__file__).resolve().parents[2] / "shared"
RAW_SAMPLES = SHARED / "samples" / "raw"
EXIFTOOL_MISSING = "exiftool is not installed (Debian package libimage-exiftool-perl)"

# EXIF tag numbers (Pillow writes EXIF by number).
MAKE, MODEL, DATETIME = 0x010F, 0x0110, 0x0132
X_RESOLUTION, Y_RESOLUTION, RESOLUTION_UNIT, YCBCR_POSITIONING = 0x011A, 0x011B, 0x0128, 0x0213
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
EXIF_VERSION, FLASHPIX_VERSION, COLOR_SPACE = 0x9000, 0xA000, 0xA001
EXIF_WIDTH, EXIF_HEIGHT = 0xA002, 0xA003
DATETIME_ORIGINAL, DATETIME_DIGITIZED, OFFSET_ORIGINAL = 0x9003, 0x9004, 0x9011
GPS_VERSION, GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_ALT_REF, GPS_ALT = 0, 1, 2, 3, 4, 5, 6

DJI_NAMESPACE = "http://www.dji.com/drone-dji/1.0/"
# The item type the primary image of ``heif_uncommon_codec`` claims: VVC (H.266), which no
# libheif build that pillow_heif ships can decode (its decoders are libde265, and AV1 at most).
HEIF_UNDECODABLE_ITEM_TYPE = "vvc1"
# The ftyp brand that goes with a VVC still image (HEIF 2nd edition), next to the generic mif1.
HEIF_UNDECODABLE_BRAND = "vvic"
# TIFF Compression value for WebP (libtiff's COMPRESSION_WEBP); Pillow's libtiff is built without it.
TIFF_COMPRESSION_WEBP = 50001
# The UUID of the CR3 box that holds the PRVW preview.
_CR3_PREVIEW_UUID = bytes.fromhex("eaf42b5e1c984b88b9fbb7dc406e4d16")


@dataclass(frozen=True)
class Expected:
    """What a built file really holds. ``taken`` is naive when the source has no UTC offset (EXIF
    DateTimeOriginal without OffsetTimeOriginal) and aware when it has one (IPTC, XMP, or EXIF
    with OffsetTimeOriginal). Coordinates are decimal degrees, south and west negative."""

    lat: float | None = None
    lon: float | None = None
    altitude: float | None = None
    taken: datetime | None = None
    make: str | None = None
    model: str | None = None
    city: str | None = None
    sublocation: str | None = None
    state: str | None = None
    country: str | None = None
    country_code: str | None = None
    location: str | None = None
    keywords: tuple[str, ...] = ()
    creator: str | None = None
    caption: str | None = None
    copyright: str | None = None
    yaw: float | None = None


@dataclass(frozen=True)
class Conflict:
    """Two sources in one file that disagree: ``exif`` is what EXIF says, ``other`` what
    ``other_source`` ("XMP" or "IPTC") says."""

    exif: Expected
    other: Expected
    other_source: str


# ---------------------------------------------------------------------------------------------
# Shared pieces


@contextmanager
def quiet_exiv2() -> Iterator[None]:
    """Mutes exiv2's log for the calls inside, then restores the level. The level is global to
    the process, and shadowlens sets its own (warnings, to Python logging) that tests of it may
    rely on, so it is never changed for longer than a builder's own calls."""
    level = exiv2.LogMsg.level()
    exiv2.LogMsg.setLevel(exiv2.LogMsg.Level.mute)
    try:
        yield
    finally:
        exiv2.LogMsg.setLevel(level)


def require_exiftool() -> str:
    """The exiftool executable; skips the calling test when it is not installed, because it is
    an optional system package, not a Python dependency."""
    found = shutil.which("exiftool")
    if found is None:
        pytest.skip(EXIFTOOL_MISSING)
    return found


def base_photo(seed: int = 0, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A plain RGB picture (colour gradients plus sensor-like noise, no text or faces), so that
    only the metadata of the built files can tell anything about them."""
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    tint = rng.integers(0, 80, 3)
    channels = [
        x * 255 // max(width - 1, 1),
        y * 255 // max(height - 1, 1),
        (x + y) * 255 // max(width + height - 2, 1),
    ]
    pixels = np.stack([(c * (175 + t) // 255) + t for c, t in zip(channels, tint, strict=True)], axis=-1)
    pixels = pixels + rng.integers(-10, 11, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    """Degrees, minutes, seconds as EXIF rationals, exact for 6-decimal degrees (seconds then
    have at most 4 decimals)."""
    exact = abs(Decimal(str(value)))
    degrees = int(exact)
    minutes = int((exact - degrees) * 60)
    seconds = (exact - degrees) * 3600 - minutes * 60
    return Fraction(degrees), Fraction(minutes), Fraction(seconds)


def _exiv2_dms(value: float) -> str:
    """``_dms`` in exiv2's text form for a rational triple ("48/1 51/1 106848/10000")."""
    degrees, minutes, seconds = _dms(value)
    seconds_x10000 = seconds * 10000
    assert seconds_x10000.denominator == 1, f"{value} has more than 6 decimals"
    return f"{degrees.numerator}/1 {minutes.numerator}/1 {seconds_x10000.numerator}/10000"


def xmp_coordinate(value: float, positive: str, negative: str) -> str:
    """XMP's GPSCoordinate text "DDD,MM.mmmmmR" (degrees, decimal minutes, reference), exact for
    6-decimal degrees."""
    exact = abs(Decimal(str(value)))
    degrees = int(exact)
    minutes = format(((exact - degrees) * 60).normalize(), "f")
    return f"{degrees},{minutes}{positive if value >= 0 else negative}"


def _exif_time(taken: datetime) -> str:
    return taken.strftime("%Y:%m:%d %H:%M:%S")


def _offset(taken: datetime) -> str | None:
    offset = taken.utcoffset()
    if offset is None:
        return None
    sign = "+" if offset >= timedelta(0) else "-"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def build_exif(expected: Expected, size: tuple[int, int] = (640, 480)) -> Image.Exif:
    """EXIF as a camera writes it: the tags EXIF requires (resolution, versions, colour space,
    pixel size), Make/Model in IFD0, DateTimeOriginal (and OffsetTimeOriginal when ``taken`` is
    aware) in the Exif IFD, position in the GPS IFD; fields left None are not written."""
    exif = Image.Exif()
    exif[X_RESOLUTION] = exif[Y_RESOLUTION] = Fraction(72)
    exif[RESOLUTION_UNIT], exif[YCBCR_POSITIONING] = 2, 1
    details = exif.get_ifd(EXIF_IFD)
    # ComponentsConfiguration is left out: Pillow would write it as BYTE, not UNDEFINED.
    details[EXIF_VERSION], details[FLASHPIX_VERSION] = b"0232", b"0100"
    details[COLOR_SPACE], details[EXIF_WIDTH], details[EXIF_HEIGHT] = 1, size[0], size[1]
    if expected.make is not None:
        exif[MAKE] = expected.make
    if expected.model is not None:
        exif[MODEL] = expected.model
    if expected.taken is not None:
        exif[DATETIME] = _exif_time(expected.taken)
        details[DATETIME_ORIGINAL] = details[DATETIME_DIGITIZED] = _exif_time(expected.taken)
        offset = _offset(expected.taken)
        if offset is not None:
            details[OFFSET_ORIGINAL] = offset
    if expected.lat is not None and expected.lon is not None:
        gps = exif.get_ifd(GPS_IFD)
        gps[GPS_VERSION] = b"\x02\x03\x00\x00"
        gps[GPS_LAT_REF], gps[GPS_LAT] = ("N" if expected.lat >= 0 else "S"), _dms(expected.lat)
        gps[GPS_LON_REF], gps[GPS_LON] = ("E" if expected.lon >= 0 else "W"), _dms(expected.lon)
        if expected.altitude is not None:
            gps[GPS_ALT_REF] = 0 if expected.altitude >= 0 else 1
            gps[GPS_ALT] = Fraction(str(abs(expected.altitude)))
    return exif


def _save_jpeg(path: Path, seed: int, exif: Image.Exif | None = None, xmp: bytes | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    extra: dict[str, object] = {}
    if exif is not None:
        extra["exif"] = exif
    if xmp is not None:
        extra["xmp"] = xmp
    base_photo(seed).save(path, format="JPEG", quality=90, **extra)
    return path


def _edit_with_exiv2(
    path: Path,
    *,
    exif: dict[str, str] | None = None,
    iptc: dict[str, str | list[str]] | None = None,
    xmp: dict[str, str] | None = None,
) -> None:
    """Adds EXIF, IPTC IIM and XMP entries with exiv2 (the reader shadowlens uses), keeping what
    the file already holds. A list value becomes a repeated IPTC dataset."""
    with quiet_exiv2():
        image = exiv2.ImageFactory.open(str(path))
        image.readMetadata()
        if exif:
            exif_data = image.exifData()
            for key, text in exif.items():
                exif_data[key] = text
            image.setExifData(exif_data)
        if iptc:
            iptc_data = image.iptcData()
            for key, value in iptc.items():
                for item in [value] if isinstance(value, str) else value:
                    iptc_data.add(exiv2.IptcKey(key), exiv2.StringValue(item))
            image.setIptcData(iptc_data)
        if xmp:
            xmp_data = image.xmpData()
            for key, text in xmp.items():
                xmp_data[key] = text
            image.setXmpData(xmp_data)
        image.writeMetadata()


def _xmp_gps(expected: Expected) -> dict[str, str]:
    assert expected.lat is not None and expected.lon is not None
    entries = {
        "Xmp.exif.GPSVersionID": "2.3.0.0",
        "Xmp.exif.GPSLatitude": xmp_coordinate(expected.lat, "N", "S"),
        "Xmp.exif.GPSLongitude": xmp_coordinate(expected.lon, "E", "W"),
    }
    if expected.altitude is not None:
        altitude = Fraction(str(abs(expected.altitude)))
        entries["Xmp.exif.GPSAltitudeRef"] = "0" if expected.altitude >= 0 else "1"
        entries["Xmp.exif.GPSAltitude"] = f"{altitude.numerator}/{altitude.denominator}"
    return entries


# ---------------------------------------------------------------------------------------------
# 1-5: JPEGs whose metadata is not (only) in EXIF

# Lisbon, Praça do Comércio.
LISBON = Expected(
    lat=38.707751,
    lon=-9.136592,
    altitude=12.5,
    taken=datetime(2023, 9, 16, 18, 22, 5),
    make="FUJIFILM",
    model="X-T30",
)


def jpeg_gps_only_in_xmp(folder: Path) -> tuple[Path, Expected]:
    """A camera photo (EXIF Make/Model/DateTimeOriginal, no GPS IFD) geotagged later in software
    that wrote the position only to XMP: exif:GPSLatitude/GPSLongitude in XMP's "DD,MM.mmmmmR"
    form plus exif:GPSAltitude. A reader that looks for GPS only in EXIF misses it."""
    expected = LISBON
    exif_only = Expected(make=expected.make, model=expected.model, taken=expected.taken)
    path = _save_jpeg(folder / "DSCF4127.jpg", seed=1, exif=build_exif(exif_only))
    _edit_with_exiv2(path, xmp=_xmp_gps(expected))
    return path, expected


DJI_FLIGHT = Expected(
    lat=46.123456,
    lon=7.654321,
    altitude=1234.56,
    taken=datetime(2022, 9, 3, 11, 42, 17),
    make="DJI",
    model="FC3411",
    yaw=123.4,
)


def _dji_packet(expected: Expected, longitude_key: str) -> bytes:
    """The XMP packet a DJI drone writes: everything as attributes of one rdf:Description whose
    rdf:about is "DJI Meta Data", the flight data in DJI's own drone-dji namespace, signed decimal
    strings ("+46.123456")."""
    assert expected.lat is not None and expected.lon is not None and expected.taken is not None
    created = expected.taken.strftime("%Y-%m-%dT%H:%M:%S")
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="DJI Meta Data"
    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"
    xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
    xmlns:drone-dji="{DJI_NAMESPACE}"
   xmp:ModifyDate="{created}"
   xmp:CreateDate="{created}"
   tiff:Make="{expected.make}"
   tiff:Model="{expected.model}"
   dc:format="image/jpeg"
   drone-dji:AbsoluteAltitude="{expected.altitude:+.2f}"
   drone-dji:RelativeAltitude="+98.70"
   drone-dji:GpsLatitude="{expected.lat:+.6f}"
   drone-dji:{longitude_key}="{expected.lon:+.6f}"
   drone-dji:GimbalRollDegree="+0.00"
   drone-dji:GimbalYawDegree="{expected.yaw:+.2f}"
   drone-dji:GimbalPitchDegree="-30.10"
   drone-dji:FlightRollDegree="+1.20"
   drone-dji:FlightYawDegree="{expected.yaw:+.2f}"
   drone-dji:FlightPitchDegree="-3.40"
   drone-dji:CamReverse="0"
   drone-dji:GimbalReverse="0"
   drone-dji:RtkFlag="0"
   crs:Version="7.0"
   crs:HasSettings="False"
   crs:HasCrop="False"
   crs:AlreadyApplied="False">
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode()


def _jpeg_dji(folder: Path, name: str, longitude_key: str) -> tuple[Path, Expected]:
    expected = DJI_FLIGHT
    exif = build_exif(Expected(make=expected.make, model=expected.model, taken=expected.taken))
    path = _save_jpeg(folder / name, seed=2, exif=exif, xmp=_dji_packet(expected, longitude_key))
    return path, expected


def jpeg_dji_xmp(folder: Path) -> tuple[Path, Expected]:
    """A DJI drone photo (EXIF Make "DJI", Model "FC3411", DateTimeOriginal, no GPS IFD) whose
    position, altitude and heading are only in DJI's XMP namespace (drone-dji:GpsLatitude,
    GpsLongitude, AbsoluteAltitude, FlightYawDegree), written as the raw APP1 packet DJI writes."""
    return _jpeg_dji(folder, "DJI_0042.JPG", "GpsLongitude")


def jpeg_dji_xmp_misspelt(folder: Path) -> tuple[Path, Expected]:
    """``jpeg_dji_xmp`` as some DJI firmware writes it: the longitude under the misspelt
    drone-dji:GpsLongtitude, so a reader that knows only the correct spelling loses it."""
    return _jpeg_dji(folder, "DJI_0043.JPG", "GpsLongtitude")


MUNICH_IPTC = Expected(
    taken=datetime(2019, 7, 14, 15, 30, tzinfo=timezone(timedelta(hours=2))),
    city="München",
    sublocation="Marienplatz",
    state="Bayern",
    country="Deutschland",
    country_code="DEU",
    keywords=("Rathaus", "Glockenspiel", "Altstadt"),
    creator="Anna Beispiel",
    caption="Glockenspiel am Neuen Rathaus",
    copyright="© 2019 Anna Beispiel",
)


def jpeg_iptc_only(folder: Path) -> tuple[Path, Expected]:
    """A photo from a news or stock workflow that carries only IPTC IIM (no EXIF, no XMP): date
    and time with offset, city, sub-location, state, country and its ISO code, three keywords,
    by-line, caption and copyright, in UTF-8 (declared by the envelope's CodedCharacterSet)."""
    expected = MUNICH_IPTC
    assert expected.taken is not None
    path = _save_jpeg(folder / "munich_marienplatz.jpg", seed=3)
    _edit_with_exiv2(
        path,
        iptc={
            "Iptc.Envelope.CharacterSet": "\x1b%G",
            "Iptc.Application2.DateCreated": expected.taken.strftime("%Y-%m-%d"),
            "Iptc.Application2.TimeCreated": expected.taken.strftime("%H:%M:%S")
            + str(_offset(expected.taken)),
            "Iptc.Application2.City": str(expected.city),
            "Iptc.Application2.SubLocation": str(expected.sublocation),
            "Iptc.Application2.ProvinceState": str(expected.state),
            "Iptc.Application2.CountryName": str(expected.country),
            "Iptc.Application2.CountryCode": str(expected.country_code),
            "Iptc.Application2.Keywords": list(expected.keywords),
            "Iptc.Application2.Byline": str(expected.creator),
            "Iptc.Application2.Caption": str(expected.caption),
            "Iptc.Application2.Copyright": str(expected.copyright),
        },
    )
    return path, expected


LYON_XMP = Expected(
    taken=datetime(2018, 3, 4, 9, 10, 11, tzinfo=timezone(timedelta(hours=1))),
    city="Lyon",
    country="France",
    location="Vieux Lyon",
)


def jpeg_xmp_dates_only(folder: Path) -> tuple[Path, Expected]:
    """A photo whose only date and place are in XMP (photoshop:DateCreated with an offset,
    photoshop:City, photoshop:Country, Iptc4xmpCore:Location), as an editor exports it after
    the EXIF was stripped."""
    expected = LYON_XMP
    assert expected.taken is not None
    path = _save_jpeg(folder / "lyon_export.jpg", seed=4)
    _edit_with_exiv2(
        path,
        xmp={
            "Xmp.photoshop.DateCreated": expected.taken.isoformat(),
            "Xmp.photoshop.City": str(expected.city),
            "Xmp.photoshop.Country": str(expected.country),
            "Xmp.iptc.Location": str(expected.location),
        },
    )
    return path, expected


PHONE_PARIS = Expected(
    lat=48.852968,
    lon=2.349902,
    taken=datetime(2021, 6, 12, 18, 45),
    make="Google",
    model="Pixel 5",
)
# Étampes, about 48 km south-west of Notre-Dame.
ETAMPES = Expected(lat=48.434300, lon=2.161500)


def jpeg_conflicting_gps(folder: Path) -> tuple[Path, Conflict]:
    """A phone photo with EXIF GPS at Notre-Dame de Paris and XMP exif:GPS at Étampes, about
    48 km away (as after a wrong manual geotag that updated only XMP): a reader must pick one
    source, or report both."""
    path = _save_jpeg(folder / "PXL_20210612_164500000.jpg", seed=5, exif=build_exif(PHONE_PARIS))
    _edit_with_exiv2(path, xmp=_xmp_gps(ETAMPES))
    return path, Conflict(exif=PHONE_PARIS, other=ETAMPES, other_source="XMP")


IPTC_YEAR_EARLIER = Expected(taken=datetime(2020, 6, 12, 18, 45, tzinfo=timezone(timedelta(hours=2))))


def jpeg_conflicting_time(folder: Path) -> tuple[Path, Conflict]:
    """A phone photo whose EXIF DateTimeOriginal (2021-06-12 18:45) and IPTC DateCreated/
    TimeCreated (2020-06-12 18:45+02:00) are a year apart, as when a caption template carried
    last year's date."""
    exif_side = Expected(taken=PHONE_PARIS.taken, make=PHONE_PARIS.make, model=PHONE_PARIS.model)
    taken = IPTC_YEAR_EARLIER.taken
    assert taken is not None
    path = _save_jpeg(folder / "PXL_20210612_164500001.jpg", seed=6, exif=build_exif(exif_side))
    _edit_with_exiv2(
        path,
        iptc={
            "Iptc.Application2.DateCreated": taken.strftime("%Y-%m-%d"),
            "Iptc.Application2.TimeCreated": taken.strftime("%H:%M:%S") + str(_offset(taken)),
        },
    )
    return path, Conflict(exif=exif_side, other=IPTC_YEAR_EARLIER, other_source="IPTC")


# ---------------------------------------------------------------------------------------------
# 6: real raw files with GPS

RAW_NAMES = ("Nikon.nef", "CanonRaw.cr2", "CanonRaw.cr3", "FujiFilm.raf")
# One place per skeleton, so every hemisphere reference (N/S, E/W) is written somewhere.
RAW_PLACES: dict[str, tuple[float, float, float]] = {
    "Nikon.nef": (35.658581, 139.745433, 45.5),  # Tokyo Tower
    "CanonRaw.cr2": (-33.856784, 151.215297, 4.0),  # Sydney Opera House
    "CanonRaw.cr3": (40.782865, -73.965355, 39.0),  # Central Park, New York
    "FujiFilm.raf": (-33.924869, 18.424055, 12.0),  # Cape Town
}
# exiftool.json leaves out ExifIFD:OffsetTimeOriginal, which only the CR3 skeleton holds.
RAW_OFFSETS: dict[str, timezone] = {"CanonRaw.cr3": UTC}
# exiv2 rewrites TIFF-based raws itself; it cannot write CR3 (ISO BMFF is read-only) or RAF.
RAW_NEEDS_EXIFTOOL = frozenset({"CanonRaw.cr3", "FujiFilm.raf"})


def raw_sample_or_skip(name: str) -> Path:
    """A shared raw skeleton; skips when ../shared is not beside the repo (it is test data, not
    part of the repo)."""
    source = RAW_SAMPLES / name
    if not source.is_file():
        pytest.skip(f"the shared raw sample is missing: expected {source} beside the repo")
    return source


def raw_expected(name: str) -> Expected:
    """Make, Model and DateTimeOriginal of a skeleton as exiftool read it (exiftool.json beside
    the samples; the CR3's OffsetTimeOriginal added), with the position ``raw_with_gps`` writes
    into its copy."""
    sample = raw_sample_or_skip(name)
    readings = {
        entry["SourceFile"]: entry for entry in json.loads((sample.parent / "exiftool.json").read_text())
    }
    reading = readings[name]
    lat, lon, altitude = RAW_PLACES[name]
    return Expected(
        lat=lat,
        lon=lon,
        altitude=altitude,
        taken=datetime.strptime(reading["ExifIFD:DateTimeOriginal"], "%Y:%m:%d %H:%M:%S").replace(
            tzinfo=RAW_OFFSETS.get(name)
        ),
        make=reading["IFD0:Make"],
        model=reading["IFD0:Model"],
    )


def _trim_cr3_preview(path: Path) -> None:
    """Shrinks the PRVW box of the skeleton's preview uuid box to the bytes the skeleton holds.
    The skeleton keeps the box header of a 372 KB preview but only a 26-byte stand-in; exiv2
    (0.28) then rejects the whole file as corrupted, exiftool does not mind."""
    data = bytearray(path.read_bytes())
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size < 8:
            break
        if kind == b"uuid" and data[offset + 8 : offset + 24] == _CR3_PREVIEW_UUID:
            preview = data.index(b"PRVW", offset + 24) - 4
            declared = struct.unpack(">I", data[preview : preview + 4])[0]
            box_end = offset + size
            if preview + declared > box_end:
                data[preview : preview + 4] = struct.pack(">I", box_end - preview)
                path.write_bytes(bytes(data))
            return
        offset += size


def raw_with_gps(folder: Path, name: str, *, trim_cr3_preview: bool = False) -> tuple[Path, Expected]:
    """A copy of a shared raw skeleton (real camera metadata, no pixel data) with a GPS IFD
    added, as a camera with GPS (or a geotagging app) writes it. ``name`` is one of
    ``RAW_NAMES``. NEF and CR2 are written with exiv2; CR3 and RAF need exiftool (skips without
    it). exiv2's rewrite of the NEF drops the makernote's small NikonScan sub-IFD (exiftool then
    warns "Bad NikonScanIFD directory"); Make/Model/dates/GPS are intact.

    ``trim_cr3_preview``: the CR3 skeleton as shipped cannot be read by exiv2 at all (see
    ``_trim_cr3_preview``); True makes the copy consistent so exiv2 reads it."""
    expected = raw_expected(name)
    assert expected.lat is not None and expected.lon is not None and expected.altitude is not None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    shutil.copyfile(raw_sample_or_skip(name), path)
    path.chmod(0o644)
    if name in RAW_NEEDS_EXIFTOOL:
        exiftool = require_exiftool()
        subprocess.run(
            [
                exiftool,
                "-q",
                "-overwrite_original",
                "-GPSVersionID=2.3.0.0",
                f"-GPSLatitude={abs(expected.lat)}",
                f"-GPSLatitudeRef={'N' if expected.lat >= 0 else 'S'}",
                f"-GPSLongitude={abs(expected.lon)}",
                f"-GPSLongitudeRef={'E' if expected.lon >= 0 else 'W'}",
                f"-GPSAltitude={abs(expected.altitude)}",
                f"-GPSAltitudeRef={0 if expected.altitude >= 0 else 1}",
                str(path),
            ],
            check=True,
            capture_output=True,
        )
        if trim_cr3_preview and path.suffix.lower() == ".cr3":
            _trim_cr3_preview(path)
    else:
        altitude = Fraction(str(abs(expected.altitude)))
        _edit_with_exiv2(
            path,
            exif={
                "Exif.GPSInfo.GPSVersionID": "2 3 0 0",
                "Exif.GPSInfo.GPSLatitudeRef": "N" if expected.lat >= 0 else "S",
                "Exif.GPSInfo.GPSLatitude": _exiv2_dms(expected.lat),
                "Exif.GPSInfo.GPSLongitudeRef": "E" if expected.lon >= 0 else "W",
                "Exif.GPSInfo.GPSLongitude": _exiv2_dms(expected.lon),
                "Exif.GPSInfo.GPSAltitudeRef": "0" if expected.altitude >= 0 else "1",
                "Exif.GPSInfo.GPSAltitude": f"{altitude.numerator}/{altitude.denominator}",
            },
        )
    return path, expected


# ---------------------------------------------------------------------------------------------
# 7: large 16-bit and float images


def _grey16(side: int, seed: int) -> np.ndarray:
    """A diagonal gradient with noise that reaches both 0 and 65535, as a scanner or astro
    camera's 16-bit output does, so a reader that assumes 8 bits visibly clips it."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 65535.0, side, dtype=np.float32)
    values = (ramp[None, :] + ramp[:, None]) / 2 + rng.normal(0.0, 900.0, (side, side)).astype(np.float32)
    values = np.clip(np.rint(values), 0, 65535).astype(np.uint16)
    values[0, 0], values[-1, -1] = 0, 65535
    return values


def grey16_png(folder: Path, side: int = 4000) -> Path:
    """A ``side``x``side`` 16-bit greyscale PNG (Pillow mode I;16)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"grey16_{side}.png"
    Image.fromarray(_grey16(side, seed=7)).save(path, compress_level=1)
    return path


def grey16_tiff(folder: Path, side: int = 4000) -> Path:
    """A ``side``x``side`` 16-bit greyscale big-endian TIFF (Pillow mode I;16B, "MM" byte order)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"grey16_{side}.tif"
    Image.frombytes("I;16B", (side, side), _grey16(side, seed=8).astype(">u2").tobytes()).save(path)
    return path


def float_tiff(folder: Path, side: int = 1024) -> Path:
    """A ``side``x``side`` 32-bit float greyscale TIFF (Pillow mode F, SampleFormat IEEE float)
    as HDR and scientific tools write, with values a little outside 0..1."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(9)
    ramp = np.linspace(0.0, 1.0, side, dtype=np.float32)
    values = (ramp[None, :] * ramp[:, None] + rng.normal(0.0, 0.02, (side, side))).astype(np.float32)
    path = folder / f"float_{side}.tif"
    Image.fromarray(values).save(path)
    return path


# ---------------------------------------------------------------------------------------------
# 8-10: readable metadata, pixels this build cannot (or can) decode

KYOTO_IPHONE = Expected(
    lat=35.039370,
    lon=135.729243,
    altitude=102.3,
    taken=datetime(2024, 4, 20, 16, 5, 33, tzinfo=timezone(timedelta(hours=9))),
    make="Apple",
    model="iPhone 15 Pro",
)


def heif_uncommon_codec(folder: Path) -> tuple[Path, Expected]:
    """A well-formed HEIF whose primary image item claims ``HEIF_UNDECODABLE_ITEM_TYPE`` (VVC)
    with the matching brand, so libheif (pillow_heif) lists no image and Pillow cannot open it,
    while its EXIF item (iPhone Make/Model/DateTimeOriginal+offset/GPS) stays readable by exiv2.

    Built by saving a normal HEIC and rewriting, without changing any length, the item type in
    iinf/infe and the ftyp brands. The coded data is still HEVC and the hvcC property stays: a
    decoder never gets that far (renaming hvcC too makes libheif fail earlier, on parsing it)."""
    pillow_heif.register_heif_opener()
    expected = KYOTO_IPHONE
    folder.mkdir(parents=True, exist_ok=True)
    buffer = BytesIO()
    base_photo(seed=10).save(buffer, format="HEIF", quality=80, exif=build_exif(expected).tobytes())
    data = bytearray(buffer.getvalue())
    _set_heif_primary_item_type(data, HEIF_UNDECODABLE_ITEM_TYPE.encode())
    size, kind = struct.unpack(">I4s", data[:8])
    assert kind == b"ftyp"
    brands = b"mif1" + HEIF_UNDECODABLE_BRAND.encode() + b"miaf"
    assert size == 16 + len(brands), "unexpected ftyp from pillow_heif"
    data[8:12], data[16:size] = b"mif1", brands
    path = folder / "IMG_4821.heif"
    path.write_bytes(bytes(data))
    return path, expected


def _set_heif_primary_item_type(data: bytearray, item_type: bytes) -> None:
    """Rewrites in place the item_type of the infe entry whose item_ID is pitm's."""
    meta = _find_box(data, 0, len(data), b"meta")
    body = meta + 12  # box header + FullBox version/flags
    meta_end = meta + struct.unpack(">I", data[meta : meta + 4])[0]
    pitm = _find_box(data, body, meta_end, b"pitm")
    primary = struct.unpack(">H", data[pitm + 12 : pitm + 14])[0] if data[pitm + 8] == 0 else None
    assert primary is not None, "pitm version 1 is not expected from pillow_heif"
    iinf = _find_box(data, body, meta_end, b"iinf")
    iinf_end = iinf + struct.unpack(">I", data[iinf : iinf + 4])[0]
    entries = iinf + 12 + (2 if data[iinf + 8] == 0 else 4)
    while entries < iinf_end:
        size, kind = struct.unpack(">I4s", data[entries : entries + 8])
        assert kind == b"infe" and data[entries + 8] >= 2, "only infe version 2/3 is handled"
        id_size = 2 if data[entries + 8] == 2 else 4
        item_id = int.from_bytes(data[entries + 12 : entries + 12 + id_size], "big")
        if item_id == primary:
            at = entries + 12 + id_size + 2
            data[at : at + 4] = item_type
            return
        entries += size
    raise AssertionError("primary item not found in iinf")


def _find_box(data: bytearray, start: int, end: int, kind: bytes) -> int:
    offset = start
    while offset + 8 <= end:
        size, found = struct.unpack(">I4s", data[offset : offset + 8])
        if found == kind:
            return offset
        if size < 8:
            break
        offset += size
    raise AssertionError(f"no {kind!r} box")


SONY_TIFF = Expected(
    taken=datetime(2020, 10, 11, 12, 13, 14),
    make="SONY",
    model="ILCE-7M3",
)


def _tiff_entry(
    tag: int, kind: int, value: bytes | int | tuple[int, ...] | str
) -> tuple[int, int, int, bytes]:
    """One little-endian TIFF entry as (tag, type, count, payload)."""
    if isinstance(value, str):
        raw = value.encode("ascii") + b"\0"
        return tag, 2, len(raw), raw
    if isinstance(value, bytes):
        return tag, kind, len(value), value
    values = (value,) if isinstance(value, int) else value
    if kind == 5:  # RATIONAL pairs
        return tag, kind, len(values) // 2, struct.pack(f"<{len(values)}I", *values)
    code = {3: "H", 4: "I"}[kind]
    return tag, kind, len(values), struct.pack(f"<{len(values)}{code}", *values)


def _tiff_bytes(
    ifd0: list[tuple[int, int, int, bytes]], exif_ifd: list[tuple[int, int, int, bytes]], strip: bytes
) -> bytes:
    """A little-endian TIFF: header, IFD0, Exif IFD, the out-of-line values, then one strip.
    IFD0 must hold the ExifIFD (34665), StripOffsets (273) and StripByteCounts (279) entries;
    their values are filled in here."""
    ifd0_at = 8
    exif_at = ifd0_at + 2 + 12 * len(ifd0) + 4
    values_at = exif_at + 2 + 12 * len(exif_ifd) + 4
    out_of_line = sum(len(p) + len(p) % 2 for _, _, _, p in ifd0 + exif_ifd if len(p) > 4)
    strip_at = values_at + out_of_line
    filled = {
        34665: struct.pack("<I", exif_at),
        273: struct.pack("<I", strip_at),
        279: struct.pack("<I", len(strip)),
    }
    ifd0 = [(t, k, c, filled.get(t, p)) for t, k, c, p in ifd0]
    header = b"II*\0" + struct.pack("<I", ifd0_at)
    tables, values = b"", b""
    for entries in (sorted(ifd0), sorted(exif_ifd)):
        table = struct.pack("<H", len(entries))
        for tag, kind, count, payload in entries:
            if len(payload) > 4:
                table += struct.pack("<HHII", tag, kind, count, values_at + len(values))
                values += payload + b"\0" * (len(payload) % 2)
            else:
                table += struct.pack("<HHI", tag, kind, count) + payload.ljust(4, b"\0")
        tables += table + struct.pack("<I", 0)
    assert len(header + tables) == values_at and len(values) == out_of_line
    return header + tables + values + strip


def tiff_webp_compression(folder: Path) -> tuple[Path, Expected]:
    """A TIFF with camera EXIF (Make/Model/DateTime in IFD0, DateTimeOriginal in the Exif IFD)
    whose single strip is WebP-compressed (Compression 50001), as libtiff with WebP support (e.g.
    GDAL) writes it: the strip is a complete RIFF WebP of the picture. Pillow's bundled libtiff has
    no WebP codec, so Pillow reads the tags but cannot decode the pixels; exiv2 reads the EXIF.
    Written by hand because that same libtiff cannot write WebP either."""
    expected = SONY_TIFF
    assert expected.taken is not None and expected.make is not None and expected.model is not None
    folder.mkdir(parents=True, exist_ok=True)
    picture = base_photo(seed=11)
    webp = BytesIO()
    picture.save(webp, format="WEBP", quality=75)
    width, height = picture.size
    when = _exif_time(expected.taken)
    ifd0 = [
        _tiff_entry(256, 4, width),
        _tiff_entry(257, 4, height),
        _tiff_entry(258, 3, (8, 8, 8)),
        _tiff_entry(259, 3, TIFF_COMPRESSION_WEBP),
        _tiff_entry(262, 3, 2),  # RGB
        _tiff_entry(271, 2, expected.make),
        _tiff_entry(272, 2, expected.model),
        _tiff_entry(273, 4, 0),
        _tiff_entry(274, 3, 1),
        _tiff_entry(277, 3, 3),
        _tiff_entry(278, 4, height),
        _tiff_entry(279, 4, 0),
        _tiff_entry(282, 5, (300, 1)),
        _tiff_entry(283, 5, (300, 1)),
        _tiff_entry(284, 3, 1),  # chunky
        _tiff_entry(296, 3, 2),  # inches
        _tiff_entry(306, 2, when),
        _tiff_entry(34665, 4, 0),
    ]
    exif_ifd = [
        _tiff_entry(36864, 7, b"0232"),
        _tiff_entry(36867, 2, when),
        _tiff_entry(36868, 2, when),
        _tiff_entry(40960, 7, b"0100"),  # FlashpixVersion
        _tiff_entry(40961, 3, 1),  # sRGB
    ]
    path = folder / "DSC09876.tif"
    path.write_bytes(_tiff_bytes(ifd0, exif_ifd, webp.getvalue()))
    return path, expected


REYKJAVIK_CANON = Expected(
    lat=64.141740,
    lon=-21.926600,
    altitude=74.0,
    taken=datetime(2023, 2, 14, 10, 3, 27, tzinfo=UTC),
    make="Canon",
    model="Canon EOS R6",
)


def jxl_with_exif(folder: Path) -> tuple[Path, Expected]:
    """A JPEG XL (ISO BMFF container, as libjxl writes whenever there is metadata) with an Exif
    box: Make/Model/DateTimeOriginal+offset/GPS. pillow_jxl embeds the EXIF itself, so no
    exiftool is needed; Pillow (with pillow_jxl) decodes it and exiv2 reads the EXIF."""
    expected = REYKJAVIK_CANON
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "IMG_2231.jxl"
    base_photo(seed=12).save(path, format="JXL", quality=90, exif=build_exif(expected).tobytes())
    return path, expected


# ---------------------------------------------------------------------------------------------
# 11: names and bytes that lie


def not_an_image_named_jpg(folder: Path) -> Path:
    """A plain text file named ``notes.jpg``: the extension says image, the bytes do not."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "notes.jpg"
    path.write_text("Shopping list\n- milk\n- bread\n- film for the old camera\n", encoding="utf-8")
    return path


PHONE_NO_SUFFIX = Expected(
    taken=datetime(2017, 8, 19, 9, 41, 2),
    make="Apple",
    model="iPhone 7",
)


def jpeg_without_extension(folder: Path) -> tuple[Path, Expected]:
    """A real JPEG with EXIF (Make/Model/DateTimeOriginal) saved as ``IMG_0001`` without a suffix,
    as files come out of some transfer tools: only the bytes say it is a JPEG."""
    path = _save_jpeg(folder / "IMG_0001", seed=13, exif=build_exif(PHONE_NO_SUFFIX))
    return path, PHONE_NO_SUFFIX


EPS_TEXT = """%!PS-Adobe-3.0 EPSF-3.0
%%Creator: shadowlens tests
%%Title: blue box
%%CreationDate: 2020-01-01
%%BoundingBox: 0 0 64 48
%%HiResBoundingBox: 0.000 0.000 64.000 48.000
%%LanguageLevel: 2
%%Pages: 1
%%EndComments
%%Page: 1 1
newpath 0 0 moveto 64 0 lineto 64 48 lineto 0 48 lineto closepath
0.2 0.4 0.8 setrgbcolor fill
showpage
%%EOF
"""
# The first bytes of raw formats exiv2 and Pillow do not decode (or read only partly).
OLD_RAW_MAGIC: dict[str, bytes] = {
    "crw": b"II\x1a\x00\x00\x00HEAPCCDR",  # Canon CRW (CIFF)
    "mrw": b"\x00MRM",  # Minolta MRW
    "x3f": b"FOVb",  # Sigma X3F
}


def unsupported_image_like(folder: Path) -> dict[str, Path]:
    """Files that are (or start like) images in formats shadowlens does not read: a TGA and a DDS
    saved by Pillow, a minimal valid EPS, and files with the magic of old raw formats (CRW, MRW,
    X3F) followed by junk. Keyed by format: "tga", "dds", "eps", "crw", "mrw", "x3f"."""
    folder.mkdir(parents=True, exist_ok=True)
    picture = base_photo(seed=14, size=(64, 48))
    files = {"tga": folder / "texture.tga", "dds": folder / "texture.dds", "eps": folder / "logo.eps"}
    picture.save(files["tga"], format="TGA")
    picture.save(files["dds"], format="DDS")
    files["eps"].write_text(EPS_TEXT, encoding="ascii")
    junk = random.Random(15)
    for suffix, magic in OLD_RAW_MAGIC.items():
        files[suffix] = folder / f"old_camera.{suffix}"
        files[suffix].write_bytes(magic + junk.randbytes(4096))
    return files
