"""``shadowlens scrub``: safe copies, checked from the outside (Pillow, exiftool, a fresh scan).

One scan and one scrub of a small library serve most checks: running the detectors costs
seconds per process, so every assertion about the copies shares those runs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from shadowlens.daemon.config import ExposurePoints
from shadowlens.daemon.scrub.pixels import grow, pixelate_faces, redact_boxes
from shadowlens.daemon.scrub.verify import leftover_metadata
from shadowlens.daemon.scrub.writer import write_temp

from tests.conftest import Env, corpus_or_skip
from tests.library_builder import Shot, write_shot

GPS_PHOTO = "exif-samples/gps/DSCN0010.jpg"
FACE_PHOTOS = ("face_recognition/obama_and_biden.jpg", "face_recognition/two_people.jpg")
HEIC_PHOTO = "heic/pillow-heif/arrow.heic"  # stored landscape with "rotate 90" (irot / EXIF 6)
CARD = Shot(
    "card.jpg",
    datetime(2024, 5, 1, 12, 0),
    lat=51.5007,
    lon=-0.1246,
    lines=["4242 4242 4242 4242", "Call +44 20 7946 0958"],
    background=GPS_PHOTO,
)
# exiftool groups that hold metadata a safe copy must not carry.
META_GROUPS = ("EXIF", "IFD0", "IFD1", "ExifIFD", "GPS", "XMP", "IPTC", "ICC", "MakerNotes", "Photoshop")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Scrubbed:
    env: Env
    library: Path
    out: Path
    proc: subprocess.CompletedProcess[str]
    reports: dict[str, dict[str, Any]]  # by source file name
    hashes_before: dict[str, str]
    indexed: dict[str, dict[str, Any]]  # `photos --json` entries of the originals, by file name


@pytest.fixture(scope="module")
def scrubbed(tmp_path_factory: pytest.TempPathFactory) -> Scrubbed:
    corpus = corpus_or_skip()
    root = tmp_path_factory.mktemp("scrub")
    library = root / "library"
    library.mkdir()
    for rel in (GPS_PHOTO, *FACE_PHOTOS):
        shutil.copy2(corpus / rel, library / Path(rel).name)
    write_shot(CARD, library)
    env = Env(root / "home")
    env.run("scan", str(library))
    indexed = {Path(p["path"]).name: p for p in env.json("photos")}
    hashes = {p.name: sha256(p) for p in library.iterdir()}
    out = root / "safe"
    proc = env.run("scrub", str(library), "--out", str(out), "--json", check=False)
    reports = {Path(r["source"]).name: r for r in json.loads(proc.stdout)}
    return Scrubbed(env, library, out, proc, reports, hashes, indexed)


@pytest.mark.corpus
def test_every_copy_passes_and_the_originals_are_untouched(scrubbed: Scrubbed) -> None:
    assert scrubbed.proc.returncode == 0, scrubbed.proc.stderr
    assert set(scrubbed.reports) == set(scrubbed.hashes_before)
    for name, report in scrubbed.reports.items():
        assert report["ok"] and report["problems"] == [], (name, report["problems"])
        assert Path(report["copy"]).parent == scrubbed.out
        assert sha256(scrubbed.library / name) == scrubbed.hashes_before[name]
        # Indexed with the same detectors: the findings and the score "before" are the index's.
        assert report["before_from"] == "index"
        assert report["exposure_before"] == scrubbed.indexed[name]["exposure"], name
    # Nothing but the copies in --out: no temp file left behind.
    assert sorted(p.name for p in scrubbed.out.iterdir()) == sorted(
        Path(r["copy"]).name for r in scrubbed.reports.values()
    )


@pytest.mark.corpus
def test_copies_carry_no_metadata(scrubbed: Scrubbed) -> None:
    copies = [Path(r["copy"]) for r in scrubbed.reports.values()]
    for copy in copies:
        with Image.open(copy) as image:
            assert image.format == "JPEG"
            assert len(image.getexif()) == 0, copy
            assert not {"exif", "xmp", "icc_profile", "comment", "photoshop"} & set(image.info), copy
        assert leftover_metadata(copy) == []
    assert scrubbed.reports["DSCN0010.jpg"]["removed"]["metadata"] is True
    if shutil.which("exiftool") is None:
        return  # Debian: apt install libimage-exiftool-perl
    proc = subprocess.run(
        ["exiftool", "-json", "-G1", "-a", *map(str, copies)], capture_output=True, text=True, check=True
    )
    for entry in json.loads(proc.stdout):
        left = [k for k in entry if k.split(":")[0] in META_GROUPS or "GPS" in k]
        assert left == [], (entry["SourceFile"], left)


@pytest.mark.corpus
def test_faces_pixelated_pii_redacted_and_scores_drop(scrubbed: Scrubbed) -> None:
    points = ExposurePoints()
    card = scrubbed.reports["card.jpg"]
    assert card["exposure_before"] == points.identity_document + points.personal_data + points.gps == 80
    assert card["exposure_after"] == 0
    assert card["removed"]["text_boxes"] == 2
    gps = scrubbed.reports["DSCN0010.jpg"]
    assert (gps["exposure_before"], gps["exposure_after"]) == (points.gps, 0)
    for rel in FACE_PHOTOS:
        report = scrubbed.reports[Path(rel).name]
        faces = [f for f in scrubbed.indexed[Path(rel).name]["findings"] if f["kind"] == "face"]
        owner = [f for f in faces if report["owner_known"] and f["person_id"] is not None]
        assert report["removed"]["faces"] >= len(faces) - len(owner) >= 1
        assert report["exposure_after"] == 0
    # A fresh analysis of the copies, by the scan, agrees: no face, no personal data, no GPS.
    fresh = Env(scrubbed.env.root.parent / "fresh")
    fresh.run("scan", str(scrubbed.out))
    for item in fresh.json("photos"):
        kinds = {f["kind"] for f in item["findings"]}
        assert not kinds & {"face", "pii", "gps", "time", "device", "name"}, (item["path"], kinds)
        assert item["exposure"] == 0, item["path"]


@pytest.fixture(scope="module")
def weak(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    """A HEIC and a photo of faces, scrubbed with a deliberately weak pixelation (2 px blocks)
    that the face detector sees through: the HEIC passes, the faces fail."""
    corpus = corpus_or_skip()
    root = tmp_path_factory.mktemp("weak")
    env = Env(root / "home")
    env.write_config("[scrub]\nface_block_fraction = 0.01\n")
    photos = root / "photos"
    photos.mkdir()
    for rel in (FACE_PHOTOS[1], HEIC_PHOTO):
        shutil.copy2(corpus / rel, photos / Path(rel).name)
    out = root / "out"
    proc = env.run("scrub", *map(str, sorted(photos.iterdir())), "--out", str(out), "--json", check=False)
    return photos, out, proc


@pytest.mark.corpus
def test_a_copy_that_fails_verification_is_removed(
    weak: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    photos, out, proc = weak
    assert proc.returncode == 1, proc.stderr
    reports = {Path(r["source"]).name: r for r in json.loads(proc.stdout)}
    report = reports["two_people.jpg"]
    assert report["ok"] is False and report["copy"] is None
    assert report["owner_known"] is False  # not in the index: every face counts as a stranger
    assert any("face is still detectable" in p for p in report["problems"]), report["problems"]
    # Only the passing copy is in --out: the failed one and every temp file are gone.
    assert [p.name for p in out.iterdir()] == ["arrow.jpg"]
    assert sha256(photos / "two_people.jpg") == sha256(corpus_or_skip() / FACE_PHOTOS[1])


@pytest.mark.corpus
def test_heic_becomes_an_upright_jpeg(weak: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    photos, _out, proc = weak
    [report] = [r for r in json.loads(proc.stdout) if r["source"].endswith("arrow.heic")]
    assert report["ok"], report["problems"]
    assert sha256(photos / "arrow.heic") == sha256(corpus_or_skip() / HEIC_PHOTO)
    with Image.open(photos / "arrow.heic") as original:
        # The file is stored landscape with EXIF orientation 6; pillow-heif applies the rotation.
        assert original.info.get("original_orientation") == 6
        upright = original.size
    assert upright == (3024, 4032)
    with Image.open(report["copy"]) as copy:
        assert copy.format == "JPEG" and Path(report["copy"]).suffix == ".jpg"
        assert copy.size == upright
        assert 0x0112 not in copy.getexif()
    assert leftover_metadata(Path(report["copy"])) == []


def test_out_inside_a_watched_folder_is_refused(tmp_path: Path) -> None:
    env = Env(tmp_path / "home")
    library = tmp_path / "library"
    photo = library / "a.jpg"
    library.mkdir()
    Image.new("RGB", (32, 32)).save(photo)
    env.write_config(f'[library]\nfolders = ["{library}"]\n')
    proc = env.run("scrub", str(photo), "--out", str(library / "safe"), check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--allow-in-library" in proc.stderr
    assert not (library / "safe").exists()
    missing = env.run("scrub", str(tmp_path / "nope.jpg"), "--out", str(tmp_path / "o"), check=False)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    no_out = env.run("scrub", str(photo), check=False)
    assert no_out.returncode == 2 and "--out" in no_out.stderr


def test_pixelation_averages_blocks_and_redaction_is_solid() -> None:
    image = Image.effect_noise((200, 200), 80).convert("RGB")
    [box] = pixelate_faces(image, [(50.0, 50.0, 80.0, 80.0)], margin=0.25, fraction=0.125)
    assert box == (30, 30, 150, 150)
    block = image.crop((30, 30, 40, 40))  # one 10 px block: its mean plus small noise only
    low, high = zip(*block.getextrema(), strict=True)
    assert max(h - lo for lo, h in zip(low, high, strict=True)) <= 24
    [filled] = redact_boxes(image, [(10.0, 160.0, 100.0, 20.0)])
    assert image.crop(filled).getextrema() == ((0, 0), (0, 0), (0, 0))
    # grown by a quarter of the text's height on every side, never by a share of its width
    assert filled == (5, 155, 115, 185)
    assert grow((-50.0, -50.0, 10.0, 10.0), 0.25, (100, 100)) is None


def test_heic_output_has_no_metadata(tmp_path: Path) -> None:
    image = Image.new("RGB", (64, 48), (10, 120, 200))
    image.info["exif"] = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00"
    heic = write_temp(image, tmp_path, "heic", 92)
    jpeg = write_temp(image, tmp_path, "jpeg", 92)
    assert leftover_metadata(heic) == [] and leftover_metadata(jpeg) == []
    with Image.open(heic) as back:
        assert back.format == "HEIF" and back.size == (64, 48)


def test_transparent_pixels_come_out_white_not_as_the_colour_they_hide(tmp_path: Path) -> None:
    """A PNG can store any colour under alpha 0 (a cropped-out card number, say): the JPEG copy
    shows what a viewer shows, never the hidden pixels."""
    env = Env(tmp_path / "home")
    env.write_config("".join(f"[detectors.{n}]\nenabled = false\n" for n in ("faces", "codes", "nudity")))
    source = tmp_path / "in" / "logo.png"
    source.parent.mkdir()
    image = Image.new("RGBA", (200, 100), (255, 0, 0, 0))  # red, fully transparent
    image.paste((0, 0, 255, 255), (0, 0, 100, 100))  # blue, opaque
    image.save(source)
    report = env.json("scrub", "--out", str(tmp_path / "out"), str(source))
    with Image.open(report[0]["copy"]) as copy:
        assert copy.format == "JPEG" and copy.mode == "RGB"
        hidden = copy.getpixel((150, 50))
        shown = copy.getpixel((50, 50))
    assert isinstance(hidden, tuple) and min(hidden) > 240, hidden  # white, not red
    assert isinstance(shown, tuple) and shown[2] > 200 and shown[0] < 40, shown
