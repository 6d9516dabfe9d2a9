"""A YOLOv8/YOLO11-format ONNX detector: letterbox, run, decode, threshold, NMS, map back.

The output layout is [1, 4 + classes, anchors]: box centre x, y, width, height in input pixels,
then one score per class. The same code serves an object model and a logo model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from shadowlens.models.sessions import InferenceSession, LazyModel, onnx_session

PAD_VALUE = 114


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: tuple[float, float, float, float]  # x, y, w, h in the pixels of the image given


def letterbox(image: np.ndarray, side: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """The image scaled to fit ``side`` x ``side``, centred and padded; returns the scale and offset."""
    height, width = image.shape[:2]
    scale = min(side / width, side / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((side, side, 3), PAD_VALUE, dtype=np.uint8)
    left, top = (side - new_w) // 2, (side - new_h) // 2
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas, scale, (left, top)


def decode(
    output: np.ndarray, labels: list[str], threshold: float, iou: float, scale: float, offset: tuple[int, int]
) -> list[Detection]:
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
    chosen = cv2.dnn.NMSBoxesBatched(xywh.tolist(), best.tolist(), classes.tolist(), threshold, iou)
    found = []
    for index in np.asarray(chosen).reshape(-1):
        x, y, w, h = xywh[index]
        label = labels[classes[index]] if classes[index] < len(labels) else str(int(classes[index]))
        box = ((x - offset[0]) / scale, (y - offset[1]) / scale, w / scale, h / scale)
        found.append(Detection(label, float(best[index]), tuple(float(v) for v in box)))  # type: ignore[arg-type]
    return sorted(found, key=lambda d: -d.score)


class YoloModel(LazyModel):
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
        super().__init__(ttl)
        self.model_id, self.path, self.labels = model_id, path, labels
        self.threshold, self.iou = threshold, iou
        self._injected = session
        self._session: InferenceSession | None = None
        self.side = 640

    def _load(self) -> None:
        self._session = self._injected or onnx_session(self.path)
        shape = self._session.get_inputs()[0].shape
        self.side = int(shape[-1]) if isinstance(shape[-1], int) else 640

    def _unload(self) -> None:
        self._session = None

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        with self.using():
            assert self._session is not None
            canvas, scale, offset = letterbox(rgb, self.side)
            blob = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None].astype(np.float32) / 255.0)
            output = self._session.run(None, {self._session.get_inputs()[0].name: blob})[0]
        return decode(np.asarray(output), self.labels, self.threshold, self.iou, scale, offset)
