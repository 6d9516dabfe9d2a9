"""A YOLOv8/YOLO11-format ONNX detector: letterbox, run, decode, threshold, NMS, map back.

The output layout is [1, 4 + classes, anchors]: box centre x, y, width, height in input pixels,
then one score per class. The same code serves an object model and a logo model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from shadowlens.models.sessions import InferenceSession, LazyModel, onnx_session

# OpenCV is imported in the functions that use it: the daemon imports this module only for its
# detector's hooks (how findings count), and an idle daemon must not map OpenCV (25 MB).

PAD_VALUE = 114


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: tuple[float, float, float, float]  # x, y, w, h in the pixels of the image given


def letterbox(image: np.ndarray, side: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """The image scaled to fit ``side`` x ``side``, centred and padded; returns the scale and offset."""
    import cv2

    height, width = image.shape[:2]
    scale = min(side / width, side / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((side, side, 3), PAD_VALUE, dtype=np.uint8)
    left, top = (side - new_w) // 2, (side - new_h) // 2
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas, scale, (left, top)


def in_image(
    xywh: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    labels: list[str],
    scale: float,
    offset: tuple[int, int],
    size: tuple[int, int],
) -> list[Detection]:
    """Boxes in letterbox pixels -> detections in the pixels of the (width, height) image the
    letterbox was made from, clipped to it (a box may reach into the padding), best first."""
    width, height = size
    found = []
    for (x, y, w, h), score, cls in zip(xywh, scores, classes, strict=True):
        x0, y0 = max(0.0, (x - offset[0]) / scale), max(0.0, (y - offset[1]) / scale)
        x1 = min(float(width), (x + w - offset[0]) / scale)
        y1 = min(float(height), (y + h - offset[1]) / scale)
        if x1 <= x0 or y1 <= y0:
            continue
        label = labels[cls] if cls < len(labels) else str(int(cls))
        found.append(Detection(label, float(score), (float(x0), float(y0), float(x1 - x0), float(y1 - y0))))
    return sorted(found, key=lambda d: -d.score)


def decode(
    output: np.ndarray,
    labels: list[str],
    threshold: float,
    iou: float,
    scale: float,
    offset: tuple[int, int],
    size: tuple[int, int],
) -> list[Detection]:
    import cv2

    rows = np.asarray(output, dtype=np.float32).reshape(output.shape[-2], output.shape[-1]).T
    boxes, scores = rows[:, :4], rows[:, 4:]
    classes = scores.argmax(axis=1)
    best = scores[np.arange(len(rows)), classes]
    keep = best >= threshold
    boxes, best, classes = boxes[keep], best[keep], classes[keep]
    if len(boxes) == 0:
        return []
    xywh = np.column_stack(
        [boxes[:, 0] - boxes[:, 2] / 2, boxes[:, 1] - boxes[:, 3] / 2, boxes[:, 2], boxes[:, 3]]
    )
    chosen = np.asarray(
        cv2.dnn.NMSBoxesBatched(xywh.tolist(), best.tolist(), classes.tolist(), threshold, iou)
    )
    chosen = chosen.reshape(-1).astype(np.int64)
    return in_image(xywh[chosen], best[chosen], classes[chosen], labels, scale, offset, size)


class BoxModel(LazyModel):
    """An ONNX box detector on a square letterboxed input: what YOLO and NanoDet share. The
    input side is read from the graph when it loads (``default_side`` until then)."""

    default_side = 640

    def __init__(
        self,
        model_id: str,
        path: Path,
        labels: list[str],
        threshold: float,
        iou: float,
        ttl: float = 300.0,
        session: InferenceSession | None = None,
    ) -> None:
        super().__init__(ttl)
        self.model_id, self.path, self.labels = model_id, path, labels
        self.threshold, self.iou = threshold, iou
        self._injected = session
        self._session: InferenceSession | None = None
        self.side = self.default_side

    def _open(self) -> InferenceSession:
        session = self._injected or onnx_session(self.path)
        shape = session.get_inputs()[0].shape
        self.side = int(shape[-1]) if isinstance(shape[-1], int) else self.default_side
        return session

    def _unload(self) -> None:
        self._session = None


class YoloModel(BoxModel):
    def __init__(
        self,
        model_id: str,
        path: Path,
        labels: list[str],
        threshold: float,
        iou: float = 0.45,
        ttl: float = 300.0,
        session: InferenceSession | None = None,
    ) -> None:
        super().__init__(model_id, path, labels, threshold, iou, ttl, session)

    def _load(self) -> None:
        self._session = self._open()

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        with self.using():
            assert self._session is not None
            canvas, scale, offset = letterbox(rgb, self.side)
            blob = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255.0)
            output = self._session.run(None, {self._session.get_inputs()[0].name: blob})[0]
        size = (rgb.shape[1], rgb.shape[0])
        return decode(np.asarray(output), self.labels, self.threshold, self.iou, scale, offset, size)
