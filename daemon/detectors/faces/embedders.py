"""Identity embedders: ArcFace (InsightFace packs), SFace (OpenCV zoo) and dlib's 128-d ResNet.

Each returns one L2-normalised row per face. Rows of different embedders live in different
spaces and are never compared (the index stores each with its embedder's id). dlib's ResNet runs
in dlib, or, once `models build` converted it, in onnxruntime on the same face chips: the same
vectors (within 1e-6), so both store them under dlib's model id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from shadowlens.daemon.detectors.faces.align import align, l2_normalise, to_blob
from shadowlens.daemon.detectors.faces.dlib_frame import HOG_FRAME
from shadowlens.daemon.detectors.faces.types import Image, RawFace
from shadowlens.models.sessions import InferenceSession, LazyModel, onnx_session


def graph_normalisation(path: Path) -> tuple[float, float]:
    """InsightFace's rule: graphs that start by subtracting and scaling take raw pixels."""
    try:
        import onnx

        nodes = onnx.load(str(path), load_external_data=False).graph.node[:8]
    except Exception:  # not readable by onnx: the common case, normalise ourselves
        return 127.5, 127.5
    names = [n.name for n in nodes]
    if any(n.startswith(("Sub", "_minus")) for n in names) and any(
        n.startswith(("Mul", "_mul")) for n in names
    ):
        return 0.0, 1.0
    return 127.5, 127.5


class OnnxFaceModel(LazyModel):
    """A face model behind the InferenceSession protocol; tests hand in a tiny real graph."""

    def __init__(
        self, model_id: str, path: Path, ttl: float, session: InferenceSession | None = None
    ) -> None:
        super().__init__(ttl)
        self.model_id, self.path, self._injected = model_id, path, session
        self._session: InferenceSession | None = None

    def _load(self) -> None:
        self._session = self._injected or onnx_session(self.path)
        self._on_load(self._session)

    def _on_load(self, session: InferenceSession) -> None:
        """Read what the graph says about itself (sizes, normalisation) once it is loaded."""

    def _unload(self) -> None:
        self._session = None

    def run_batched(self, blob: NDArray[np.float32]) -> NDArray[np.float32]:
        """All faces in one run; graphs exported with a fixed batch of 1 take them one at a time."""
        assert self._session is not None
        inp = self._session.get_inputs()[0]
        if isinstance(inp.shape[0], int) and inp.shape[0] == 1 and blob.shape[0] > 1:
            rows = [self._session.run(None, {inp.name: blob[i : i + 1]})[0] for i in range(blob.shape[0])]
            return np.concatenate(rows).astype(np.float32)
        return np.asarray(self._session.run(None, {inp.name: blob})[0], dtype=np.float32)


class OnnxEmbedder(OnnxFaceModel):
    """An ONNX graph taking aligned 112x112 faces, N x 3 x 112 x 112, returning N x D."""

    def __init__(
        self,
        model_id: str,
        path: Path,
        ttl: float,
        mean: float | None = None,
        std: float | None = None,
        session: InferenceSession | None = None,
    ) -> None:
        super().__init__(model_id, path, ttl, session)
        self.mean, self.std = mean, std
        self.dim = 0

    def _on_load(self, session: InferenceSession) -> None:
        if self.mean is None or self.std is None:
            self.mean, self.std = graph_normalisation(self.path)
        self.dim = int(session.get_outputs()[0].shape[-1])

    def embed(self, image: Image, faces: list[RawFace]) -> NDArray[np.float32]:
        self.ensure_loaded()
        assert self.mean is not None and self.std is not None
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        blob = to_blob([align(image, face) for face in faces], self.mean, self.std)
        return l2_normalise(self.run_batched(blob).reshape(len(faces), -1))


