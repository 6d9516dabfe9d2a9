"""The whole shared corpus through the real `shadowlens scan` process."""

from __future__ import annotations

import pytest

from tests.conftest import ScannedCorpus, manifest_rows

pytestmark = pytest.mark.corpus


def _is_broken(row: dict[str, str]) -> bool:
    return row["notes"].startswith("BROKEN")


def test_every_manifest_file_is_indexed_or_an_error_with_a_reason(scanned_corpus: ScannedCorpus) -> None:
    rows = manifest_rows()
    for row in rows:
        item = scanned_corpus.photos.get(row["path"])
        assert item is not None, f"{row['path']} was skipped silently"
        if _is_broken(row):
            assert item["status"] == "error", f"{row['path']} is broken but was {item['status']}"
            reason = item["error"]
            assert reason and "\n" not in reason and len(reason) < 400, reason
        else:
            assert item["status"] == "indexed", f"{row['path']}: {item['error']}"
            assert item["error"] is None
    assert len(scanned_corpus.photos) == len(rows)


def test_scan_summary_counts_errors_and_exits_zero(scanned_corpus: ScannedCorpus) -> None:
    rows = manifest_rows()
    summary = scanned_corpus.summary
    broken = sum(_is_broken(r) for r in rows)
    assert summary["found"] == len(rows)
    assert summary["errors"] == broken
    assert summary["indexed"] + summary["moved"] + summary["new_errors"] == len(rows)


def test_gps_matches_the_manifest_within_1e5_degrees(scanned_corpus: ScannedCorpus) -> None:
    checked = 0
    for row in manifest_rows():
        item = scanned_corpus.photos[row["path"]]
        if row["has_gps"] != "true":
            assert item["gps"] is None, f"{row['path']} has unexpected GPS {item['gps']}"
            continue
        if float(row["lat"]) == 0 and float(row["lon"]) == 0:
            # The issue asks for 0/0 to be rejected as a device placeholder, with the reason.
            assert item["gps"] is None
            issues = [
                f for f in item["findings"] if f["kind"] == "metadata_issue" and f["label"] == "invalid_gps"
            ]
            assert issues and "0/0" in issues[0]["attrs"]["reason"]
            continue
        assert item["gps"] is not None, f"{row['path']} lost its GPS"
        assert abs(item["gps"]["lat"] - float(row["lat"])) <= 1e-5, row["path"]
        assert abs(item["gps"]["lon"] - float(row["lon"])) <= 1e-5, row["path"]
        checked += 1
    assert checked >= 15


def test_malformed_gps_is_rejected_with_a_reason(scanned_corpus: ScannedCorpus) -> None:
    for path in ("pillow/exif_gps.jpg", "heic/pillow-heif/200MP.heic"):
        item = scanned_corpus.photos[path]
        assert item["gps"] is None
        (issue,) = [f for f in item["findings"] if f["label"] == "invalid_gps"]
        assert issue["attrs"]["reason"]


def test_phone_heics_have_device_gps_time_and_place(scanned_corpus: ScannedCorpus) -> None:
    phones = [
        r for r in manifest_rows() if r["format"] == "HEIF" and r["has_gps"] == "true" and r["camera_make"]
    ]
    phones = [r for r in phones if float(r["lat"]) != 0]
    assert len(phones) >= 4
    for row in phones:
        item = scanned_corpus.photos[row["path"]]
        assert item["device"] is not None and item["device"]["make"] == row["camera_make"], row["path"]
        assert item["gps"] is not None
        assert item["place"] is not None and len(item["place"]["country_code"]) == 2


NUL_INSIDE = {"exif-samples/cameras/WWL_(Polaroid)_ION230.jpg"}


def test_devices_and_times_match_the_manifest(scanned_corpus: ScannedCorpus) -> None:
    for row in manifest_rows():
        item = scanned_corpus.photos[row["path"]]
        if row["camera_make"] and item["status"] == "indexed":
            assert item["device"] is not None, row["path"]
            assert item["device"]["make"] == row["camera_make"], row["path"]
            # The manifest's values are Pillow's reading, which keeps bytes stored after an ASCII
            # value's NUL terminator ("ION230\x00F" is "ION230F"); exiftool and exiv2 end the
            # value at the NUL, as the EXIF standard says.
            assert row["camera_model"].startswith(item["device"]["model"]), row["path"]
            assert item["device"]["model"] == row["camera_model"] or row["path"] in NUL_INSIDE, row["path"]
        taken = row["datetime_original"]
        if taken and not taken.startswith("0000") and item["status"] == "indexed":
            assert item["taken_at"] is not None, row["path"]
            assert item["taken_at"][:19] == taken.replace(":", "-", 2).replace(" ", "T"), row["path"]


