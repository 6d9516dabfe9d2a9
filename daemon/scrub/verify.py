"""Checking a safe copy: what the detectors still find in it, what metadata it still carries,
and the exposure score before and after, from the same findings the index would hold.

A copy passes only if nothing it was asked to remove is found again: trusting the editing code
alone would miss a face the pixelation left recognisable or a line the redaction missed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from shadowlens.daemon.analysis import decode  # noqa: F401  (registers the HEIF opener)
from shadowlens.daemon.analysis.findings import BBox, Finding
from shadowlens.daemon.analysis.results import AnalysisResult
from shadowlens.daemon.profile.facts import BrandHit, FaceFact, PhotoFacts
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


@dataclass(frozen=True)
class View:
    """One finding, from a fresh analysis or from the index, in the shape the checks need."""

    kind: str
    label: str
    bbox: BBox | None
    attrs: dict[str, Any]
    person_id: int | None = None

    @classmethod
    def of(cls, finding: Finding) -> View:
        return cls(finding.kind, finding.label, finding.bbox, finding.attrs())

    @classmethod
    def from_index(cls, item: dict[str, Any]) -> View:
        box = item.get("bbox")
        bbox = (float(box[0]), float(box[1]), float(box[2]), float(box[3])) if box else None
        return cls(item["kind"], item["label"], bbox, dict(item.get("attrs") or {}), item.get("person_id"))


def facts_from(views: list[View], path: str) -> PhotoFacts:
    """PhotoFacts as ``profile.load`` builds them from the index, here from findings in hand."""
    fields: dict[str, Any] = {}
    lists: dict[str, list[Any]] = {k: [] for k in ("faces", "brands", "objects", "scenes", "pii", "codes")}
    exposed: list[str] = []
    for view in views:
        a = view.attrs
        if view.kind == "gps" and "lat" in a and "lon" in a:
            fields.update(lat=float(a["lat"]), lon=float(a["lon"]))
        elif view.kind == "place":
            fields.update(city=a.get("city"), country_code=a.get("country_code"))
        elif view.kind == "face":
            expression = a.get("expression")
            lists["faces"].append(
                FaceFact(
                    face_id=-1,
                    person_id=view.person_id,
                    age=float(a["age"]) if a.get("age") is not None else None,
                    smiling=a.get("smiling"),
                    expression=expression.get("label") if isinstance(expression, dict) else None,
                    bbox=view.bbox,
                )
            )
        elif view.kind == "brand":
            lists["brands"].append(
                BrandHit(view.label, a.get("category") or "", a.get("parent") or "", a.get("via") or "text")
            )
        elif view.kind == "code":
            lists["codes"].append(a.get("payload_type") or "text")
        elif view.kind == "nudity" and a.get("exposed"):
            exposed.append(view.label)
        elif view.kind in ("object", "scene", "pii"):
            lists[{"object": "objects", "scene": "scenes", "pii": "pii"}[view.kind]].append(view.label)
    tuples: dict[str, Any] = {k: tuple(v) for k, v in lists.items()}
    return PhotoFacts(
        photo_id=-1, path=path, taken_at=None, nudity_exposed=tuple(exposed), **fields, **tuples
    )


def carry_persons(after: list[View], before: list[View]) -> list[View]:
    """Faces of the copy that are faces of the original (left unblurred: the owner) keep the
    original's person id, so the owner's face is not counted as a stranger after scrubbing."""
    known = [v for v in before if v.kind == "face" and v.bbox and v.person_id is not None]
    out = []
    for view in after:
        if view.kind == "face" and view.bbox and view.person_id is None:
            box = view.bbox
            match = max(known, key=lambda k: iou(box, k.bbox or box), default=None)
            if match is not None and match.bbox and iou(box, match.bbox) >= SAME_FACE_IOU:
                view = View(view.kind, view.label, view.bbox, view.attrs, match.person_id)
        out.append(view)
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
    face_boxes: list[Box]
    text_boxes: list[Box]
    text_kinds: frozenset[str]


def check(result: AnalysisResult, copy: Path, edits: Edits) -> list[str]:
    """One line per thing found again in the copy; empty when it is clean."""
    if result.file_error or result.error:
        return [f"the copy could not be re-analysed: {result.file_error or result.error}"]
    needed = {"metadata"} if edits.strip_metadata else set()
    needed |= {"faces"} if edits.face_boxes else set()
    needed |= {"text", "pii"} if edits.text_boxes else set()
    problems = [
        f"cannot verify: detector {run.detector} failed on the copy: {run.error}"
        for run in result.runs
        if run.error and run.detector in needed
    ]
    findings = result.findings
    if edits.strip_metadata:
        kinds = sorted({f.kind for f in findings if f.kind in METADATA_KINDS})
        if kinds:
            problems.append("metadata still found: " + ", ".join(kinds))
        left = leftover_metadata(copy)
        if left:
            problems.append("metadata blocks left in the file: " + ", ".join(left))
    for finding in findings:
        if finding.bbox is None:
            continue
        if finding.kind == "face" and _inside(finding.bbox, edits.face_boxes):
            problems.append(f"a face is still detectable in a pixelated area at {_where(finding.bbox)}")
        elif finding.kind in edits.text_kinds and _inside(finding.bbox, edits.text_boxes):
            what = finding.label if finding.kind == "pii" else "text"
            problems.append(f"{what} still readable in a redacted area at {_where(finding.bbox)}")
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
