"""Helpers for ``rows_faces.py``, and the child process that measures cold loads and memory.

As a script (``rows_faces.py`` starts it through ``run_child`` with fresh XDG dirs and
``SHADOWLENS_WORKERS=1``), it prints one JSON object on stdout:

* ``faces_support.py load --models DIR --search DIR ROLE|all``: seconds of the first
  ``ensure_loaded()`` of the default stage's model for ROLE (or of every role in turn), in a
  process that has imported the detector module but loaded no model yet.
* ``faces_support.py memory --models DIR --search DIR PHOTO...``: VmRSS after importing
  shadowlens, with the default stage built but no model loaded, after the stage ran on the
  photos, and after ``unload_idle`` with a clock past every model's TTL.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import ctypes.util
import gc
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shadowlens.daemon.analysis.decode import DecodedPhoto
    from shadowlens.daemon.detectors.faces.detector import FacesDetector
    from shadowlens.models.registry import Registry

SCRFD, YUNET, HOG = "insightface-buffalo_sc", "opencv-yunet-2023mar", "dlib-hog"
DETECTORS = (SCRFD, YUNET, HOG)
ROLES = ("detector", "embedder", "agesex", "expression")
WORKERS_ENV = "SHADOWLENS_WORKERS"
IOU_MIN = 0.4
Box = tuple[float, ...]


def shared_models(repo: Path) -> Path:
    return repo.parent / "shared" / "models"


@contextmanager
def one_worker() -> Iterator[None]:
    """``SHADOWLENS_WORKERS=1`` while models load: onnxruntime and OpenCV get every usable CPU,
    as the other libraries do by default. Restored after, so other rows' children never see it."""
    old = os.environ.get(WORKERS_ENV)
    os.environ[WORKERS_ENV] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(WORKERS_ENV, None)
        else:
            os.environ[WORKERS_ENV] = old


def registry(models_dir: Path, search: Path) -> Registry:
    from shadowlens.models.registry import Registry

    return Registry(models_dir, [search])


def stage(reg: Registry, **roles: str) -> FacesDetector:
    """A faces detector; roles not given are "auto", as in the default config."""
    from shadowlens.daemon.detectors.faces.detector import FacesDetector, FacesSettings

    detector = FacesDetector(FacesSettings(**roles), registry=reg)
    problems = [f"{c.role}: {c.problem}" for c in detector.roles.values() if c.problem]
    if problems:
        raise RuntimeError("; ".join(problems))
    return detector


def detector_only(reg: Registry, model_id: str) -> FacesDetector:
    return stage(reg, detector=model_id, embedder="off", agesex="off", expression="off")


def decode(path: Path, side: int) -> DecodedPhoto:
    """As the pipeline decodes for a detector that wants ``side`` pixels on the long side."""
    from shadowlens.daemon.analysis.decode import open_photo
    from shadowlens.daemon.config import Config

    return open_photo(path, want_side=side, max_megapixels=Config().decode.max_megapixels)


def run_stage(
    detector: FacesDetector, path: Path, decoded: DecodedPhoto
) -> tuple[list[Box], dict[str, float]]:
    """Face boxes (full-resolution pixels) and the stage's per-role seconds for one photo."""
    from shadowlens.daemon.analysis.detector import PhotoContext

    photo = PhotoContext(path=path, decoded=decoded)
    boxes = [tuple(f.bbox) for f in detector.detect(photo) if f.bbox]
    return boxes, detector.pop_timings(photo)


Runner = Callable[[Path, Any], list[Box]]  # (path, DecodedPhoto) -> boxes in full-size pixels


def shadowlens_runner(detector: FacesDetector, role_seconds: dict[str, float] | None = None) -> Runner:
    def run(path: Path, decoded: Any) -> list[Box]:
        boxes, timings = run_stage(detector, path, decoded)
        if role_seconds is not None:
            for role, secs in timings.items():
                role_seconds[role] = role_seconds.get(role, 0.0) + secs
        return boxes

    return run


def face_recognition_runner(side: int, encode: bool = True) -> Runner:
    """face_recognition's HOG locations (upsample 1, its default) plus, if asked, encodings, on
    the same array shadowlens works on."""
    import face_recognition
    import numpy as np

    def run(path: Path, decoded: Any) -> list[Box]:
        image = np.asarray(decoded.pixels(side))
        locations = face_recognition.face_locations(image)
        if encode:
            face_recognition.face_encodings(image, locations)
        s = decoded.width / image.shape[1]
        return [(x1 * s, y1 * s, (x2 - x1) * s, (y2 - y1) * s) for y1, x2, y2, x1 in locations]

    return run


def faceanalysis_runner(scrfd_file: Path, side: int) -> Runner:
    import numpy as np
    from insightface.app import FaceAnalysis

    # The pack's folder as `name`: given name="insightface/det500m_only" and root=<shared models>,
    # this insightface looks in <root>/models/<name> and downloads the pack when it is not there.
    app = FaceAnalysis(
        name=str(scrfd_file.parent), allowed_modules=["detection"], providers=["CPUExecutionProvider"]
    )
    app.prepare(ctx_id=-1, det_size=(640, 640))
    if Path(app.det_model.model_file).resolve() != scrfd_file.resolve():
        raise RuntimeError(f"FaceAnalysis loaded {app.det_model.model_file}, not {scrfd_file}")

    def run(path: Path, decoded: Any) -> list[Box]:
        # BGR, as insightface expects; shadowlens's SCRFD makes the same copy from its RGB array.
        image = np.ascontiguousarray(np.asarray(decoded.pixels(side))[:, :, ::-1])
        s = decoded.width / image.shape[1]
        return [
            (x1 * s, y1 * s, (x2 - x1) * s, (y2 - y1) * s)
            for x1, y1, x2, y2 in (f.bbox for f in app.get(image))
        ]

    return run


