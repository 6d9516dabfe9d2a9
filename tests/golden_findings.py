"""The corpus golden file (issue #18): what the full default detector set finds on a fixed
selection of corpus photos, so a change that is meant to keep behaviour (a speed-up) can prove
it did.

``findings(SELECTION)`` runs the Pipeline a worker builds (``build_pipeline(config, None)``, with
the models `make models` built) over each photo alone and returns, per photo (its path relative to
the corpus), the sorted findings as (kind, label, box, confidence), rounded, and each detector's
error. ``tests/test_corpus_golden.py`` compares a fresh run with ``tests/golden/corpus_findings.json``.

When a change of findings is intended, regenerate the file deliberately and review its diff::

    .venv/bin/python -m tests.golden_findings --write
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tests.conftest import BUILT_MODELS, CORPUS

GOLDEN = Path(__file__).resolve().parent / "golden" / "corpus_findings.json"
REGENERATE = "python -m tests.golden_findings --write"
# Confidences are stored to this many decimals; boxes to whole pixels of the upright, full-size
# image (the frame every detector reports in).
CONFIDENCE_DECIMALS = 3
# The models `make models` builds, which the default set uses when they are there.
BUILT_MODEL_IDS = ("nanodet-coco", "efficientnet-lite0-imagenet", "fer-mini-xception")

# Fixed and ordered; chosen to cover every kind of finding the corpus gives (it has no barcode, QR
# code, personal data or nudity) and to run in well under a minute on one core: phone-size photos
# cost ~0.8 s each with the full set, so only one is here.
SELECTION: tuple[str, ...] = (
    # GPS, place, time, device; objects and an image label (travel)
    "exif-samples/gps/DSCN0010.jpg",
    "exif-samples/gps/DSCN0040.jpg",
    # GPS near the equator (negative latitude), thumbnail-size
    "exif-samples/cameras/Kodak_CX7530.jpg",
    # GPS, a malformed EXIF type, people
    "exif-py/nikon_D3100_TypeError.jpg",
    # phone HEIC with GPS (Estonia), an auxiliary image
    "heic/pillow-heif/aux_YCbCr.heic",
    # names, captions, written places, keywords in the metadata
    "exif-samples/cameras/long_description.jpg",
    "exif-samples/cameras/Konica_Minolta_DiMAGE_Z3.jpg",
    "exif-samples/cameras/Pentax_K10D.jpg",
    "pillow/iptc.jpg",
    # metadata that is rejected (metadata_issue), or only in an Olympus segment
    "pillow/exif_gps.jpg",
    "pillow/invalid-exif.jpg",
    "heic/pillow-heif/L_exif_xmp_iptc.heic",
    "exif-samples/exif-org/olympus-d320l.jpg",
    # text: several scripts, a sign read as a document (scene), an advert, a rotated photo
    "easyocr-text/chinese.jpg",
    "easyocr-text/example3.png",
    "easyocr-text/japanese.jpg",
    "exif-samples/invalid/image00971.jpg",
    "exif-samples/orientation/landscape_6.jpg",
    # a car with a dealer's plate: objects, a label, text
    "exif-samples/tests/35-empty.jpg",
    # a brand on a shirt (Puma), with faces
    "dlib-faces/2008_002506.jpg",
    # faces (with their expression, age and sex), as photos, rotated and in HEIF
    "dlib-faces/2007_007763.jpg",
    "dlib-faces/2009_004587.jpg",
    "face_recognition/obama-240p.jpg",
    "pillow/hopper_orientation_6.jpg",
    "heic/pillow/hopper.heif",
    # image labels (pets) and objects; a video-game screenshot
    "heic/pillow-heif/invalid_id.heic",
    "heic/pillow-heif/zPug_3.heic",
    "exif-samples/tests/45-gps_ifd.jpg",
    # small: 1x1, a tiny MPO, an AVIF where nothing is found
    "pillow/multiple_exif.jpg",
    "pillow/frame_size.mpo",
    "heic/pillow/exif.avif",
    # broken: truncated (one with GPS), a decompression bomb, unidentifiable, empty, fuzz cases
    "pillow/ultrahdr.jpg",
    "pillow/truncated_jpeg.jpg",
    "pillow/decompression_bomb.gif",
    "pillow/zero_width.gif",
    "pillow/broken.png",
    "pillow/truncated_image.png",
    "heic/pillow-heif/corrupted.hif",
    "heic/pillow-heif/empty.heic",
    "heic/pillow-heif/truncated.heic",
    "heic/libheif/fuzz/github_15.heic",
)


def models_config() -> Any:
    """The config a test account with the built models has: the default detector set."""
    from shadowlens.daemon.config import Config

    return Config.model_validate({"models": {"search_paths": [str(BUILT_MODELS)]}})


def missing_models() -> list[str]:
    """The built models the default set needs that are not there (each with the reason)."""
    from shadowlens.models.registry import ModelUnavailable, Registry

    missing = []
    for model_id in BUILT_MODEL_IDS:
        try:
            Registry(BUILT_MODELS).path(model_id)
        except ModelUnavailable as exc:
            missing.append(f"{model_id} ({exc})")
    return missing


def _round_box(bbox: Sequence[float] | None) -> list[int] | None:
    return None if bbox is None else [round(float(v)) for v in bbox]


def _clean(message: str | None, corpus: Path) -> str | None:
    """An error message without the corpus's absolute location, which differs between machines."""
    if message is None:
        return None
    return message.replace(str(corpus) + "/", "").replace(str(corpus), "")


