"""NanoDet (GFL head, COCO 80 classes) as converted from the Human library's TFJS graph: decode and NMS.

The graph takes one 1x3xSxS image (S = 416) and gives, per stride 8, 16 and 32, a
``scores_<stride>`` [1, cells, classes] output (already through a sigmoid) and a
``boxes_<stride>`` [1, cells, 4 * (reg_max + 1)] output: for each side (left, top, right,
bottom) a distribution over reg_max + 1 distances in units of the stride, whose expectation is
the distance from the cell centre to that side (Generalized Focal Loss).

Preprocessing is NanoDet's training pipeline, not the Human library's: Human feeds RGB / 255,
but on the corpus this graph is clearly more confident and finds more of what is there (dogs,
cars, people) with BGR, (x - mean) / std and NanoDet's ImageNet mean and std, as NanoDet's own
config normalises. The photo is letterboxed (kept in proportion, centred, padded) like YOLO's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from shadowlens.daemon.detectors.vision.yolo import BoxModel, Detection, in_image, letterbox
from shadowlens.models.sessions import InferenceSession

# OpenCV is imported in the functions that use it: the daemon imports this module only for its
# detector's hooks (how findings count), and an idle daemon must not map OpenCV (25 MB).

# NanoDet's normalisation, in BGR order (its configs' ``normalize``).
MEAN_BGR = (103.53, 116.28, 123.675)
STD_BGR = (57.375, 57.12, 58.395)
REG_MAX = 10
DEFAULT_SIDE = 416
HEAD = re.compile(r"(scores|boxes)_(\d+)$")


def to_blob(
    rgb: np.ndarray, side: int, mean: Sequence[float], std: Sequence[float]
) -> tuple[np.ndarray, float, tuple[int, int]]:
    """The 1x3xSxS BGR, normalised input for ``rgb``, and the letterbox's scale and offset."""
    canvas, scale, offset = letterbox(rgb, side)
    bgr = canvas[:, :, ::-1].astype(np.float32)
    normalised = (bgr - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(normalised.transpose(2, 0, 1)[None]), scale, offset


def distances(bins: np.ndarray, reg_max: int) -> np.ndarray:
    """[n, 4 * (reg_max + 1)] logits -> [n, 4] expected distances (in strides): softmax, then the mean."""
    logits = bins.reshape(len(bins), 4, reg_max + 1)
    weights = np.exp(logits - logits.max(axis=2, keepdims=True))
    weights /= weights.sum(axis=2, keepdims=True)
    return np.asarray((weights * np.arange(reg_max + 1, dtype=np.float32)).sum(axis=2))


def decode(
    heads: dict[int, tuple[np.ndarray, np.ndarray]],
    side: int,
    threshold: float,
    iou: float,
    reg_max: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per stride (scores [cells, classes], bins [cells, 4(r+1)]) -> xywh boxes in input pixels,
    scores and classes of every cell whose best class reaches ``threshold``, after per-class NMS."""
    import cv2

    boxes, scores, classes = [], [], []
    for stride, (cell_scores, bins) in sorted(heads.items()):
        grid = side // stride
        best, cls = cell_scores.max(axis=1), cell_scores.argmax(axis=1)
        cells = np.flatnonzero(best >= threshold)
        if len(cells) == 0:
            continue
        centre_x, centre_y = (cells % grid + 0.5) * stride, (cells // grid + 0.5) * stride
        left, top, right, bottom = (distances(bins[cells], reg_max) * stride).T
        boxes.append(np.column_stack([centre_x - left, centre_y - top, left + right, top + bottom]))
        scores.append(best[cells])
        classes.append(cls[cells])
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    xywh, best, cls = np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)
    chosen = np.asarray(cv2.dnn.NMSBoxesBatched(xywh.tolist(), best.tolist(), cls.tolist(), threshold, iou))
    chosen = chosen.reshape(-1).astype(np.int64)
    return xywh[chosen], best[chosen], cls[chosen]


class NanodetModel(BoxModel):
    default_side = DEFAULT_SIDE

    def __init__(
        self,
        model_id: str,
        path: Path,
        labels: list[str],
        threshold: float,
        iou: float = 0.5,
        ttl: float = 300.0,
        session: InferenceSession | None = None,
        mean: Sequence[float] = MEAN_BGR,
        std: Sequence[float] = STD_BGR,
        reg_max: int = REG_MAX,
    ) -> None:
        super().__init__(model_id, path, labels, threshold, iou, ttl, session)
        self.reg_max = reg_max
        self.mean, self.std = tuple(mean), tuple(std)
        self._heads: dict[int, tuple[str, str]] = {}

    def _load(self) -> None:
        session = self._open()
        found: dict[tuple[str, int], str] = {}
        for output in session.get_outputs():
            match = HEAD.match(output.name)
            if match:
                found[(match[1], int(match[2]))] = output.name
        strides = sorted({stride for _, stride in found})
        if not strides or any(("scores", s) not in found or ("boxes", s) not in found for s in strides):
            names = [o.name for o in session.get_outputs()]
            raise RuntimeError(
                f"{self.path.name} has no scores_<stride>/boxes_<stride> pairs (outputs: {names})"
            )
        self._heads = {s: (found[("scores", s)], found[("boxes", s)]) for s in strides}
        self._session = session

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Objects in ``rgb`` (H x W x 3, uint8), boxes in its pixels, the most confident first."""
        with self.using():
            assert self._session is not None
            blob, scale, offset = to_blob(rgb, self.side, self.mean, self.std)
            names = [name for pair in self._heads.values() for name in pair]
            values = self._session.run(names, {self._session.get_inputs()[0].name: blob})
        by_name = dict(zip(names, values, strict=True))
        heads = {s: (by_name[sc][0], by_name[bx][0]) for s, (sc, bx) in self._heads.items()}
        xywh, scores, classes = decode(heads, self.side, self.threshold, self.iou, self.reg_max)
        return in_image(xywh, scores, classes, self.labels, scale, offset, (rgb.shape[1], rgb.shape[0]))
