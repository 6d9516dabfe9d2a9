"""The metadata builders tell the truth: each built file holds, where a reader would find it,
exactly what the builder says (read back with exiv2, and with exiftool when it is installed), and
the files meant to be undecodable really are undecodable by Pillow here. Nothing about
shadowlens is tested in this file."""

from __future__ import annotations

import hashlib
import json
import math
import struct
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta
from fractions import Fraction
from io import BytesIO
from pathlib import Path
from typing import Any

import exiv2
import numpy as np
import pillow_heif
import pytest
from PIL import Image, TiffImagePlugin, UnidentifiedImageError

from tests import metadata_builders as mb
from tests.metadata_builders import Expected

pillow_heif.register_heif_opener()

# Coordinates are built from 6-decimal degrees; exiftool writes raw GPS with a looser rational.
PRECISE, LOOSE = 1e-9, 1e-6


# ---------------------------------------------------------------------------------------------
# Reading back, independently of the builders


def exiv2_read(path: Path) -> dict[str, list[str]]:
    """Every EXIF, IPTC and XMP entry exiv2 finds, by key (repeated IPTC datasets in order), plus
    the detected MIME type under "mime"."""
    with mb.quiet_exiv2():
        image = exiv2.ImageFactory.open(str(path))
        image.readMetadata()
        found: dict[str, list[str]] = {"mime": [image.mimeType()]}
        for data in (image.exifData(), image.iptcData(), image.xmpData()):
            for datum in data:
                found.setdefault(datum.key(), []).append(datum.toString())
    return found


def one(found: dict[str, list[str]], key: str) -> str:
    values = found.get(key)
    assert values is not None and len(values) == 1, f"{key}: {values}"
    return values[0]


def keys_of(found: dict[str, list[str]], family: str) -> list[str]:
    return [key for key in found if key.startswith(family)]


def exiftool_read(path: Path) -> dict[str, Any]:
    """exiftool's numeric reading (-n -json -G1) of one file; skips without exiftool."""
    exiftool = mb.require_exiftool()
    result = subprocess.run([exiftool, "-n", "-json", "-G1", str(path)], capture_output=True, text=True)
    reading: dict[str, Any] = json.loads(result.stdout)[0]
    return reading


def exif_degrees(rationals: str, ref: str) -> float:
    """exiv2's "48/1 51/1 6678/625" with its N/S/E/W reference, as signed decimal degrees."""
    degrees, minutes, seconds = (Fraction(part) for part in rationals.split())
    value = float(degrees + minutes / 60 + seconds / 3600)
    return -value if ref in ("S", "W") else value


def xmp_degrees(text: str) -> float:
    """XMP GPSCoordinate "DDD,MM.mmR" or "DDD,MM,SSR" as signed decimal degrees."""
    ref, parts = text[-1], [Fraction(part) for part in text[:-1].split(",")]
    value = float(sum(part / 60**i for i, part in enumerate(parts)))
    return -value if ref in ("S", "W") else value


def exiftool_gps(reading: dict[str, Any]) -> tuple[float, float]:
    """Signed EXIF GPS from exiftool -n (the GPS group keeps unsigned values and a reference)."""
    lat, lon = float(reading["GPS:GPSLatitude"]), float(reading["GPS:GPSLongitude"])
    return (
        -lat if reading["GPS:GPSLatitudeRef"] == "S" else lat,
        -lon if reading["GPS:GPSLongitudeRef"] == "W" else lon,
    )


def exif_taken(date_time: str, offset: str | None = None) -> datetime:
    taken = datetime.strptime(date_time, "%Y:%m:%d %H:%M:%S")
    if offset is None:
        return taken
    return datetime.fromisoformat(taken.isoformat() + offset)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def pillow_decode_error(path: Path) -> Exception | None:
    """The error Pillow (with the HEIF and JPEG XL plugins) raises decoding the pixels, or None."""
    try:
        with Image.open(path) as image:
            image.load()
    except Exception as exc:  # any failure is "cannot decode"; which one depends on the plugin
        return exc
    return None


