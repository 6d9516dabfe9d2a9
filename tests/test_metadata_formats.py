"""Everything a file gives away, in every format: GPS in XMP and vendor namespaces, IPTC-only
dates and places, raw files, 16-bit scans, codecs this build lacks.

Inputs are built at test time (tests/metadata_builders.py) with exiv2, Pillow and, where it is
installed, exiftool; the raw skeletons come from ../shared/samples/raw. Values are compared with
what exiftool reads from the same file where exiftool is installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from shadowlens.daemon.analysis.decode import DecodedPhoto, open_photo
from shadowlens.daemon.analysis.detector import PhotoContext
from shadowlens.daemon.analysis.findings import Finding
from shadowlens.daemon.analysis.hooks import ExposureContext, StoredFinding
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.metadata import MetadataDetector

from tests import metadata_builders as build

WANT_SIDE = 1024


def read(path: Path) -> tuple[DecodedPhoto, dict[str, list[Finding]]]:
    decoded = open_photo(path, want_side=WANT_SIDE, max_megapixels=250)
    found = MetadataDetector(MetadataDetector.Settings()).detect(PhotoContext(path=path, decoded=decoded))
    by_kind: dict[str, list[Finding]] = {}
    for finding in found:
        by_kind.setdefault(finding.kind, []).append(finding)
    return decoded, by_kind


def one(found: dict[str, list[Finding]], kind: str) -> dict[str, Any]:
    assert len(found.get(kind, [])) == 1, f"expected one {kind}: {found}"
    finding = found[kind][0]
    return {"label": finding.label, **finding.attrs()}


def exiftool(path: Path) -> dict[str, Any]:
    """exiftool's numeric reading, or a skip when it is not installed."""
    binary = shutil.which("exiftool")
    if binary is None:
        pytest.skip(build.EXIFTOOL_MISSING)
    out = subprocess.run(
        [binary, "-n", "-json", "-G1", str(path)], capture_output=True, text=True, check=True
    )
    reading: dict[str, Any] = json.loads(out.stdout)[0]
    return reading


def assert_taken(found: dict[str, list[Finding]], expected: datetime) -> None:
    time = one(found, "time")
    assert datetime.fromisoformat(time["label"]).replace(tzinfo=None) == expected.replace(tzinfo=None)
    if expected.tzinfo is not None:
        assert time["offset"] == expected.strftime("%z")


# -- GPS outside EXIF --------------------------------------------------------------------------


def test_gps_only_in_xmp_is_read_and_scores(tmp_path: Path) -> None:
    path, expected = build.jpeg_gps_only_in_xmp(tmp_path)
    _, found = read(path)
    gps = one(found, "gps")
    assert gps["lat"] == pytest.approx(expected.lat, abs=1e-6)
    assert gps["lon"] == pytest.approx(expected.lon, abs=1e-6)
    assert gps["altitude_m"] == pytest.approx(expected.altitude, abs=0.01)
    assert gps["source"] == "XMP exif"
    reading = exiftool(path)
    assert gps["lat"] == pytest.approx(reading["XMP-exif:GPSLatitude"], abs=1e-6)
    assert gps["lon"] == pytest.approx(reading["XMP-exif:GPSLongitude"], abs=1e-6)


@pytest.mark.parametrize("builder", [build.jpeg_dji_xmp, build.jpeg_dji_xmp_misspelt])
def test_drone_gps_in_the_vendor_namespace(tmp_path: Path, builder: Any) -> None:
    path, expected = builder(tmp_path)
    _, found = read(path)
    gps = one(found, "gps")
    assert (gps["lat"], gps["lon"]) == (
        pytest.approx(expected.lat, abs=1e-6),
        pytest.approx(expected.lon, abs=1e-6),
    )
    assert gps["altitude_m"] == pytest.approx(expected.altitude, abs=0.01)
    assert gps["source"] == "XMP drone-dji"
    assert one(found, "device")["make"] == "DJI"


def test_blocks_that_disagree_are_reported_with_their_sources(tmp_path: Path) -> None:
    path, conflict = build.jpeg_conflicting_gps(tmp_path)
    _, found = read(path)
    gps = one(found, "gps")
    assert gps["source"] == "EXIF" and gps["lat"] == pytest.approx(conflict.exif.lat, abs=1e-6)
    [issue] = [f for f in found["metadata_issue"] if f.label == "conflicting_gps"]
    reason = issue.attrs()["reason"]
    assert "EXIF says" in reason and "XMP exif says" in reason and "km apart" in reason

    path, _ = build.jpeg_conflicting_time(tmp_path / "time")
    _, found = read(path)
    assert one(found, "time")["source"] == "DateTimeOriginal"
    [issue] = [f for f in found["metadata_issue"] if f.label == "conflicting_time"]
    assert "IPTC DateCreated says 2020-06-12" in issue.attrs()["reason"]


