"""Parity with exiftool on every real file of the corpus that exiftool reads: the same GPS
(within 1e-6 degrees), DateTimeOriginal, make and model, whatever the format (JPEG, MPO, HEIC,
AVIF, PNG, WebP...). exiftool is the reference a marketer's crawler matches or beats."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from shadowlens.daemon.analysis.decode import DecodeError, open_photo
from shadowlens.daemon.analysis.detector import PhotoContext
from shadowlens.daemon.detectors.metadata import MetadataDetector

from tests.conftest import corpus_or_skip, manifest_rows

TAGS = ["-G1", "-a", "-GPSLatitude", "-GPSLongitude", "-DateTimeOriginal", "-Make", "-Model"]
# Where the standard blocks keep these values. exiftool also decodes a few maker notes exiv2
# does not (a Reconyx trail camera's date): those are exiftool's lead, not compared here.
GPS = ("Composite:GPSLatitude", "Composite:GPSLongitude")
TAKEN = ("ExifIFD:DateTimeOriginal", "IFD0:DateTimeOriginal", "XMP-exif:DateTimeOriginal")


@pytest.fixture(scope="module")
def readings() -> dict[str, dict[str, Any]]:
    binary = shutil.which("exiftool")
    if binary is None:
        pytest.skip("exiftool is not installed (Debian package libimage-exiftool-perl)")
    corpus = corpus_or_skip()
    paths = [str(corpus / row["path"]) for row in manifest_rows() if (corpus / row["path"]).stat().st_size]
    out = subprocess.run(
        [binary, "-n", "-json", "-q", "-q", *TAGS, *paths],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return {
        str(Path(entry["SourceFile"]).relative_to(corpus)): entry for entry in json.loads(out.stdout or "[]")
    }


def ours(path: Path) -> dict[str, Any]:
    try:
        decoded = open_photo(path, want_side=256, max_megapixels=250)
    except DecodeError:
        return {}
    found = MetadataDetector(MetadataDetector.Settings()).detect(PhotoContext(path=path, decoded=decoded))
    return {f.kind: {"label": f.label, **f.attrs()} for f in reversed(found)}


def test_gps_time_make_and_model_match_exiftool(readings: dict[str, dict[str, Any]]) -> None:
    corpus = corpus_or_skip()
    compared = {"gps": 0, "time": 0, "device": 0}
    for relative, reading in sorted(readings.items()):
        mine = ours(corpus / relative)
        lat, lon = (reading.get(key) for key in GPS)
        if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and (lat, lon) != (0, 0):
            assert "gps" in mine, f"{relative}: exiftool reads GPS {lat}, {lon}"
            assert mine["gps"]["lat"] == pytest.approx(lat, abs=1e-6), relative
            assert mine["gps"]["lon"] == pytest.approx(lon, abs=1e-6), relative
            compared["gps"] += 1
        taken = next((reading[key] for key in TAKEN if key in reading), None)
        if isinstance(taken, str) and taken[:4].isdigit() and not taken.startswith("0000"):
            assert "time" in mine, f"{relative}: exiftool reads DateTimeOriginal {taken}"
            assert mine["time"]["label"][:19] == taken[:19].replace(":", "-", 2).replace(" ", "T"), relative
            compared["time"] += 1
        make, model = reading.get("IFD0:Make"), reading.get("IFD0:Model")
        if isinstance(make, str) and make.strip() and isinstance(model, str) and model.strip():
            assert "device" in mine, f"{relative}: exiftool reads {make} {model}"
            assert mine["device"]["make"] == make.strip(), relative
            assert mine["device"]["model"] == model.strip(), relative
            compared["device"] += 1
    print(f"compared with exiftool: {compared}")
    # The corpus holds a few dozen of each; a reader that lost a format would fall well short.
    assert compared["gps"] >= 20 and compared["time"] >= 60 and compared["device"] >= 60, compared
