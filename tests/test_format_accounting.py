"""Every image-like file is accounted for by a real scan: indexed, an error with its reason, or
skipped as a format nothing here reads, and never silently absent. Rescans count each once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests import metadata_builders as build
from tests.conftest import Env


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("formats") / "library"
    build.jpeg_gps_only_in_xmp(root)
    build.jpeg_iptc_only(root / "agency")
    build.heif_uncommon_codec(root / "phone")
    build.tiff_webp_compression(root / "scans")
    build.grey16_png(root / "scans", side=1200)
    build.jxl_with_exif(root / "export")
    build.jpeg_without_extension(root / "transfer")
    build.not_an_image_named_jpg(root / "transfer")
    build.unsupported_image_like(root / "odd")
    if (build.RAW_SAMPLES / "Nikon.nef").is_file():
        build.raw_with_gps(root / "raw", "Nikon.nef")
    (root / "odd" / "drawing.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>', encoding="utf-8")
    (root / "odd" / "render.exr").write_bytes(b"\x76\x2f\x31\x01" + bytes(64))
    (root / "odd" / "notes.txt").write_text("not an image, by name or by content", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def scanned(
    library: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Env, dict[str, Any], dict[str, Any]]:
    env = Env(tmp_path_factory.mktemp("home"))
    summary = env.json("scan", "--workers", "1", str(library))
    photos = {Path(p["path"]).relative_to(library).as_posix(): p for p in env.json("photos")}
    return env, summary, photos


def test_each_image_like_file_is_indexed_an_error_or_skipped(
    library: Path, scanned: tuple[Env, dict[str, Any], dict[str, Any]]
) -> None:
    _, summary, photos = scanned
    on_disk = {p.relative_to(library).as_posix() for p in library.rglob("*") if p.is_file()}
    assert set(photos) == on_disk - {"odd/notes.txt"}, "every image-like file is listed, nothing else"
    for path, item in photos.items():
        assert item["status"] in ("indexed", "error", "skipped"), path
        if item["status"] != "indexed":
            assert item["error"] and "\n" not in item["error"] and len(item["error"]) < 300, path
    statuses = [p["status"] for p in photos.values()]
    assert summary["found"] == len(photos)
    assert summary["skipped"] == statuses.count("skipped")
    assert summary["errors"] == statuses.count("error")
    assert summary["indexed"] == statuses.count("indexed")


def test_formats_nothing_reads_are_skipped_with_their_name(
    scanned: tuple[Env, dict[str, Any], dict[str, Any]],
) -> None:
    env, _, photos = scanned
    skipped = {path: p["error"] for path, p in photos.items() if p["status"] == "skipped"}
    assert skipped["odd/drawing.svg"] == "unsupported format: SVG vector drawing"
    assert skipped["odd/render.exr"] == "unsupported format: OpenEXR"
    [x3f] = [reason for path, reason in skipped.items() if path.endswith(".x3f")]
    assert x3f.startswith("unsupported format: Sigma X3F")
    listed = env.json("photos", "--status", "skipped")
    assert sorted(Path(p["path"]).name for p in listed) == sorted(Path(p).name for p in skipped)


def test_a_codec_this_build_lacks_is_indexed_with_the_reason(
    scanned: tuple[Env, dict[str, Any], dict[str, Any]],
) -> None:
    _, _, photos = scanned
    heif = next(p for path, p in photos.items() if path.startswith("phone/"))
    assert heif["status"] == "indexed" and heif["gps"] is not None
    errors = " ".join(e["error"] for e in heif["detector_errors"])
    assert "no VVC (H.266) decoder for HEIF" in errors
    tiff = next(
        p for path, p in photos.items() if path.startswith("scans/") and path.endswith((".tif", ".tiff"))
    )
    assert tiff["status"] == "indexed" and tiff["device"] is not None
    assert any("WebP" in e["error"] for e in tiff["detector_errors"])


def test_pixels_and_metadata_of_the_other_formats(
    scanned: tuple[Env, dict[str, Any], dict[str, Any]],
) -> None:
    _, _, photos = scanned
    assert photos["transfer/notes.jpg"]["status"] == "error"
    assert "not a recognised image format" in photos["transfer/notes.jpg"]["error"]
    assert photos["transfer/IMG_0001"]["status"] == "indexed"
    jxl = next(p for path, p in photos.items() if path.startswith("export/"))
    assert jxl["status"] == "indexed" and jxl["gps"] is not None and not jxl["detector_errors"]
    grey = next(p for path, p in photos.items() if path.endswith(".png"))
    assert grey["status"] == "indexed" and not grey["detector_errors"]
    agency = next(p for path, p in photos.items() if path.startswith("agency/"))
    assert agency["taken_at"].startswith("2019-07-14T15:30")
    assert any(r["code"] == "written_place" for r in agency["reasons"])
    raw = [p for path, p in photos.items() if path.startswith("raw/")]
    for item in raw:  # a skeleton: metadata indexed, pixels missing with the reason
        assert item["status"] == "error" and item["gps"] is not None and item["device"] is not None


def test_a_rescan_counts_every_file_once(
    scanned: tuple[Env, dict[str, Any], dict[str, Any]], library: Path
) -> None:
    env, first, _ = scanned
    again = env.json("scan", "--workers", "1", str(library))
    assert again["indexed"] == again["new_errors"] == again["new_skipped"] == 0
    assert (again["skipped"], again["errors"]) == (first["skipped"], first["errors"])
    assert again["unchanged"] + again["errors"] + again["skipped"] == again["found"] == first["found"]