# -- recall on the labelled photos, as tests/test_faces.py measures it


def iou(a: Box, b: Box) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    inter = max(0.0, min(ax2, bx2) - max(a[0], b[0])) * max(0.0, min(ay2, by2) - max(a[1], b[1]))
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def labelled_boxes(corpus_root: Path) -> dict[str, list[Box]]:
    boxes: dict[str, list[Box]] = defaultdict(list)
    with open(corpus_root / "dlib-faces" / "face_boxes.csv", newline="", encoding="utf-8") as handle:
        for rec in csv.DictReader(handle):
            boxes[rec["path"]].append(tuple(float(rec[k]) for k in ("left", "top", "width", "height")))
    return dict(boxes)


@dataclass
class Recall:
    hits: int
    total: int
    false_positives: int
    photos: int

    @property
    def value(self) -> float:
        return self.hits / self.total

    def describe(self) -> str:
        return (
            f"{self.hits}/{self.total} labelled faces at IoU>={IOU_MIN}, "
            f"{self.false_positives / self.photos:.2f} false positives per photo"
        )


def recall(truth: dict[str, list[Box]], found: dict[str, list[Box]]) -> Recall:
    hits = total = false_positives = 0
    for path, boxes in truth.items():
        mine = found.get(path, [])
        hits += sum(1 for box in boxes if any(iou(box, f) >= IOU_MIN for f in mine))
        total += len(boxes)
        false_positives += sum(1 for f in mine if not any(iou(box, f) >= IOU_MIN for box in boxes))
    return Recall(hits, total, false_positives, len(truth))


# -- the child process


def rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _trim() -> None:
    # What sessions.unload_idle does after unloading, so "loaded" and "after unload" compare alike.
    gc.collect()
    name = ctypes.util.find_library("c")
    if name:
        ctypes.CDLL(name).malloc_trim(0)


def _load(args: argparse.Namespace) -> dict[str, Any]:
    begun = time.perf_counter()
    from shadowlens.daemon.detectors.faces import detector as _module  # noqa: F401 - imports cv2

    imported = time.perf_counter()
    # Choosing the roles verifies the model files (a cold hash cache) and imports dlib, which
    # the manifest lists as a requirement of the dlib models: that import is not in any load.
    detector = stage(registry(args.models, args.search))
    built = time.perf_counter()
    roles = ROLES if args.what == ["all"] else tuple(args.what)
    seconds: dict[str, float | None] = {}
    for role in roles:
        model = detector.roles[role].model
        if model is None:
            seconds[role] = None
            continue
        started = time.perf_counter()
        model.ensure_loaded()
        seconds[role] = time.perf_counter() - started
    return {
        "seconds": seconds,
        "models": {r: detector.roles[r].model_id for r in roles},
        "import_seconds": imported - begun,
        "build_seconds": built - imported,
    }


def _memory(args: argparse.Namespace) -> dict[str, Any]:
    rss = {"interpreter": rss_mb()}
    from shadowlens.daemon.detectors.faces import detector as _module  # noqa: F401
    from shadowlens.models.sessions import unload_idle

    rss["imported"] = rss_mb()
    detector = stage(registry(args.models, args.search))
    _trim()
    rss["baseline"] = rss_mb()
    by_role = {}  # what loading each model adds, before any photo (arenas grow with use)
    for role, chosen in detector.roles.items():
        if chosen.model is not None:
            before = rss_mb()
            chosen.model.ensure_loaded()
            by_role[role] = rss_mb() - before
    faces = 0
    for name in args.what:
        path = Path(name)
        faces += len(run_stage(detector, path, decode(path, detector.options.long_side))[0])
    _trim()  # the photos are gone: what stays is libraries, models and their arenas
    rss["loaded"] = rss_mb()
    models = [c.model for c in detector.roles.values() if c.model is not None]
    loaded = sum(m.loaded for m in models)
    unloaded = unload_idle(now=time.monotonic() + 10 * max(m.ttl_seconds for m in models))
    rss["after_unload"] = rss_mb()
    return {
        "rss_mb": rss,
        "load_mb_by_role": by_role,
        "peak_mb": rss_mb("VmHWM"),
        "faces": faces,
        "models": {r: c.model_id for r, c in detector.roles.items()},
        "loaded_before": loaded,
        "unloaded": unloaded,
        "still_loaded": sum(m.loaded for m in models),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="faces_support.py")
    parser.add_argument("command", choices=("load", "memory"))
    parser.add_argument("--models", type=Path, required=True, help="the registry's models dir")
    parser.add_argument("--search", type=Path, required=True, help="the shared models folder")
    parser.add_argument("what", nargs="+", help="roles (load) or photo paths (memory)")
    args = parser.parse_args(argv)
    result = _load(args) if args.command == "load" else _memory(args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