def assert_exiv2_camera(found: dict[str, list[str]], expected: Expected) -> None:
    """Make, Model, DateTimeOriginal (+ OffsetTimeOriginal) and GPS in EXIF as ``expected`` says."""
    assert one(found, "Exif.Image.Make").strip() == expected.make
    assert one(found, "Exif.Image.Model").strip() == expected.model
    assert expected.taken is not None
    offset = found.get("Exif.Photo.OffsetTimeOriginal")
    taken = exif_taken(one(found, "Exif.Photo.DateTimeOriginal"), offset[0] if offset else None)
    assert taken == expected.taken and taken.utcoffset() == expected.taken.utcoffset()
    if expected.lat is None:
        assert keys_of(found, "Exif.GPSInfo.") == []
        return
    lat = exif_degrees(one(found, "Exif.GPSInfo.GPSLatitude"), one(found, "Exif.GPSInfo.GPSLatitudeRef"))
    lon = exif_degrees(one(found, "Exif.GPSInfo.GPSLongitude"), one(found, "Exif.GPSInfo.GPSLongitudeRef"))
    assert lat == pytest.approx(expected.lat, abs=LOOSE)
    assert lon == pytest.approx(expected.lon, abs=LOOSE)
    if expected.altitude is not None:
        assert one(found, "Exif.GPSInfo.GPSAltitudeRef") == "0"
        assert float(Fraction(one(found, "Exif.GPSInfo.GPSAltitude"))) == pytest.approx(expected.altitude)


def assert_exiftool_camera(reading: dict[str, Any], expected: Expected) -> None:
    assert str(reading["IFD0:Make"]).strip() == expected.make
    assert str(reading["IFD0:Model"]).strip() == expected.model
    offset = reading.get("ExifIFD:OffsetTimeOriginal")
    assert exif_taken(reading["ExifIFD:DateTimeOriginal"], offset) == expected.taken
    if expected.lat is None:
        assert not [key for key in reading if key.startswith("GPS:")]
        return
    lat, lon = exiftool_gps(reading)
    assert lat == pytest.approx(expected.lat, abs=LOOSE)
    assert lon == pytest.approx(expected.lon, abs=LOOSE)
    if expected.altitude is not None:
        assert reading["GPS:GPSAltitude"] == pytest.approx(expected.altitude)


# ---------------------------------------------------------------------------------------------
# 1. GPS only in XMP


def test_gps_only_in_xmp_exiv2(tmp_path: Path) -> None:
    path, expected = mb.jpeg_gps_only_in_xmp(tmp_path)
    found = exiv2_read(path)
    assert one(found, "mime") == "image/jpeg"
    assert_exiv2_camera(found, Expected(make=expected.make, model=expected.model, taken=expected.taken))
    assert keys_of(found, "Exif.GPSInfo.") == []
    assert xmp_degrees(one(found, "Xmp.exif.GPSLatitude")) == pytest.approx(expected.lat, abs=PRECISE)
    assert xmp_degrees(one(found, "Xmp.exif.GPSLongitude")) == pytest.approx(expected.lon, abs=PRECISE)
    assert one(found, "Xmp.exif.GPSLongitude").endswith("W")
    assert float(Fraction(one(found, "Xmp.exif.GPSAltitude"))) == expected.altitude
    assert one(found, "Xmp.exif.GPSAltitudeRef") == "0"


def test_gps_only_in_xmp_exiftool(tmp_path: Path) -> None:
    path, expected = mb.jpeg_gps_only_in_xmp(tmp_path)
    reading = exiftool_read(path)
    assert not [key for key in reading if key.startswith("GPS:")]
    assert reading["XMP-exif:GPSLatitude"] == pytest.approx(expected.lat, abs=PRECISE)
    assert reading["XMP-exif:GPSLongitude"] == pytest.approx(expected.lon, abs=PRECISE)
    assert reading["XMP-exif:GPSAltitude"] == expected.altitude
    assert reading["IFD0:Make"] == expected.make


# ---------------------------------------------------------------------------------------------
# 2. DJI drone XMP

DJI_BUILDERS: list[tuple[Callable[[Path], tuple[Path, Expected]], str, str]] = [
    (mb.jpeg_dji_xmp, "GpsLongitude", "GpsLongtitude"),
    (mb.jpeg_dji_xmp_misspelt, "GpsLongtitude", "GpsLongitude"),
]


