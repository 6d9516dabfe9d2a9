"""What face models exchange, and the face finding the detector reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
from numpy.typing import NDArray
from shadowlens.daemon.findings import Finding

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

    def scaled(self, factor: float) -> RawFace:
        marks = None if self.landmarks is None else (self.landmarks * factor).astype(np.float32)
        return RawFace(self.x * factor, self.y * factor, self.w * factor, self.h * factor, self.score, marks)


@dataclass
class FaceAttributes:
    age: float | None = None
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


@dataclass(frozen=True, kw_only=True)
class FaceFinding(Finding):
    kind: ClassVar[str] = "face"
    age: float | None = None
    sex: str | None = None
    expression: dict[str, Any] | None = None
    smiling: bool | None = None
    models: dict[str, str] = field(default_factory=dict)
    landmarks: list[list[float]] | None = None
    embedding_dim: int | None = None
    person_id: int | None = None
    # Stored in the faces table, not in attrs: vectors are large and must never be compared
    # across embedders, so they travel with the embedder's id.
    embedding: bytes | None = field(default=None, repr=False)
    embedder: str | None = None

    _PRIVATE: ClassVar[frozenset[str]] = frozenset({"embedding", "embedder"})

    def attrs(self) -> dict[str, Any]:
        return {k: v for k, v in super().attrs().items() if k not in self._PRIVATE}

    def embedding_payload(self) -> tuple[str, int, bytes] | None:
        if self.embedding is None or self.embedder is None or self.embedding_dim is None:
            return None
        return self.embedder, self.embedding_dim, self.embedding
