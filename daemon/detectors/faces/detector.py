"""The faces detector: find faces, then describe each with the best models present.

Roles (detector, embedder, age and sex, expression) are chosen per the config or, by default,
as the best model present; the choice is part of the detector's version, so fetching or fixing a
model re-analyses exactly the photos analysed without it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from shadowlens.daemon.api import (
    Detector,
    DetectorSettings,
    ExposureContext,
    ExposurePoints,
    FaceFinding,
    Fact,
    Finding,
    Needs,
    PhotoContext,
    Reason,
    ScrubBox,
    StoredFinding,
)
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.faces.dlib_frame import HOG_FRAME, framed_for
from shadowlens.daemon.detectors.faces.roles import Chosen, choose
from shadowlens.daemon.detectors.faces.types import FaceAttributes, RawFace
from shadowlens.daemon.paths import app_paths
from shadowlens.models.registry import ModelUnavailable, Registry

ROLES = ("detector", "embedder", "agesex", "expression")


class FacesSettings(DetectorSettings):
    # "auto" picks the best model present for the role; a model id forces one; "off" skips the role.
    detector: str = "auto"
    embedder: str = "auto"
    agesex: str = "auto"
    expression: str = "auto"
    long_side: int = Field(default=1280, ge=320, le=8192)
    min_face_px: int = Field(default=24, ge=4)
    max_faces: int = Field(default=200, ge=1)
    # None: each detector's own default (SCRFD 0.5, YuNet 0.8: where each stops firing on dogs).
    detector_threshold: float | None = Field(default=None, gt=0, lt=1)
    detector_input: int = Field(default=640, ge=160, le=2048)
    hog_upsample: int = Field(default=1, ge=0, le=2)


class FacesDetector(Detector):
    name = "faces"
    version = "1"
    Settings: ClassVar[type[DetectorSettings]] = FacesSettings
    models_dir: ClassVar[Path | None] = None
    search_paths: ClassVar[tuple[Path, ...]] = ()
    ttl_seconds: ClassVar[float] = 300.0
    # Faces reach the profile as faces (people, mood, children), not as facts.
    counts: ClassVar[frozenset[str] | None] = frozenset({"face"})
    reads: ClassVar[tuple[str, ...] | None] = ("age", "possible_child", "smiling", "expression.label")

    @classmethod
    def facts(cls, finding: StoredFinding) -> Iterable[Fact]:
        return ()

    @classmethod
    def exposure(
        cls, findings: Sequence[StoredFinding], context: ExposureContext, points: ExposurePoints
    ) -> list[Reason]:
        children = possible = others = 0
        for face in findings:
            if face.person_id is not None and face.person_id == context.owner:
                continue  # your own face exposes no one else
            age = face.attrs.get("age")
            point = float(age) if isinstance(age, int | float) else None
            if context.is_child(face.person_id, point):
                children += 1
            elif context.is_possible_child(face.person_id, point, bool(face.attrs.get("possible_child"))):
                possible += 1
            else:
                others += 1
        reasons = []
        if children:
            reasons.append(
                Reason("child", points.child, _count(children, "a child's face", "children's faces"))
            )
        if possible:
            # Said as uncertain as it is: the user answers it on the People screen (child / adult).
            reasons.append(
                Reason(
                    "possible_child",
                    points.possible_child,
                    "possibly a child" if possible == 1 else f"possibly a child ({possible} faces)",
                )
            )
        if others:
            one, many = (
                ("person other than you", "people other than you") if context.owner else ("person", "people")
            )
            reasons.append(Reason("other_people", points.other_people, _count(others, f"a {one}", many)))
        return reasons

    @classmethod
    def scrub_boxes(cls, finding: StoredFinding) -> Iterable[ScrubBox]:
        if finding.bbox is None:
            return ()
        age = finding.attrs.get("age")
        return (
            ScrubBox(
                finding.bbox,
                "face",
                finding.person_id,
                float(age) if isinstance(age, int | float) else None,
                possible_child=finding.attrs.get("possible_child") is True,
            ),
        )

    @classmethod
    def shown(cls, finding: StoredFinding) -> str:
        a = finding.attrs
        expression = a.get("expression")
        words = [
            _age_words(a),
            a.get("sex") if isinstance(a.get("sex"), str) else None,
            expression.get("label") if isinstance(expression, dict) else None,
            f"person {finding.person_id}" if finding.person_id is not None else None,
        ]
        return ", ".join(["face", *(w for w in words if w)])

    @classmethod
    def configure(cls, config: Config) -> None:
        cls.models_dir = app_paths().models_dir
        cls.search_paths = tuple(config.models.search_paths)
        cls.ttl_seconds = config.models.ttl_seconds

    def __init__(self, settings: DetectorSettings, registry: Registry | None = None) -> None:
        super().__init__(settings)
        assert isinstance(settings, FacesSettings)
        self.options = settings
        self.needs = Needs(pixels=settings.long_side)
        registry = registry or Registry(self.models_dir or app_paths().models_dir, self.search_paths)
        self.roles: dict[str, Chosen] = {
            role: choose(registry, role, getattr(settings, role), settings, self.ttl_seconds)
            for role in ROLES
        }
        self.version = "1+" + "+".join(self.roles[r].tag for r in ROLES)
        if getattr(self.roles["detector"].model, "frame", HOG_FRAME) != HOG_FRAME:
            # Its faces are described in HOG's frame since this was added: analysed again.
            self.version += "+hog-frame"
        self._timings: dict[str, dict[str, float]] = {}

    def pop_timings(self, photo: PhotoContext) -> dict[str, float]:
        return self._timings.pop(str(photo.path), {})

    def detect(self, photo: PhotoContext) -> list[Finding]:
        for chosen in self.roles.values():
            if chosen.problem:
                raise ModelUnavailable(f"{chosen.role} model {chosen.model_id}: {chosen.problem}")
        finder = self.roles["detector"].model
        if finder is None:
            return []
        with ExitStack() as stack:
            # Held for the whole photo, so the idle reaper never unloads a model mid-prediction.
            for chosen in self.roles.values():
                if chosen.model is not None:
                    stack.enter_context(chosen.model.using())
            return self._detect(photo, finder)

    def _detect(self, photo: PhotoContext, finder: Any) -> list[Finding]:
        image, scale = photo.rgb(self.options.long_side)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        faces = finder.detect(image)
        timings["detector"] = time.perf_counter() - started
        faces = sorted(
            (f for f in faces if min(f.w, f.h) * scale >= self.options.min_face_px), key=lambda f: -f.score
        )[: self.options.max_faces]
        attributes = [FaceAttributes() for _ in faces]
        vectors = None
        embedder = self.roles["embedder"].model
        if faces and embedder is not None:
            started = time.perf_counter()
            vectors = embedder.embed(image, framed_for(embedder, faces))
            timings["embedder"] = time.perf_counter() - started
        for role in ("agesex", "expression"):
            model = self.roles[role].model
            if faces and model is not None:
                started = time.perf_counter()
                model.describe(image, framed_for(model, faces), attributes)
                timings[role] = time.perf_counter() - started
        self._timings[str(photo.path)] = {k: round(v, 5) for k, v in timings.items()}
        height, width = photo.decoded.height, photo.decoded.width
        return [
            self._finding(face.scaled(scale), attrs, None if vectors is None else vectors[i], width, height)
            for i, (face, attrs) in enumerate(zip(faces, attributes, strict=True))
        ]

    def _finding(
        self, face: RawFace, attrs: FaceAttributes, vector: np.ndarray | None, width: int, height: int
    ) -> FaceFinding:
        x, y = max(0.0, face.x), max(0.0, face.y)
        box = (x, y, min(face.w, width - x), min(face.h, height - y))
        expression = None
        if attrs.expression is not None:
            expression = {
                "label": attrs.expression,
                "probs": attrs.expression_probs,
                "method": attrs.expression_method,
            }
        embedder = self.roles["embedder"]
        return FaceFinding(
            label="face",
            confidence=round(face.score, 4),
            bbox=box,
            age=attrs.age,
            sex=attrs.sex,
            expression=expression,
            smiling=attrs.smiling,
            models={role: chosen.model_id for role, chosen in self.roles.items() if chosen.model_id},
            landmarks=None if face.landmarks is None else np.round(face.landmarks, 1).tolist(),
            embedding_dim=None if vector is None else int(vector.shape[0]),
            embedding=None if vector is None else np.asarray(vector, dtype=np.float32).tobytes(),
            embedder=embedder.model_id if vector is not None else None,
            extra={k: v for k, v in _age_and_sex_extras(attrs).items() if v is not None},
        )


def _age_words(attrs: Mapping[str, Any]) -> str | None:
    """ "about 34 (26-50)", "possibly a child (about 14, 1-40)", "age unknown (too small)"."""
    age, low, high = attrs.get("age"), attrs.get("age_low"), attrs.get("age_high")
    if not isinstance(age, int | float):
        note = attrs.get("age_note")
        return f"age unknown ({note})" if isinstance(note, str) else None
    if not isinstance(low, int | float) or not isinstance(high, int | float):
        return f"about {round(age)}"
    if attrs.get("possible_child") is True:
        return f"possibly a child (about {round(age)}, {round(low)}-{round(high)})"
    return f"about {round(age)} ({round(low)}-{round(high)})"


def _age_and_sex_extras(attrs: FaceAttributes) -> dict[str, object]:
    return {
        "sex_confidence": attrs.sex_confidence,
        "age_low": attrs.age_low,
        "age_high": attrs.age_high,
        "possible_child": attrs.possible_child,
        "age_note": attrs.age_note,
    }


def _count(n: int, one: str, many: str) -> str:
    return one if n == 1 else f"{n} {many}"
