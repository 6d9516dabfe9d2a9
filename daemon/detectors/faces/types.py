"""What face models exchange, and the face finding the detector reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

HOG_FRAME = "dlib-hog"
"""The box convention of dlib's HOG detector, on which the offline describing models were set."""

Image = NDArray[np.uint8]
"""An upright RGB image, H x W x 3."""


@dataclass
class RawFace:
    """A detected face in the pixels of the image it was found in."""

    x: float
    y: float
    w: float
    h: float
    score: float
    # Right eye, left eye, nose, right mouth corner, left mouth corner (image left to right: the
    # subject's right eye first), as the ArcFace alignment template expects.
    landmarks: NDArray[np.float32] | None = None
    # Whose box convention this is: the detector's id for its family ("dlib-hog", "yunet",
    # "scrfd"). Models calibrated on HOG's boxes describe other faces in HOG's frame (dlib_frame).
    frame: str = HOG_FRAME

    def scaled(self, factor: float) -> RawFace:
        marks = None if self.landmarks is None else (self.landmarks * factor).astype(np.float32)
        return RawFace(
            self.x * factor, self.y * factor, self.w * factor, self.h * factor, self.score, marks, self.frame
        )


@dataclass
class FaceAttributes:
    age: float | None = None
    # The age model's interval (10th to 90th percentile over augmentations), when it has one.
    age_low: float | None = None
    age_high: float | None = None
    possible_child: bool | None = None
    age_note: str | None = None  # why there is no age: "too small", "too blurred"
    sex: str | None = None
    sex_confidence: float | None = None
    expression: str | None = None
    expression_probs: dict[str, float] | None = None
    smiling: bool | None = None
    expression_method: str | None = None


class FaceDetectorModel(Protocol):
    model_id: str

    def detect(self, image: Image) -> list[RawFace]: ...


class EmbedderModel(Protocol):
    model_id: str
    dim: int

    def embed(self, image: Image, faces: list[RawFace]) -> NDArray[np.float32]:
        """One L2-normalised row per face, all faces of the photo in one batch."""
        ...


class AttributeModel(Protocol):
    model_id: str

    def describe(self, image: Image, faces: list[RawFace], out: list[FaceAttributes]) -> None:
        """Fill in the attributes this model knows, for every face at once."""
        ...