class DlibEmbedder(LazyModel):
    """dlib's ResNet face descriptor with its own 5-point alignment (always present)."""

    dim = 128
    # dlib's 5-point fit starts from the box: on YuNet's taller box it settles elsewhere and the
    # vectors drift from those of the same face found by HOG (dlib_frame.py).
    box_frame: ClassVar[str] = HOG_FRAME

    def __init__(self, model_id: str, resnet: Path, landmarks5: Path, ttl: float) -> None:
        super().__init__(ttl)
        self.model_id, self.resnet, self.landmarks5 = model_id, resnet, landmarks5
        self._net: Any = None
        self._shapes: Any = None

    def _load(self) -> None:
        import dlib

        self._net = dlib.face_recognition_model_v1(str(self.resnet))
        self._shapes = dlib.shape_predictor(str(self.landmarks5))

    def _unload(self) -> None:
        self._net = self._shapes = None

    def embed(self, image: Image, faces: list[RawFace]) -> NDArray[np.float32]:
        self.ensure_loaded()
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        shapes = dlib_shapes(self._shapes, image, faces)
        # num_jitters 0 and padding 0.25, dlib's defaults: OnnxDlibEmbedder cuts the same chips.
        vectors = self._net.compute_face_descriptor(np.ascontiguousarray(image), shapes)
        return l2_normalise(np.array([list(v) for v in vectors], dtype=np.float32))


def dlib_shapes(predictor: Any, image: Image, faces: list[RawFace]) -> Any:
    """dlib's 5-point shape of each face box, which places its 150x150 chip."""
    import dlib

    shapes = dlib.full_object_detections()
    for face in faces:
        rect = dlib.rectangle(int(face.x), int(face.y), int(face.x + face.w), int(face.y + face.h))
        shapes.append(predictor(image, rect))
    return shapes


class OnnxDlibEmbedder(LazyModel):
    """dlib's ResNet converted to ONNX (models/convert/dlib_resnet.py): dlib cuts each face's
    150x150 chip (get_face_chips, as compute_face_descriptor does) and onnxruntime runs the net,
    about ten times faster than dlib built without BLAS, with the same vectors."""

    dim = 128
    box_frame: ClassVar[str] = HOG_FRAME  # as DlibEmbedder's
    CHIP, PADDING = 150, 0.25  # compute_face_descriptor's chip size and default padding
    BATCH = 16  # faces per run, as dlib batches them: bounds the activations of a crowd photo

    def __init__(
        self, model_id: str, path: Path, landmarks5: Path, ttl: float, session: InferenceSession | None = None
    ) -> None:
        super().__init__(ttl)
        self.model_id, self.path, self.landmarks5, self._injected = model_id, path, landmarks5, session
        self._session: InferenceSession | None = None
        self._shapes: Any = None

    def _load(self) -> None:
        import dlib

        self._session = self._injected or onnx_session(self.path)
        self._shapes = dlib.shape_predictor(str(self.landmarks5))

    def _unload(self) -> None:
        self._session = self._shapes = None

    def chips(self, image: Image, faces: list[RawFace]) -> NDArray[np.float32]:
        """The faces' chips, N x 150 x 150 x 3 RGB 0-255: the graph normalises them itself."""
        import dlib

        shapes = dlib_shapes(self._shapes, image, faces)
        found = dlib.get_face_chips(np.ascontiguousarray(image), shapes, size=self.CHIP, padding=self.PADDING)
        return np.stack([np.asarray(chip) for chip in found]).astype(np.float32)

    def embed(self, image: Image, faces: list[RawFace]) -> NDArray[np.float32]:
        self.ensure_loaded()
        if not faces:
            return np.zeros((0, self.dim), dtype=np.float32)
        assert self._session is not None
        blob = self.chips(image, faces)
        name = self._session.get_inputs()[0].name
        rows = [
            np.asarray(self._session.run(None, {name: blob[i : i + self.BATCH]})[0], dtype=np.float32)
            for i in range(0, len(blob), self.BATCH)
        ]
        return l2_normalise(np.concatenate(rows).reshape(len(faces), self.dim))
