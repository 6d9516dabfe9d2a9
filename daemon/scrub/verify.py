"""Checking a safe copy: what the detectors still find in it, what metadata it still carries,
and the exposure score before and after, from the same findings the index would hold.

A copy passes only if nothing it was asked to remove is found again: trusting the editing code
alone would miss a face the pixelation left recognisable or a line the redaction missed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from shadowlens.daemon.analysis import decode  # noqa: F401  (registers the HEIF opener)
from shadowlens.daemon.analysis.findings import BBox
from shadowlens.daemon.analysis.hooks import Hooks, ScrubBox, ScrubWhat, StoredFinding
from shadowlens.daemon.analysis.results import AnalysisResult
from shadowlens.daemon.profile.facts import PhotoFacts, core_of, photo_facts
from shadowlens.daemon.scrub.pixels import Box, iou, overlap

METADATA_KINDS = ("gps", "time", "device", "name")
# Share of a found face or text box inside an edited area that counts as "found again there".
OVERLAP_FAIL = 0.3
# A face in the copy this close to a face of the original is the same face (same pixels, same box).
SAME_FACE_IOU = 0.5
_INFO_BLOCKS = ("exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "photoshop", "iptc")
_HEIF_EXTRAS = ("thumbnails", "aux", "depth_images")
# Raw markers of EXIF, XMP and IPTC blocks, in case a container hides one from Pillow.
_RAW_MARKERS = {b"Exif\x00\x00": "EXIF", b"http://ns.adobe.com/xap/1.0/": "XMP", b"Photoshop 3.0\x00": "IPTC"}


def stored(result: AnalysisResult) -> list[StoredFinding]:
    """A fresh analysis's findings, each with its detector, in the index's shape."""
    return [StoredFinding.of(finding, run.detector) for run in result.runs for finding in run.findings]


def facts_from(findings: Sequence[StoredFinding], path: str, hooks: Hooks) -> PhotoFacts:
    """The photo's PhotoFacts from findings in hand, by the same function ``profile.load`` uses
    for the index (the photo's own fields from its findings, as the index writer takes them)."""
    return photo_facts(-1, path, core_of(findings), findings, hooks)


def boxes_of(findings: Iterable[StoredFinding], hooks: Hooks) -> list[tuple[StoredFinding, ScrubBox]]:
    """Every area the findings' detectors say a safe copy must cover, with its finding."""
    return [(f, box) for f in findings for box in hooks.of(f.detector).scrub_boxes(f)]


def carry_persons(after: list[StoredFinding], before: list[StoredFinding]) -> list[StoredFinding]:
    """Faces of the copy that are faces of the original (left unblurred: the owner) keep the
    original's person id, so the owner's face is not counted as a stranger after scrubbing."""
    known = [f for f in before if f.kind == "face" and f.bbox and f.person_id is not None]
    out = []
    for finding in after:
        if finding.kind == "face" and finding.bbox and finding.person_id is None:
            box = finding.bbox
            match = max(known, key=lambda k: iou(box, k.bbox or box), default=None)
            if match is not None and match.bbox and iou(box, match.bbox) >= SAME_FACE_IOU:
                finding = finding._replace(person_id=match.person_id)
        out.append(finding)
    return out


def leftover_metadata(path: Path) -> list[str]:
    """Metadata blocks the written file still holds, by name (empty for a clean copy)."""
    found: set[str] = set()
    with Image.open(path) as image:
        if len(image.getexif()):
            found.add("EXIF")
        for key in _INFO_BLOCKS:
            if image.info.get(key):
                found.add({"XML:com.adobe.xmp": "XMP", "icc_profile": "ICC profile"}.get(key, key.upper()))
        for key in _HEIF_EXTRAS:
            if image.info.get(key):
                found.add(f"HEIF {key}")
    data = path.read_bytes()
    found.update(name for marker, name in _RAW_MARKERS.items() if marker in data)
    return sorted(found)


@dataclass(frozen=True)
class Edits:
    """What the copy was asked to lose, so verification knows what to look for."""

    strip_metadata: bool
    face_boxes: list[Box]  # pixelated
    text_boxes: list[Box]  # filled
    redacted: frozenset[ScrubWhat]  # the kinds of area filled: "personal_data", and "text" with --redact text
    # Detectors whose findings were covered, and those they read: they must run on the copy.
    detectors: frozenset[str] = frozenset()


def check(result: AnalysisResult, copy: Path, edits: Edits, hooks: Hooks) -> list[str]:
    """One line per thing found again in the copy; empty when it is clean."""
    if result.problem:
        return [f"the copy could not be re-analysed: {result.problem}"]
    needed = edits.detectors | ({"metadata"} if edits.strip_metadata else set())
    problems = [
        f"cannot verify: detector {run.detector} failed on the copy: {run.error}"
        for run in result.runs
        if run.error and run.detector in needed
    ]
    findings = stored(result)
    if edits.strip_metadata:
        kinds = sorted({f.kind for f in findings if f.kind in METADATA_KINDS})
        if kinds:
            problems.append("metadata still found: " + ", ".join(kinds))
        left = leftover_metadata(copy)
        if left:
            problems.append("metadata blocks left in the file: " + ", ".join(left))
    for finding, box in boxes_of(findings, hooks):
        if box.what == "face" and _inside(box.bbox, edits.face_boxes):
            problems.append(f"a face is still detectable in a pixelated area at {_where(box.bbox)}")
        elif box.what in edits.redacted and _inside(box.bbox, edits.text_boxes):
            what = hooks.of(finding.detector).shown(finding) if box.what == "personal_data" else "text"
            problems.append(f"{what} still readable in a redacted area at {_where(box.bbox)}")
    return problems


def _inside(bbox: BBox, boxes: list[Box]) -> bool:
    return any(overlap(bbox, box) >= OVERLAP_FAIL for box in boxes)


def _where(bbox: BBox) -> str:
    return f"x={bbox[0]:.0f} y={bbox[1]:.0f} ({bbox[2]:.0f}x{bbox[3]:.0f})"


def same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