def test_places_are_reverse_geocoded(scanned_corpus: ScannedCorpus) -> None:
    tuscany = scanned_corpus.photos["exif-samples/gps/DSCN0010.jpg"]
    assert tuscany["place"]["country_code"] == "IT"
    assert tuscany["place"]["admin"] == "Tuscany"
    helsinki = scanned_corpus.photos["exif-samples/mobile/HMD_Nokia_8.3_5G.jpg"]
    assert helsinki["place"]["country_code"] == "FI"
    (place,) = [f for f in tuscany["findings"] if f["kind"] == "place"]
    assert 0 <= place["attrs"]["distance_km"] < 50


def test_sizes_are_upright(scanned_corpus: ScannedCorpus) -> None:
    for row in manifest_rows():
        if not row["path"].startswith("exif-samples/orientation/"):
            continue
        item = scanned_corpus.photos[row["path"]]
        stored = (int(row["width"]), int(row["height"]))
        expected = stored[::-1] if row["notes"].split()[-1] in "5678" else stored
        assert (item["width"], item["height"]) == expected, row["path"]


def test_type_comes_from_magic_bytes_not_the_extension(scanned_corpus: ScannedCorpus) -> None:
    item = scanned_corpus.photos["heic/exif-py/heic_hdlr_box.jpg"]
    assert item["status"] == "indexed" and item["format"] == "HEIF"


def test_the_decompression_bomb_is_refused_with_the_limit_named(scanned_corpus: ScannedCorpus) -> None:
    item = scanned_corpus.photos["pillow/decompression_bomb.gif"]
    assert item["status"] == "error"
    assert "decode.max_megapixels" in item["error"] and "65535x66601" in item["error"]


def test_a_200_megapixel_phone_photo_is_indexed(scanned_corpus: ScannedCorpus) -> None:
    item = scanned_corpus.photos["heic/pillow-heif/200MP.heic"]
    assert item["status"] == "indexed" and (item["width"], item["height"]) == (12240, 16320)


def test_truncated_photos_still_report_their_metadata(scanned_corpus: ScannedCorpus) -> None:
    item = scanned_corpus.photos["pillow/ultrahdr.jpg"]
    assert item["status"] == "error" and "truncated" in item["error"]
    assert item["gps"] is not None, "a broken file's GPS still leaks; the index must show it"


def test_rescan_of_an_unchanged_tree_analyses_nothing(scanned_corpus: ScannedCorpus) -> None:
    summary = scanned_corpus.env.json("scan", str(scanned_corpus.root))
    assert summary["indexed"] == 0 and summary["moved"] == 0 and summary["new_errors"] == 0
    assert summary["found"] == len(manifest_rows())
    assert summary["errors"] == scanned_corpus.summary["errors"] > 0
    # Each file counted once: an unchanged file in error is an error, not also "unchanged".
    assert summary["unchanged"] + summary["errors"] + summary["skipped"] == summary["found"]


def test_show_gives_one_photo(scanned_corpus: ScannedCorpus) -> None:
    path = scanned_corpus.root / "heic/pillow-heif/pug.heic"
    item = scanned_corpus.env.json("show", str(path))
    assert item["path"] == str(path)
    assert item["place"]["country_code"] == "UA"
    kinds = {f["kind"] for f in item["findings"]}
    assert {"gps", "time", "device", "place"} <= kinds
    text = scanned_corpus.env.run("show", str(path)).stdout
    assert "iPhone 13 Pro" in text


def test_photos_status_filter(scanned_corpus: ScannedCorpus) -> None:
    errors = scanned_corpus.env.json("photos", "--status", "error")
    assert errors and all(p["status"] == "error" for p in errors)
    assert len(errors) == scanned_corpus.summary["errors"]
    assert scanned_corpus.env.json("photos", "--status", "pending") == []