@pytest.mark.parametrize(("build", "longitude", "absent"), DJI_BUILDERS, ids=["spelt", "misspelt"])
def test_dji_xmp_exiv2(
    tmp_path: Path, build: Callable[[Path], tuple[Path, Expected]], longitude: str, absent: str
) -> None:
    path, expected = build(tmp_path)
    found = exiv2_read(path)
    assert_exiv2_camera(found, Expected(make="DJI", model="FC3411", taken=expected.taken))
    assert keys_of(found, "Exif.GPSInfo.") == []
    assert one(found, "Xmp.drone-dji.GpsLatitude") == "+46.123456"
    assert one(found, f"Xmp.drone-dji.{longitude}") == "+7.654321"
    assert f"Xmp.drone-dji.{absent}" not in found
    assert float(one(found, "Xmp.drone-dji.AbsoluteAltitude")) == expected.altitude == 1234.56
    assert float(one(found, "Xmp.drone-dji.FlightYawDegree")) == expected.yaw
    assert (expected.lat, expected.lon) == (46.123456, 7.654321)
    # Stored as DJI stores it: attributes of rdf:Description, in an APP1 XMP segment.
    data = path.read_bytes()
    xmp_at = data.index(b"http://ns.adobe.com/xap/1.0/\x00")
    assert data[xmp_at - 4 : xmp_at - 2] == b"\xff\xe1" and xmp_at > data.index(b"Exif\x00\x00")
    assert b'rdf:about="DJI Meta Data"' in data and b'drone-dji:GpsLatitude="+46.123456"' in data
    assert mb.DJI_NAMESPACE.encode() in data


@pytest.mark.parametrize(("build", "longitude", "absent"), DJI_BUILDERS, ids=["spelt", "misspelt"])
def test_dji_xmp_exiftool(
    tmp_path: Path, build: Callable[[Path], tuple[Path, Expected]], longitude: str, absent: str
) -> None:
    path, expected = build(tmp_path)
    reading = exiftool_read(path)
    # exiftool names the tags GPSLatitude / GPSLongitude / GPSLongtitude in its drone-dji group.
    assert float(reading["XMP-drone-dji:GPSLatitude"]) == expected.lat
    assert float(reading[f"XMP-drone-dji:{longitude.replace('Gps', 'GPS')}"]) == expected.lon
    assert f"XMP-drone-dji:{absent.replace('Gps', 'GPS')}" not in reading
    assert float(reading["XMP-drone-dji:AbsoluteAltitude"]) == expected.altitude
    assert float(reading["XMP-drone-dji:FlightYawDegree"]) == expected.yaw
    assert reading["IFD0:Make"] == "DJI" and reading["IFD0:Model"] == "FC3411"
    assert not [key for key in reading if key.startswith("GPS:")]


# ---------------------------------------------------------------------------------------------
# 3. IPTC IIM only

IPTC_FIELDS = {
    "Iptc.Application2.City": "city",
    "Iptc.Application2.SubLocation": "sublocation",
    "Iptc.Application2.ProvinceState": "state",
    "Iptc.Application2.CountryName": "country",
    "Iptc.Application2.CountryCode": "country_code",
    "Iptc.Application2.Byline": "creator",
    "Iptc.Application2.Caption": "caption",
    "Iptc.Application2.Copyright": "copyright",
}


def test_iptc_only_exiv2(tmp_path: Path) -> None:
    path, expected = mb.jpeg_iptc_only(tmp_path)
    found = exiv2_read(path)
    assert keys_of(found, "Exif.") == [] and keys_of(found, "Xmp.") == []
    taken = datetime.fromisoformat(
        one(found, "Iptc.Application2.DateCreated") + "T" + one(found, "Iptc.Application2.TimeCreated")
    )
    assert taken == expected.taken and taken.utcoffset() == timedelta(hours=2)
    assert one(found, "Iptc.Application2.DateCreated") == "2019-07-14"
    for key, field in IPTC_FIELDS.items():
        assert one(found, key) == getattr(expected, field), key
    assert tuple(found["Iptc.Application2.Keywords"]) == expected.keywords and len(expected.keywords) == 3
    assert one(found, "Iptc.Envelope.CharacterSet") == "\x1b%G"