def photo_record(result: Any, corpus: Path) -> dict[str, Any]:
    """One photo's findings (sorted) and errors, as plain JSON data."""
    findings = sorted(
        (
            [f.kind, f.label, _round_box(f.bbox), round(float(f.confidence), CONFIDENCE_DECIMALS)]
            for f in result.findings
        ),
        key=lambda row: (row[0], row[1], row[2] is not None, row[2] or [], row[3]),
    )
    errors = {run.detector: _clean(run.error, corpus) for run in result.runs if run.error}
    return {
        "problem": _clean(result.problem, corpus),
        "errors": dict(sorted(errors.items())),
        "findings": findings,
    }


def findings(selection: Iterable[str] = SELECTION, corpus: Path = CORPUS) -> dict[str, dict[str, Any]]:
    """Run the workers' pipeline over each photo of ``selection`` alone (so no photo's result
    depends on which others ran with it) and return the records by relative path."""
    from shadowlens.daemon.analysis.pool import build_pipeline

    pipeline = build_pipeline(models_config(), None)
    try:
        records = {}
        for relative in selection:
            [result] = pipeline.analyse([corpus / relative], force=True)
            records[relative] = photo_record(result, corpus)
        return records
    finally:
        pipeline.close()


def detector_versions() -> dict[str, str]:
    from shadowlens.daemon.analysis.plugins import build_detectors

    return {d.name: d.version for d in build_detectors(models_config())}


def dump(records: dict[str, dict[str, Any]]) -> str:
    """The golden file's text: one finding a line, so a diff shows what changed."""
    lines = ["{"]
    lines.append(f'  "regenerate": {json.dumps(REGENERATE)},')
    lines.append(f'  "detectors": {json.dumps(detector_versions(), sort_keys=True)},')
    lines.append('  "photos": {')
    for i, (path, record) in enumerate(records.items()):
        lines.append(f"    {json.dumps(path)}: {{")
        lines.append(f'      "problem": {json.dumps(record["problem"], ensure_ascii=False)},')
        lines.append(f'      "errors": {json.dumps(record["errors"], ensure_ascii=False)},')
        rows = [f"        {json.dumps(row, ensure_ascii=False)}" for row in record["findings"]]
        if rows:
            lines.append('      "findings": [')
            lines.append(",\n".join(rows))
            lines.append("      ]")
        else:
            lines.append('      "findings": []')
        lines.append("    }" + ("," if i < len(records) - 1 else ""))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def load(path: Path = GOLDEN) -> dict[str, dict[str, Any]]:
    photos: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["photos"]
    return photos


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.golden_findings",
        description="Run the default detectors over the golden selection of corpus photos; print or --write the golden file.",
    )
    parser.add_argument("--write", action="store_true", help=f"write {GOLDEN.relative_to(GOLDEN.parents[2])}")
    args = parser.parse_args(argv)
    if not (CORPUS / "manifest.csv").exists():
        print(f"the shared corpus is missing: expected {CORPUS}/manifest.csv", file=sys.stderr)
        return 2
    if missing := missing_models():
        print(f"models not built: {', '.join(missing)}; run `make models`", file=sys.stderr)
        return 2
    text = dump(findings())
    if args.write:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
        print(f"wrote {GOLDEN}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