# -- IPTC and XMP written by photo-agency tools -----------------------------------------------


def test_iptc_only_dates_places_keywords_and_people(tmp_path: Path) -> None:
    path, expected = build.jpeg_iptc_only(tmp_path)
    _, found = read(path)
    assert expected.taken is not None
    assert_taken(found, expected.taken)
    assert one(found, "time")["source"] == "IPTC DateCreated"
    place = one(found, "written_place")
    assert (place["city"], place["sublocation"], place["region"], place["country"]) == (
        expected.city,
        expected.sublocation,
        expected.state,
        expected.country,
    )
    assert place["source"] == "IPTC" and place["country_code"] == expected.country_code
    assert tuple(one(found, "keywords")["keywords"]) == expected.keywords
    assert one(found, "caption")["label"] == expected.caption
    names = {(f.attrs()["field"], f.label) for f in found["name"]}
    assert ("IPTC By-line", expected.creator) in names
    assert ("IPTC Copyright Notice", expected.copyright) in names
    assert "gps" not in found


def test_xmp_only_date_and_city(tmp_path: Path) -> None:
    path, expected = build.jpeg_xmp_dates_only(tmp_path)
    _, found = read(path)
    assert expected.taken is not None
    assert_taken(found, expected.taken)
    assert one(found, "time")["source"] == "XMP DateCreated"
    place = one(found, "written_place")
    assert place["city"] == expected.city and place["country"] == expected.country
    assert place["source"] == "XMP"


def test_a_written_place_scores_only_without_gps(tmp_path: Path) -> None:
    path, expected = build.jpeg_iptc_only(tmp_path)
    _, found = read(path)
    stored = [
        StoredFinding(kind=f.kind, label=f.label, attrs=f.attrs(), detector="metadata")
        for f in found["written_place"]
    ]
    reasons = MetadataDetector.exposure(stored, ExposureContext(), Config().alerts.points)
    assert [r.code for r in reasons] == ["written_place"]
    assert expected.city is not None and expected.city in reasons[0].text


# -- raw files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", build.RAW_NAMES)
def test_raw_skeletons_give_their_metadata_like_exiftool(name: str) -> None:
    sample = build.raw_sample_or_skip(name)
    expected = build.raw_expected(name)
    decoded, found = read(sample)
    device = one(found, "device")
    reading = json.loads((sample.parent / "exiftool.json").read_text())
    mine = next(entry for entry in reading if entry["SourceFile"] == name)
    assert device["make"] == mine["IFD0:Make"]
    assert device["model"] == mine["IFD0:Model"].strip()
    assert expected.taken is not None
    assert_taken(found, expected.taken)
    assert device["body_serial"], "the maker notes' serial number"
    # A skeleton has no image data: the photo is in error, with the reason (only a preview, if
    # the file has one, was analysed).
    assert decoded.error and "\n" not in decoded.error
    assert decoded.image is None or "preview" in decoded.error


@pytest.mark.parametrize("name", build.RAW_NAMES)
def test_raw_copies_with_gps_match_exiftool(tmp_path: Path, name: str) -> None:
    path, expected = build.raw_with_gps(tmp_path, name)
    _, found = read(path)
    reading = exiftool(path)
    gps = one(found, "gps")
    assert gps["lat"] == pytest.approx(reading["Composite:GPSLatitude"], abs=1e-6)
    assert gps["lon"] == pytest.approx(reading["Composite:GPSLongitude"], abs=1e-6)
    assert gps["lat"] == pytest.approx(expected.lat, abs=1e-6)
    device = one(found, "device")
    assert device["make"] == reading["IFD0:Make"] and device["model"] == str(reading["IFD0:Model"]).strip()
    taken = reading.get("ExifIFD:DateTimeOriginal")
    assert one(found, "time")["label"][:19] == datetime.strptime(taken, "%Y:%m:%d %H:%M:%S").isoformat()


# -- pixels: 16-bit, codecs, JPEG XL -------------------------------------------------------------