def test_iptc_only_exiftool(tmp_path: Path) -> None:
    path, expected = mb.jpeg_iptc_only(tmp_path)
    reading = exiftool_read(path)
    assert not [
        key for key in reading if key.split(":")[0] in ("IFD0", "ExifIFD", "GPS") or key.startswith("XMP")
    ]
    assert reading["IPTC:DateCreated"] == "2019:07:14"
    assert reading["IPTC:TimeCreated"] == "15:30:00+02:00"
    assert reading["IPTC:City"] == expected.city == "München"
    assert reading["IPTC:Sub-location"] == expected.sublocation
    assert reading["IPTC:Province-State"] == expected.state
    assert reading["IPTC:Country-PrimaryLocationName"] == expected.country
    assert reading["IPTC:Country-PrimaryLocationCode"] == expected.country_code
    assert tuple(reading["IPTC:Keywords"]) == expected.keywords
    assert reading["IPTC:By-line"] == expected.creator
    assert reading["IPTC:Caption-Abstract"] == expected.caption
    assert reading["IPTC:CopyrightNotice"] == expected.copyright


# ---------------------------------------------------------------------------------------------
# 4. XMP dates and places only


def test_xmp_dates_only_exiv2(tmp_path: Path) -> None:
    path, expected = mb.jpeg_xmp_dates_only(tmp_path)
    found = exiv2_read(path)
    assert keys_of(found, "Exif.") == [] and keys_of(found, "Iptc.") == []
    assert one(found, "Xmp.photoshop.DateCreated") == "2018-03-04T09:10:11+01:00"
    assert datetime.fromisoformat(one(found, "Xmp.photoshop.DateCreated")) == expected.taken
    assert one(found, "Xmp.photoshop.City") == expected.city
    assert one(found, "Xmp.photoshop.Country") == expected.country
    assert one(found, "Xmp.iptc.Location") == expected.location


def test_xmp_dates_only_exiftool(tmp_path: Path) -> None:
    path, expected = mb.jpeg_xmp_dates_only(tmp_path)
    reading = exiftool_read(path)
    assert not [key for key in reading if key.split(":")[0] in ("IFD0", "ExifIFD", "GPS", "IPTC")]
    assert reading["XMP-photoshop:DateCreated"] == "2018:03:04 09:10:11+01:00"
    assert reading["XMP-photoshop:City"] == expected.city
    assert reading["XMP-photoshop:Country"] == expected.country
    assert reading["XMP-iptcCore:Location"] == expected.location


# ---------------------------------------------------------------------------------------------
# 5. Sources that disagree


def test_conflicting_gps_exiv2(tmp_path: Path) -> None:
    path, conflict = mb.jpeg_conflicting_gps(tmp_path)
    found = exiv2_read(path)
    assert_exiv2_camera(found, conflict.exif)
    other = (
        xmp_degrees(one(found, "Xmp.exif.GPSLatitude")),
        xmp_degrees(one(found, "Xmp.exif.GPSLongitude")),
    )
    assert other == pytest.approx((conflict.other.lat, conflict.other.lon), abs=PRECISE)
    assert conflict.other_source == "XMP"
    assert conflict.exif.lat is not None and conflict.exif.lon is not None
    assert 40 < distance_km((conflict.exif.lat, conflict.exif.lon), other) < 60


def test_conflicting_gps_exiftool(tmp_path: Path) -> None:
    path, conflict = mb.jpeg_conflicting_gps(tmp_path)
    reading = exiftool_read(path)
    assert_exiftool_camera(reading, conflict.exif)
    other = (reading["XMP-exif:GPSLatitude"], reading["XMP-exif:GPSLongitude"])
    assert other == pytest.approx((conflict.other.lat, conflict.other.lon), abs=PRECISE)


