"""Face alignment: a similarity transform from five landmarks to the ArcFace 112x112 template."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from shadowlens.daemon.detectors.faces.types import Image, RawFace

# OpenCV is imported in the functions that use it: the daemon imports this module only for its
# detector's hooks (how findings count), and an idle daemon must not map OpenCV (25 MB).

ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)


def align(image: Image, face: RawFace, size: int = 112) -> Image:
    """The face warped onto the template; without landmarks, a centred square crop of the box."""
    import cv2

    if face.landmarks is not None:
        template = ARCFACE_TEMPLATE * (size / 112.0)
        matrix, _ = cv2.estimateAffinePartial2D(face.landmarks.astype(np.float32), template, method=cv2.LMEDS)
        if matrix is not None:
            return np.asarray(cv2.warpAffine(image, matrix, (size, size), borderValue=0.0), dtype=np.uint8)
    return crop_square(image, face, size, margin=1.0)


def crop_square(image: Image, face: RawFace, size: int, margin: float = 1.5) -> Image:
    """A square around the box centre, ``margin`` times its longer side, resized to ``size``."""
    import cv2

    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    half = max(face.w, face.h) * margin / 2
    scale = size / (2 * half)
    matrix = np.array(
        [[scale, 0, size / 2 - cx * scale], [0, scale, size / 2 - cy * scale]], dtype=np.float32
    )
    return np.asarray(cv2.warpAffine(image, matrix, (size, size), borderValue=0.0), dtype=np.uint8)


def to_blob(crops: list[Image], mean: float, std: float, bgr: bool = False) -> NDArray[np.float32]:
    """N x 3 x H x W float32 batch from RGB crops."""
    batch = np.stack([c[:, :, ::-1] if bgr else c for c in crops]).astype(np.float32)
    return np.ascontiguousarray(((batch - mean) / std).transpose(0, 3, 1, 2))


def l2_normalise(rows: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.asarray(rows / np.maximum(norms, 1e-12), dtype=np.float32)
