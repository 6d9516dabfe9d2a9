"""Metadata parsing on hand-made EXIF: every rejection says why."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational
from shadowlens.daemon.analysis import exif as tags
from shadowlens.daemon.analysis.decode import DecodeError, open_photo
from shadowlens.daemon.analysis.detector import PhotoContext
from shadowlens.daemon.analysis.findings import (
    DeviceFinding,
    GpsFinding,
    MetadataIssue,
    NameFinding,
    TimeFinding,
)
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.metadata import MetadataDetector


def _r(value: float | Fraction) -> IFDRational:
    frac = Fraction(value).limit_denominator(1_000_000)
    return IFDRational(frac.numerator, frac.denominator)


def _dms(deg: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    d = int(deg)
    m = int((deg - d) * 60)
    s = (deg - d - m / 60) * 3600
    return _r(d), _r(m), _r(round(s, 4))


def _photo_with(
    tmp_path: Path,
    ifd0: dict[int, object],
    exif_ifd: dict[int, object],
    gps: dict[int, object],
    orientation: int = 1,
) -> Path:
    exif = Image.Exif()
    for key, value in ifd0.items():
        exif[key] = value
    if orientation != 1:
        exif[0x0112] = orientation
    for key, value in exif_ifd.items():
        exif.get_ifd(tags.EXIF_IFD)[key] = value
    for key, value in gps.items():
        exif.get_ifd(tags.GPS_IFD)[key] = value
    path = tmp_path / "made.jpg"
    Image.new("RGB", (40, 20), (90, 90, 90)).save(path, exif=exif.tobytes())
    return path


def _detect(path: Path) -> list[object]:
    decoded = open_photo(path, want_side=None, max_megapixels=Config().decode.max_megapixels)
    return list(
        MetadataDetector(MetadataDetector.Settings()).detect(PhotoContext(path=path, decoded=decoded))
    )


def test_full_metadata_round_trip(tmp_path: Path) -> None:
    path = _photo_with(
        tmp_path,
        {tags.MAKE: "Google", tags.MODEL: "Pixel 8", tags.ARTIST: "Jane Doe", tags.SOFTWARE: "HDR+ 1.0"},
        {
            tags.DATETIME_ORIGINAL: "2024:06:01 21:30:00",
            tags.OFFSET_TIME_ORIGINAL: "+02:00",
            tags.BODY_SERIAL: "SN12345",
            tags.OWNER_NAME: "Jane",
        },
        {
            tags.LAT_REF: "S",
            tags.LAT: _dms(33.8688),
            tags.LON_REF: "E",
            tags.LON: _dms(151.2093),
            tags.ALT: _r(Fraction(58)),
            tags.ALT_REF: b"\x00",
            tags.SPEED_REF: "K",
            tags.SPEED: _r(3),
            tags.DIRECTION: _r(Fraction(181, 2)),
        },
    )
    found = _detect(path)
    gps = next(f for f in found if isinstance(f, GpsFinding))
    assert abs(gps.lat + 33.8688) < 1e-5 and abs(gps.lon - 151.2093) < 1e-5
    assert gps.altitude_m == 58 and gps.direction_deg == 90.5 and gps.speed_kmh == 3
    time = next(f for f in found if isinstance(f, TimeFinding))
    assert time.label == "2024-06-01T21:30:00+02:00" and time.utc == "2024-06-01T19:30:00+00:00"
    device = next(f for f in found if isinstance(f, DeviceFinding))
    assert (device.make, device.model, device.body_serial) == ("Google", "Pixel 8", "SN12345")
    names = {(f.field, f.label) for f in found if isinstance(f, NameFinding)}
    assert names == {("Artist", "Jane Doe"), ("CameraOwnerName", "Jane")}


@pytest.mark.parametrize(
    ("gps", "reason"),
    [
        ({tags.LAT: _dms(0), tags.LON: _dms(0)}, "0/0"),
        ({tags.LAT: (IFDRational(4294967295, 1), _r(0), _r(0)), tags.LON: _dms(10)}, "out of range"),
        ({tags.LAT: (IFDRational(1, 0), _r(0), _r(0)), tags.LON: _dms(10)}, "zero denominator"),
        ({tags.LAT: _dms(10)}, "only one of"),
        ({tags.LAT: (_r(10), _r(75), _r(0)), tags.LON: _dms(10)}, "minutes or seconds out of range"),
    ],
)
def test_invalid_gps_is_rejected_with_the_reason(tmp_path: Path, gps: dict[int, object], reason: str) -> None:
    found = _detect(_photo_with(tmp_path, {}, {}, gps))
    assert not [f for f in found if isinstance(f, GpsFinding)]
    (issue,) = [f for f in found if isinstance(f, MetadataIssue)]
    assert issue.label == "invalid_gps" and reason in issue.reason


def test_the_utc_offset_is_inferred_from_the_gps_clock(tmp_path: Path) -> None:
    path = _photo_with(
        tmp_path,
        {},
        {tags.DATETIME_ORIGINAL: "2023:03:04 18:05:00"},
        {
            tags.LAT: _dms(40),
            tags.LON: _dms(3),
            tags.GPS_DATE: "2023:03:04",
            tags.GPS_TIME: (_r(17), _r(4), _r(58)),
        },
    )
    time = next(f for f in _detect(path) if isinstance(f, TimeFinding))
    assert time.offset == "+0100" and time.extra["offset_source"] == "gps"


def test_unset_camera_clock_is_an_issue_not_a_time(tmp_path: Path) -> None:
    found = _detect(_photo_with(tmp_path, {}, {tags.DATETIME_ORIGINAL: "0000:00:00 00:00:00"}, {}))
    assert not [f for f in found if isinstance(f, TimeFinding)]
    assert any(isinstance(f, MetadataIssue) and f.label == "invalid_time" for f in found)


def test_orientation_gives_upright_pixels_and_size(tmp_path: Path) -> None:
    path = _photo_with(tmp_path, {}, {}, {}, orientation=6)
    decoded = open_photo(path, want_side=None, max_megapixels=10)
    assert (decoded.width, decoded.height) == (20, 40)
    assert decoded.pixels().size == (20, 40)


def test_greyscale_and_cmyk_are_decoded_to_rgb(tmp_path: Path) -> None:
    for mode in ("L", "CMYK"):
        path = tmp_path / f"{mode}.jpg"
        Image.new(mode, (30, 10)).save(path)
        assert open_photo(path, want_side=None, max_megapixels=10).pixels().mode == "RGB"


def test_reduced_decode_and_the_megapixel_guard(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (10, 200, 10)).save(path)
    small = open_photo(path, want_side=500, max_megapixels=100)
    assert max(small.pixels().size) <= 500 and (small.width, small.height) == (4000, 3000)
    refused = open_photo(path, want_side=None, max_megapixels=5)
    assert refused.image is None and refused.error and "decode.max_megapixels" in refused.error
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(DecodeError, match="empty file"):
        open_photo(tmp_path / "empty.jpg", want_side=None, max_megapixels=5)


def test_parse_offset_bounds() -> None:
    assert tags.parse_offset("+05:30") is not None
    offset = tags.parse_offset("-03:00")
    assert offset is not None and offset.utcoffset(None) == -timedelta(hours=3)
    assert tags.parse_offset("+25:00") is None and tags.parse_offset("garbage") is None