def test_conflicting_time_exiv2(tmp_path: Path) -> None:
    path, conflict = mb.jpeg_conflicting_time(tmp_path)
    found = exiv2_read(path)
    assert_exiv2_camera(found, conflict.exif)
    iptc = datetime.fromisoformat(
        one(found, "Iptc.Application2.DateCreated") + "T" + one(found, "Iptc.Application2.TimeCreated")
    )
    assert conflict.other_source == "IPTC" and iptc == conflict.other.taken
    assert conflict.exif.taken is not None
    gap = conflict.exif.taken - iptc.replace(tzinfo=None)
    assert timedelta(days=364) < gap < timedelta(days=367)


def test_conflicting_time_exiftool(tmp_path: Path) -> None:
    path, conflict = mb.jpeg_conflicting_time(tmp_path)
    reading = exiftool_read(path)
    assert_exiftool_camera(reading, conflict.exif)
    assert reading["IPTC:DateCreated"] == "2020:06:12"
    assert reading["IPTC:TimeCreated"] == "18:45:00+02:00"


# ---------------------------------------------------------------------------------------------
# 6. Real raw skeletons with GPS


@pytest.mark.parametrize("name", mb.RAW_NAMES)
def test_raw_with_gps_exiv2(tmp_path: Path, name: str) -> None:
    source = mb.raw_sample_or_skip(name)
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    path, expected = mb.raw_with_gps(tmp_path, name, trim_cr3_preview=True)
    assert path.parent == tmp_path and path.name == name
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before, "the shared sample was modified"
    found = exiv2_read(path)
    assert_exiv2_camera(found, expected)


@pytest.mark.parametrize("name", mb.RAW_NAMES)
def test_raw_with_gps_exiftool(tmp_path: Path, name: str) -> None:
    path, expected = mb.raw_with_gps(tmp_path, name)
    reading = exiftool_read(path)
    assert "ExifTool:Error" not in reading
    assert_exiftool_camera(reading, expected)


def test_cr3_skeleton_untrimmed_is_rejected_by_exiv2(tmp_path: Path) -> None:
    """Why ``trim_cr3_preview`` exists: exiv2 refuses the skeleton's truncated preview box."""
    path, _ = mb.raw_with_gps(tmp_path, "CanonRaw.cr3")
    with mb.quiet_exiv2(), pytest.raises(exiv2.Exiv2Error):
        exiv2.ImageFactory.open(str(path)).readMetadata()


# ---------------------------------------------------------------------------------------------
# 7. 16-bit and float images


def test_grey16_png(tmp_path: Path) -> None:
    path = mb.grey16_png(tmp_path)
    header = path.read_bytes()[:33]
    width, height, depth, colour = struct.unpack(">IIBB", header[16:26])
    assert (width, height, depth, colour) == (4000, 4000, 16, 0)  # 16-bit greyscale IHDR
    with Image.open(path) as image:
        assert image.mode == "I;16" and image.size == (4000, 4000)
        pixels = np.asarray(image)
    assert pixels.min() == 0 and pixels.max() == 65535
    assert len(np.unique(pixels[::37, ::37])) > 10_000  # a real 16-bit spread, not 8 bits scaled
    with mb.quiet_exiv2():
        read = exiv2.ImageFactory.open(str(path))
        read.readMetadata()
    assert (read.mimeType(), read.pixelWidth(), read.pixelHeight()) == ("image/png", 4000, 4000)


def test_grey16_tiff(tmp_path: Path) -> None:
    path = mb.grey16_tiff(tmp_path)
    assert path.read_bytes()[:4] == b"MM\x00*"
    with Image.open(path) as image:
        assert image.mode == "I;16B" and image.size == (4000, 4000)
        pixels = np.asarray(image)
    assert pixels.min() == 0 and pixels.max() == 65535
    found = exiv2_read(path)
    assert one(found, "Exif.Image.BitsPerSample") == "16"
    assert one(found, "Exif.Image.PhotometricInterpretation") == "1"
    assert one(found, "Exif.Image.ImageWidth") == "4000"


def test_float_tiff(tmp_path: Path) -> None:
    path = mb.float_tiff(tmp_path)
    with Image.open(path) as image:
        assert image.mode == "F" and image.size == (1024, 1024)
        pixels = np.asarray(image)
    assert pixels.dtype == np.float32 and pixels.min() < 0 < 1 < pixels.max()
    found = exiv2_read(path)
    assert one(found, "Exif.Image.BitsPerSample") == "32"
    assert one(found, "Exif.Image.SampleFormat") == "3"  # IEEE float