@pytest.mark.parametrize("builder", [build.grey16_png, build.grey16_tiff])
def test_sixteen_bit_greyscale_scans_decode(tmp_path: Path, builder: Any) -> None:
    path = builder(tmp_path)
    decoded, _ = read(path)
    assert decoded.error is None and decoded.image is not None
    assert decoded.image.mode == "RGB" and max(decoded.image.size) == WANT_SIDE
    assert (decoded.width, decoded.height) == (4000, 4000)
    low, high = decoded.image.convert("L").getextrema()
    assert low < 20 and high > 235, "the 16-bit range is scaled to 8 bits, not clipped"


def test_float_greyscale_decodes(tmp_path: Path) -> None:
    decoded, _ = read(build.float_tiff(tmp_path))
    assert decoded.error is None and decoded.image is not None
    low, high = decoded.image.convert("L").getextrema()
    assert high - low > 200


def test_a_heif_in_a_codec_this_build_lacks_keeps_its_metadata(tmp_path: Path) -> None:
    path, expected = build.heif_uncommon_codec(tmp_path)
    decoded, found = read(path)
    assert decoded.error is None and decoded.image is None
    assert decoded.missing_codec is not None and "VVC" in decoded.missing_codec
    gps = one(found, "gps")
    assert gps["lat"] == pytest.approx(expected.lat, abs=1e-6)
    assert one(found, "device")["model"] == expected.model


def test_a_tiff_in_webp_keeps_its_metadata(tmp_path: Path) -> None:
    path, expected = build.tiff_webp_compression(tmp_path)
    decoded, found = read(path)
    assert decoded.error is None and decoded.image is None
    assert decoded.missing_codec is not None and "WebP" in decoded.missing_codec
    assert one(found, "device")["make"] == expected.make


def test_jpeg_xl_decodes_with_its_metadata(tmp_path: Path) -> None:
    path, expected = build.jxl_with_exif(tmp_path)
    decoded, found = read(path)
    assert decoded.error is None and decoded.image is not None
    assert decoded.format == "JXL"
    assert one(found, "gps")["lat"] == pytest.approx(expected.lat, abs=1e-6)
    assert one(found, "device")["model"] == expected.model


def test_a_photo_without_extension_is_read_by_its_bytes(tmp_path: Path) -> None:
    path, expected = build.jpeg_without_extension(tmp_path)
    decoded, found = read(path)
    assert decoded.format == "JPEG" and decoded.image is not None
    assert one(found, "device")["model"] == expected.model


# -- values ------------------------------------------------------------------------------------


def test_a_bare_date_is_not_read_as_midnight() -> None:
    from shadowlens.daemon.analysis.xmp_iptc import iptc_datetime, iso_datetime
    from shadowlens.daemon.profile.facts import local_time

    assert iptc_datetime("2012-12-06", "00:00:00+00:00")[2] is False  # an agency's "day only"
    moment, offset, has_time = iptc_datetime("2019-07-14", "15:30:00+02:00")
    assert has_time and moment == datetime(2019, 7, 14, 15, 30) and offset is not None
    assert iso_datetime("2018-03-04")[2] is False
    # The profile reads no hour into a bare date (it would be a night at home).
    assert local_time("2012-12-06") is None
    assert local_time("2012-12-06T10:00:00+01:00") == datetime(2012, 12, 6, 10, 0)


@pytest.mark.parametrize(
    ("value", "axis", "expected"),
    [
        ("38,42.46506N", "lat", 38.707751),
        ("9,8.19552W", "lon", -9.136592),
        ("33,51,24.36S", "lat", -33.856767),
        ("+46.123456", "lat", 46.123456),
        ("-7.5", "lon", -7.5),
    ],
)
def test_xmp_coordinates(value: str, axis: str, expected: float) -> None:
    from shadowlens.daemon.analysis.xmp_iptc import xmp_coordinate

    assert xmp_coordinate(value, axis) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("value", "axis", "reason"),
    [("91,0.0N", "lat", "out of range"), ("12,61.0E", "lon", "out of range"), ("north", "lat", "unreadable")],
)
def test_broken_xmp_coordinates_say_why(value: str, axis: str, reason: str) -> None:
    from shadowlens.daemon.analysis.exif import InvalidValue
    from shadowlens.daemon.analysis.xmp_iptc import xmp_coordinate

    with pytest.raises(InvalidValue, match=reason):
        xmp_coordinate(value, axis)
