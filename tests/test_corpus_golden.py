"""Behaviour kept equal (issue #18): the full default detector set finds the same things on a
fixed selection of corpus photos as the golden file ``tests/golden/corpus_findings.json`` says.

A change meant to keep behaviour (a faster detector) must pass unchanged. Per photo: the same
findings, each (kind, label) as often; each box within IoU 0.8 of a golden box of the same kind
and label; confidences within 0.05 (onnxruntime's thread count moves the last float bits); the
same errors. When findings are meant to change, regenerate the file and review its diff:
``python -m tests.golden_findings --write`` (see ``tests/golden_findings.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tests import golden_findings as gf
from tests.conftest import built_model_or_skip, corpus_or_skip

MIN_IOU = 0.8
CONFIDENCE_TOLERANCE = 0.05

Row = Sequence[Any]  # [kind, label, box or None, confidence]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = min(ax + aw, bx + bw) - max(ax, bx)
    h = min(ay + ah, by + bh) - max(ay, by)
    inter = max(w, 0) * max(h, 0)
    union = aw * ah + bw * bh - inter
    if union <= 0:  # two empty boxes
        return 1.0 if list(a) == list(b) else 0.0
    return float(inter / union)


def _similarity(want: Row, got: Row) -> float | None:
    """How well ``got`` matches ``want`` (higher is better), or None if it does not."""
    if (want[0], want[1]) != (got[0], got[1]) or abs(want[3] - got[3]) > CONFIDENCE_TOLERANCE:
        return None
    if want[2] is None or got[2] is None:
        return 1.0 if want[2] is got[2] else None
    overlap = iou(want[2], got[2])
    return overlap if overlap >= MIN_IOU else None


def _show(row: Row) -> str:
    kind, label, box, confidence = row
    where = "" if box is None else f" at {box}"
    return f"{kind} {label!r}{where} conf {confidence:g}"


def _closest(want: Row, candidates: list[Row]) -> str:
    """Why the nearest finding of the same kind and label did not match, if there is one."""
    same = [g for g in candidates if (g[0], g[1]) == (want[0], want[1])]
    if not same:
        return ""

    def overlap(g: Row) -> float:
        return 1.0 if want[2] is None or g[2] is None else iou(want[2], g[2])

    near = max(same, key=overlap)
    parts = [f"nearest now: {_show(near)}"]
    if want[2] is not None and near[2] is not None:
        parts.append(f"IoU {overlap(near):.2f} (needs >= {MIN_IOU})")
    if abs(want[3] - near[3]) > CONFIDENCE_TOLERANCE:
        parts.append(f"confidence off by {abs(want[3] - near[3]):.3f} (allowed {CONFIDENCE_TOLERANCE})")
    return " (" + "; ".join(parts) + ")"


def compare_photo(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Every difference between one photo's golden record and a fresh one, as readable lines."""
    lines = []
    if want["problem"] != got["problem"]:
        lines.append(f"problem was {want['problem']!r}, now {got['problem']!r}")
    for detector in sorted(set(want["errors"]) | set(got["errors"])):
        before, now = want["errors"].get(detector), got["errors"].get(detector)
        if before != now:
            lines.append(f"{detector} error was {before!r}, now {now!r}")
    # Best matches first, each finding used once.
    pairs = sorted(
        (
            (score, i, j)
            for i, w in enumerate(want["findings"])
            for j, g in enumerate(got["findings"])
            if (score := _similarity(w, g)) is not None
        ),
        key=lambda p: -p[0],
    )
    matched_want: set[int] = set()
    matched_got: set[int] = set()
    for _, i, j in pairs:
        if i not in matched_want and j not in matched_got:
            matched_want.add(i)
            matched_got.add(j)
    unmatched_got = [g for j, g in enumerate(got["findings"]) if j not in matched_got]
    unmatched_want = [w for i, w in enumerate(want["findings"]) if i not in matched_want]
    lines += [f"missing: {_show(w)}{_closest(w, unmatched_got)}" for w in unmatched_want]
    lines += [f"new:     {_show(g)}" for g in unmatched_got]
    return lines


