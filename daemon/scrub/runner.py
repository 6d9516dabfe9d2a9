"""Safe copies: analyse a photo, pixelate faces, redact personal data, drop metadata, write a
clean copy, analyse the copy again and keep it only if nothing asked for is found there.

The original is only ever opened for reading. The copy is encoded under a hidden temp name in
the output folder and gets its real name (never replacing a file) only after it passed.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from shadowlens.daemon.analysis.decode import DecodeError, open_photo, sha256_file
from shadowlens.daemon.analysis.detector import Detector
from shadowlens.daemon.analysis.hooks import ExposureContext, Hooks, ScrubBox, ScrubWhat, StoredFinding
from shadowlens.daemon.analysis.pipeline import Pipeline
from shadowlens.daemon.analysis.plugins import build_detectors
from shadowlens.daemon.config import Config, ScrubSettings
from shadowlens.daemon.detectors.text.ocr import OcrDetector
from shadowlens.daemon.index.reads.queries import Reader
from shadowlens.daemon.profile.exposure import score
from shadowlens.daemon.profile.facts import installed_hooks
from shadowlens.daemon.scrub.pixels import pixelate_faces, redact_boxes
from shadowlens.daemon.scrub.reread import reread
from shadowlens.daemon.scrub.verify import (
    METADATA_KINDS,
    Edits,
    boxes_of,
    carry_persons,
    check,
    facts_from,
    stored,
)
from shadowlens.daemon.scrub.writer import SUFFIX, OutputFormat, kept_metadata, to_srgb, write_temp

Blur = Literal["faces", "others", "children", "none"]
Redact = Literal["pii", "all-pii", "names", "places", "dates", "text", "none"]


@dataclass(frozen=True)
class Redaction:
    """What one ``--redact`` fills: kinds of area (the detectors' scrub_boxes) and, for personal
    data, which types (None: every type)."""

    areas: frozenset[ScrubWhat]
    pii_types: frozenset[str] | None = None

    def covers(self, finding: StoredFinding, box: ScrubBox) -> bool:
        if box.what not in self.areas:
            return False
        if box.what == "personal_data" and self.pii_types is not None:
            return finding.label in self.pii_types
        return True

    def selects(self, pii_type: str) -> bool:
        return "personal_data" in self.areas and (self.pii_types is None or pii_type in self.pii_types)


_PERSONAL: frozenset[ScrubWhat] = frozenset({"personal_data"})
REDACTIONS: dict[Redact, Redaction] = {
    "pii": Redaction(_PERSONAL),
    "all-pii": Redaction(_PERSONAL),
    "names": Redaction(_PERSONAL, frozenset({"name"})),
    "places": Redaction(_PERSONAL, frozenset({"place", "address", "postcode"})),
    "dates": Redaction(_PERSONAL, frozenset({"date", "date_of_birth"})),
    "text": Redaction(frozenset({"personal_data", "text"})),
    "none": Redaction(frozenset()),
}
MAX_NAME_TRIES = 1000


@dataclass(frozen=True)
class ScrubOptions:
    strip_metadata: bool = True
    blur: Blur = "others"
    redact: Redact = "pii"
    heic_output: OutputFormat = "jpeg"

    @classmethod
    def from_settings(cls, settings: ScrubSettings, **overrides: Any) -> ScrubOptions:
        base = cls(blur=settings.blur, redact=settings.redact, heic_output=settings.heic_output)
        return cls(**{**asdict(base), **{k: v for k, v in overrides.items() if v is not None}})


@dataclass
class ScrubReport:
    source: str
    copy: str | None = None
    ok: bool = False
    problems: list[str] = field(default_factory=list)
    exposure_before: int | None = None
    exposure_after: int | None = None
    removed: dict[str, Any] = field(default_factory=lambda: {"metadata": False, "faces": 0, "text_boxes": 0})
    reasons_before: list[dict[str, object]] = field(default_factory=list)
    reasons_after: list[dict[str, object]] = field(default_factory=list)
    # Whether faces were told apart by person (the photo is indexed and the profile has an owner).
    owner_known: bool = False
    # "index" when the original's findings (and person ids) came from the index, else "analysis".
    before_from: str = "analysis"
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # The detectors that analysed the copy, each with the models it ran ("objects 1+nanodet-coco").
    verified_by: list[str] = field(default_factory=list)
    # What the stricter read of the copy checked (reread.py): lines read, values looked for.
    checked: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Scrubber:
    """One pipeline (models loaded once) for every photo of a run."""

    def __init__(
        self, config: Config, index_path: Path | None, detectors: list[Detector] | None = None
    ) -> None:
        self.config = config
        self.pipeline = Pipeline(config, build_detectors(config) if detectors is None else detectors)
        # The running detectors' own hooks first: they are the ones that analyse the copy.
        running = {d.name: type(d) for d in self.pipeline.detectors}
        self.hooks = Hooks({**installed_hooks().classes, **running})
        self.reader = Reader.open(index_path) if index_path is not None and index_path.exists() else None
        self.context: ExposureContext = ExposureContext.from_profile(
            self.reader.profile() if self.reader else None
        )

    def close(self) -> None:
        self.pipeline.close()
        if self.reader is not None:
            self.reader.close()

    def scrub(self, path: Path, out_dir: Path, options: ScrubOptions) -> ScrubReport:
        started = time.perf_counter()
        source = Path(os.path.abspath(path))
        report = ScrubReport(source=str(source))
        try:
            self._scrub(source, out_dir, options, report)
        except DecodeError as exc:
            report.problems.append(f"cannot decode: {exc}")
        except OSError as exc:
            report.problems.append(f"cannot write the copy: {exc.strerror or exc}")
        except MemoryError:
            report.problems.append("out of memory while editing the photo")
        except Exception as exc:  # one bad photo must not end a run over many
            report.problems.append(f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
        report.ok = not report.problems and report.copy is not None
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _scrub(self, source: Path, out_dir: Path, options: ScrubOptions, report: ScrubReport) -> None:
        before = self._before(source, report)
        if before is None:
            return
        points, hooks = self.config.alerts.points, self.hooks
        report.exposure_before, reasons = score(
            facts_from(before, str(source), hooks), self.context, points, hooks
        )
        report.reasons_before = [r.as_dict() for r in reasons]

        decoded = open_photo(
            source,
            want_side=None,
            max_megapixels=self.config.decode.max_megapixels,
            max_memory_mb=self.config.decode.max_memory_mb,
        )
        if decoded.image is None:
            report.problems.append(f"cannot decode: {decoded.error or decoded.missing_codec or 'no pixels'}")
            return
        image, keep = decoded.image, None
        if options.strip_metadata:
            image, note = to_srgb(image, _bytes(decoded.info.get("icc_profile")))
            report.notes += [note] if note else []
            report.removed["metadata"] = bool(
                len(decoded.exif) or any(f.kind in METADATA_KINDS for f in before)
            )
        else:
            keep = kept_metadata(decoded.exif, decoded.info)
        settings = self.config.scrub
        boxes = boxes_of(before, hooks)
        faces = [(f, b) for f, b in boxes if b.what == "face" and self._blurs(b, options.blur)]
        face_boxes = pixelate_faces(
            image, [b.bbox for _, b in faces], settings.face_margin, settings.face_block_fraction
        )
        redaction = REDACTIONS[options.redact]
        redacted = redaction.areas
        filled = [(f, b) for f, b in boxes if redaction.covers(f, b)]
        text_boxes = redact_boxes(image, [b.bbox for _, b in filled])
        report.removed.update(faces=len(face_boxes), text_boxes=len(text_boxes))

        fmt: OutputFormat = "heic" if decoded.format == "HEIF" and options.heic_output == "heic" else "jpeg"
        temp = write_temp(image, out_dir, fmt, settings.jpeg_quality, keep)
        decoded.release()
        try:
            covered = self._needed({f.detector for f, _ in faces + filled})
            edits = Edits(options.strip_metadata, face_boxes, text_boxes, redacted, covered)
            [result] = self.pipeline.analyse([temp], force=True)
            report.verified_by = [f"{run.detector} {run.version}" for run in result.runs if not run.error]
            report.problems += check(result, temp, edits, hooks)
            if any(redaction.selects(f.label) for f in before if f.kind == "pii"):
                report.problems += self._reread(temp, before, redaction, report)
            after = carry_persons(stored(result), before)
            report.exposure_after, reasons = score(
                facts_from(after, str(temp), hooks), self.context, points, hooks
            )
            report.reasons_after = [r.as_dict() for r in reasons]
            if not report.problems:
                report.copy = os.path.abspath(_publish(temp, out_dir, source.stem, SUFFIX[fmt]))
        finally:
            temp.unlink(missing_ok=True)

    def _before(self, source: Path, report: ScrubReport) -> list[StoredFinding] | None:
        """The original's findings: from the index when it holds this exact content analysed by
        these detectors (it alone knows person ids), else from a fresh analysis."""
        if self.reader is not None:
            # The scan stores the path as walked; a symlinked folder may make it the resolved one.
            item = self.reader.photo(str(source)) or self.reader.photo(str(source.resolve()))
            sha = item.get("sha256") if item else None
            current = (
                item is not None
                and sha is not None
                and item["status"] == "indexed"
                and sha == sha256_file(source)
                and self.reader.signature_for(sha) == self.pipeline.signature
            )
            if item is not None and current:
                report.owner_known = self.context.owner is not None
                report.before_from = "index"
                return [StoredFinding.from_view(f) for f in item["findings"]]
        [result] = self.pipeline.analyse([source], force=True)
        if result.problem:
            report.problems.append(f"cannot analyse: {result.problem}")
            return None
        return stored(result)

    def _reread(
        self, copy: Path, before: list[StoredFinding], redaction: Redaction, report: ScrubReport
    ) -> list[str]:
        """The stricter read than detection (reread.py), of the file as written; without the text
        detector it cannot be done, and a copy that cannot be proven clean is not kept."""
        reader = next((d.engine for d in self.pipeline.detectors if isinstance(d, OcrDetector)), None)
        if reader is None:
            return ["cannot verify the redaction: the text detector is not running"]
        decoded = open_photo(copy, want_side=None, max_megapixels=self.config.decode.max_megapixels)
        if decoded.image is None:
            return [f"cannot verify the redaction: the copy does not decode ({decoded.error})"]
        shown = self.hooks.of
        done = reread(decoded.image, before, redaction.selects, reader, lambda f: shown(f.detector).shown(f))
        decoded.release()
        report.checked += done.checked
        return done.problems

    def _blurs(self, face: ScrubBox, blur: Blur) -> bool:
        return blurs(face, blur, self.context)

    def _needed(self, detectors: set[str]) -> frozenset[str]:
        """The detectors whose findings were covered and those they read (pii reads the text):
        if one fails on the copy, what it would have found again cannot be checked."""
        needed: set[str] = set()
        todo = list(detectors)
        while todo:
            name = todo.pop()
            if name not in needed:
                needed.add(name)
                todo += getattr(self.hooks.of(name), "after", ())
        return frozenset(needed)


def blurs(face: ScrubBox, blur: Blur, context: ExposureContext) -> bool:
    """Whether ``--blur`` covers this face. The user's marks win over the estimated age, as in
    the exposure score, and a possible child counts as a child until marked an adult."""
    if blur == "faces":
        return True
    if blur == "others":
        return context.owner is None or face.person_id != context.owner
    if blur == "children":
        return context.is_child(face.person_id, face.age) or context.is_possible_child(
            face.person_id, face.age, face.possible_child
        )
    return False


def _bytes(value: object) -> bytes | None:
    return value if isinstance(value, bytes) else None


def _publish(temp: Path, out_dir: Path, stem: str, suffix: str) -> Path:
    """Give the verified temp file its name, ``stem.jpg`` or ``stem-2.jpg``...: a hard link fails
    rather than replace an existing file (the original itself, if --out is its folder)."""
    for n in range(1, MAX_NAME_TRIES + 1):
        final = out_dir / (f"{stem}{suffix}" if n == 1 else f"{stem}-{n}{suffix}")
        try:
            os.link(temp, final)
            return final
        except FileExistsError:
            continue
        except OSError as exc:
            # Filesystems without hard links (FAT, some FUSE): check, then rename.
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                raise
            if not final.exists():
                os.rename(temp, final)
                return final
    raise OSError(errno.EEXIST, f"no free name for {stem}{suffix} in {out_dir}")