def test_deep_images_exiftool(tmp_path: Path) -> None:
    png, tiff, floats = (
        mb.grey16_png(tmp_path, side=64),
        mb.grey16_tiff(tmp_path, side=64),
        mb.float_tiff(tmp_path, side=64),
    )
    reading = exiftool_read(png)
    assert (reading["PNG:BitDepth"], reading["PNG:ColorType"]) == (16, 0)
    reading = exiftool_read(tiff)
    assert (reading["IFD0:BitsPerSample"], reading["File:ExifByteOrder"]) == (16, "MM")
    reading = exiftool_read(floats)
    assert (reading["IFD0:BitsPerSample"], reading["IFD0:SampleFormat"]) == (32, 3)


# ---------------------------------------------------------------------------------------------
# 8. HEIF with a codec libheif here cannot decode


def _heif_brands_and_primary_type(data: bytes) -> tuple[bytes, bytes, bytes]:
    """(major brand, compatible brands, item type of the primary item) read straight from the
    boxes."""
    ftyp_size = struct.unpack(">I", data[:4])[0]
    major, compatible = data[8:12], data[16:ftyp_size]
    meta = data.index(b"meta") - 4
    primary = struct.unpack(">H", data[data.index(b"pitm") + 8 : data.index(b"pitm") + 10])[0]
    offset = data.index(b"infe", meta) - 4
    while data[offset + 4 : offset + 8] == b"infe":
        size = struct.unpack(">I", data[offset : offset + 4])[0]
        if struct.unpack(">H", data[offset + 12 : offset + 14])[0] == primary:
            return major, compatible, data[offset + 16 : offset + 20]
        offset += size
    raise AssertionError("no infe for the primary item")


def test_heif_uncommon_codec_undecodable_but_readable(tmp_path: Path) -> None:
    path, expected = mb.heif_uncommon_codec(tmp_path)
    major, compatible, item_type = _heif_brands_and_primary_type(path.read_bytes())
    assert item_type == mb.HEIF_UNDECODABLE_ITEM_TYPE.encode() == b"vvc1"
    assert major == b"mif1" and mb.HEIF_UNDECODABLE_BRAND.encode() in {
        compatible[i : i + 4] for i in range(0, 12, 4)
    }
    assert pillow_decode_error(path) is not None
    found = exiv2_read(path)
    assert one(found, "mime") == "image/heif"
    assert_exiv2_camera(found, expected)
    assert expected.taken is not None and expected.taken.utcoffset() == timedelta(hours=9)


def test_heif_uncommon_codec_exiftool(tmp_path: Path) -> None:
    path, expected = mb.heif_uncommon_codec(tmp_path)
    reading = exiftool_read(path)
    assert reading["File:FileType"] == "HEIF"
    assert_exiftool_camera(reading, expected)


# ---------------------------------------------------------------------------------------------
# 9. TIFF with WebP compression


def test_tiff_webp_undecodable_but_readable(tmp_path: Path) -> None:
    path, expected = mb.tiff_webp_compression(tmp_path)
    with Image.open(path) as image:
        assert isinstance(image, TiffImagePlugin.TiffImageFile)
        assert image.tag_v2[259] == mb.TIFF_COMPRESSION_WEBP == 50001
        assert image.size == (640, 480)
        (offset,), (length,) = image.tag_v2[273], image.tag_v2[279]
        with pytest.raises(OSError):
            image.load()
    # The strip is a real WebP of the whole picture, as libtiff's WebP codec writes it.
    with Image.open(BytesIO(path.read_bytes()[offset : offset + length])) as strip:
        assert strip.format == "WEBP" and strip.size == (640, 480)
        strip.load()
    found = exiv2_read(path)
    assert one(found, "mime") == "image/tiff"
    assert one(found, "Exif.Image.Compression") == "50001"
    assert_exiv2_camera(found, expected)