def compare(golden: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]]) -> list[str]:
    """A report of every difference, photo by photo; empty when the findings are equal."""
    report = []
    for path in sorted(set(golden) | set(current)):
        if path not in current:
            report.append(f"{path}: in the golden file but not in the selection")
            continue
        if path not in golden:
            report.append(f"{path}: in the selection but not in the golden file")
            continue
        lines = compare_photo(golden[path], current[path])
        if lines:
            report.append(f"{path}:\n" + "\n".join(f"    {line}" for line in lines))
    return report


def failure_message(report: list[str]) -> str:
    return (
        f"the findings on {len(report)} corpus photo(s) differ from {gf.GOLDEN.name}:\n\n"
        + "\n".join(report)
        + "\n\nIf this change of findings is intended, regenerate the golden file deliberately and "
        f"review its diff: `{gf.REGENERATE}` (from the repository root, with .venv/bin/python)."
    )


@pytest.mark.corpus
def test_the_detectors_find_what_the_golden_file_says_on_the_corpus() -> None:
    corpus_or_skip()
    for model_id in gf.BUILT_MODEL_IDS:
        built_model_or_skip(model_id)
    assert gf.GOLDEN.exists(), f"{gf.GOLDEN} is missing: create it with `{gf.REGENERATE}`"
    golden = gf.load()
    current = gf.findings(gf.SELECTION)
    report = compare(golden, current)
    assert not report, failure_message(report)


# The comparison itself, on made-up records: no corpus, no models.


def _record(*findings: Row, problem: str | None = None, **errors: str) -> dict[str, Any]:
    return {"problem": problem, "errors": errors, "findings": [list(f) for f in findings]}


def test_boxes_and_confidences_within_tolerance_match_and_nothing_else_does() -> None:
    face = ("face", "face", [100, 100, 50, 50], 1.5)
    golden = {
        "a.jpg": _record(
            face, ("object", "person", [0, 0, 200, 300], 0.7), ("time", "2020-01-01", None, 1.0)
        ),
        "b.jpg": _record(("text", "Puma", [10, 10, 40, 20], 0.99), problem=None),
        "c.jpg": _record(problem="empty file (0 bytes)"),
    }
    same = {
        "a.jpg": _record(
            ("object", "person", [2, 1, 201, 302], 0.72),
            ("face", "face", [101, 99, 50, 51], 1.46),
            ("time", "2020-01-01", None, 1.0),
        ),
        "b.jpg": _record(("text", "Puma", [10, 10, 40, 20], 0.99)),
        "c.jpg": _record(problem="empty file (0 bytes)"),
    }
    assert compare(golden, same) == []
    changed = {
        "a.jpg": _record(
            ("object", "person", [60, 0, 200, 300], 0.7),  # moved: IoU 0.54
            ("face", "face", [100, 100, 50, 50], 1.6),  # confidence off by 0.1
            ("face", "face", [300, 100, 50, 50], 1.5),  # a second face
            ("time", "2020-01-01", None, 1.0),
        ),
        "b.jpg": _record(("text", "PUMA", [10, 10, 40, 20], 0.99), text="TimeoutError: slow"),
    }
    report = compare(golden, changed)
    message = failure_message(report)
    assert report[0].startswith("a.jpg:\n")
    assert "missing: face 'face' at [100, 100, 50, 50] conf 1.5" in message
    assert "confidence off by 0.100" in message
    assert "missing: object 'person' at [0, 0, 200, 300] conf 0.7 (nearest now:" in message
    assert "IoU 0.54 (needs >= 0.8)" in message
    assert "new:     face 'face' at [300, 100, 50, 50] conf 1.5" in message
    assert "missing: text 'Puma'" in message and "new:     text 'PUMA'" in message
    assert "text error was None, now 'TimeoutError: slow'" in message
    assert "c.jpg: in the golden file but not in the selection" in message
    assert "2020-01-01" not in message  # unchanged findings are not listed
    assert gf.REGENERATE in message


def test_the_golden_file_covers_the_selection_in_order() -> None:
    if not gf.GOLDEN.exists():
        pytest.fail(f"{gf.GOLDEN} is missing: create it with `{gf.REGENERATE}`")
    assert list(gf.load()) == list(gf.SELECTION)