def test_tiff_webp_exiftool(tmp_path: Path) -> None:
    path, expected = mb.tiff_webp_compression(tmp_path)
    reading = exiftool_read(path)
    assert reading["IFD0:Compression"] == 50001
    assert_exiftool_camera(reading, expected)


# ---------------------------------------------------------------------------------------------
# 10. JPEG XL with EXIF


def test_jxl_with_exif(tmp_path: Path) -> None:
    path, expected = mb.jxl_with_exif(tmp_path)
    assert path.read_bytes()[4:8] == b"JXL "  # the ISO BMFF container, which holds the Exif box
    assert pillow_decode_error(path) is None
    with Image.open(path) as image:
        assert (image.format, image.size) == ("JXL", (640, 480))
    found = exiv2_read(path)
    assert one(found, "mime") == "image/jxl"
    assert_exiv2_camera(found, expected)


def test_jxl_with_exif_exiftool(tmp_path: Path) -> None:
    path, expected = mb.jxl_with_exif(tmp_path)
    reading = exiftool_read(path)
    assert reading["File:FileType"] == "JXL"
    assert_exiftool_camera(reading, expected)


# ---------------------------------------------------------------------------------------------
# 11. Names and bytes that lie


def test_not_an_image_named_jpg(tmp_path: Path) -> None:
    path = mb.not_an_image_named_jpg(tmp_path)
    assert path.name == "notes.jpg" and path.read_text(encoding="utf-8").startswith("Shopping list\n")
    with pytest.raises(UnidentifiedImageError):
        Image.open(path)
    with mb.quiet_exiv2(), pytest.raises(exiv2.Exiv2Error):
        exiv2.ImageFactory.open(str(path))


def test_jpeg_without_extension(tmp_path: Path) -> None:
    path, expected = mb.jpeg_without_extension(tmp_path)
    assert path.name == "IMG_0001" and path.suffix == ""
    with Image.open(path) as image:
        assert image.format == "JPEG"
    found = exiv2_read(path)
    assert one(found, "mime") == "image/jpeg"
    assert_exiv2_camera(found, expected)


def test_misnamed_files_exiftool(tmp_path: Path) -> None:
    assert exiftool_read(mb.not_an_image_named_jpg(tmp_path))["File:FileType"] == "TXT"
    path, expected = mb.jpeg_without_extension(tmp_path)
    reading = exiftool_read(path)
    assert reading["File:FileType"] == "JPEG"
    assert_exiftool_camera(reading, expected)


def test_unsupported_image_like(tmp_path: Path) -> None:
    files = mb.unsupported_image_like(tmp_path)
    assert set(files) == {"tga", "dds", "eps", "crw", "mrw", "x3f"}
    for kind in ("tga", "dds"):
        with Image.open(files[kind]) as image:
            assert image.format == kind.upper() and image.size == (64, 48)
            image.load()
    eps = files["eps"].read_text(encoding="ascii")
    assert eps.startswith("%!PS-Adobe-3.0 EPSF-3.0\n") and "%%BoundingBox: 0 0 64 48\n" in eps
    with Image.open(files["eps"]) as image:  # the header only: drawing it needs Ghostscript
        assert image.format == "EPS" and image.size == (64, 48)
    for kind, magic in mb.OLD_RAW_MAGIC.items():
        data = files[kind].read_bytes()
        assert files[kind].suffix == f".{kind}" and data.startswith(magic) and len(data) > len(magic) + 1000
        assert pillow_decode_error(files[kind]) is not None


def test_unsupported_image_like_exiftool(tmp_path: Path) -> None:
    files = mb.unsupported_image_like(tmp_path)
    # A headerless TGA is not told apart by exiftool (it guesses CUR) and DDS is unknown to it.
    for kind in ("eps", "crw", "mrw", "x3f"):
        assert exiftool_read(files[kind])["File:FileType"] == kind.upper()


def test_builders_leave_the_exiv2_log_level_alone(tmp_path: Path) -> None:
    """The level is global to the process; shadowlens's own setting must survive the builders."""
    before = exiv2.LogMsg.level()
    mb.jpeg_iptc_only(tmp_path)
    exiv2_read(mb.jpeg_xmp_dates_only(tmp_path)[0])
    assert exiv2.LogMsg.level() == before
