"""Where a part of an OCR line sits in the photo: the box of characters ``start:end`` of a line.

A line comes with its quadrilateral (top-left, top-right, bottom-right, bottom-left, in full-size
pixels) and, when the recogniser gave them, ``char_edges``: ``len(text) + 1`` fractions from 0 to
1 of the way along the line where each character starts (the last is where the line ends).
Without them the characters are taken as equally wide. Redaction uses this to cover only the
personal data, not the words beside it on the same line.
"""

from __future__ import annotations

from collections.abc import Sequence

BBox = tuple[float, float, float, float]
Point = tuple[float, float]


def _along(a: Point, b: Point, t: float) -> Point:
    return a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t


def edges_or_even(text_length: int, char_edges: Sequence[float] | None) -> list[float]:
    """The stored edges when they fit the text, else equal widths."""
    if char_edges is not None and len(char_edges) == text_length + 1:
        return [min(1.0, max(0.0, float(e))) for e in char_edges]
    if text_length <= 0:
        return [0.0, 1.0]
    return [i / text_length for i in range(text_length + 1)]


def span_quad(
    polygon: Sequence[Sequence[float]],
    text_length: int,
    start: int,
    end: int,
    char_edges: Sequence[float] | None = None,
    pad_chars: float = 0.5,
) -> list[Point]:
    """The quadrilateral of characters ``start:end`` (end exclusive), grown by ``pad_chars`` of an
    average character on each side, within the line."""
    tl, tr, br, bl = ((float(p[0]), float(p[1])) for p in polygon[:4])
    edges = edges_or_even(text_length, char_edges)
    start, end = max(0, min(start, text_length)), max(0, min(end, text_length))
    if end <= start:
        end = min(text_length, start + 1)
    pad = pad_chars / max(1, text_length)
    t0, t1 = max(0.0, edges[start] - pad), min(1.0, edges[end] + pad)
    return [_along(tl, tr, t0), _along(tl, tr, t1), _along(bl, br, t1), _along(bl, br, t0)]


def span_box(
    polygon: Sequence[Sequence[float]],
    text_length: int,
    start: int,
    end: int,
    char_edges: Sequence[float] | None = None,
    pad_chars: float = 0.5,
) -> BBox:
    """The axis-aligned box (x, y, w, h) around ``span_quad``."""
    quad = span_quad(polygon, text_length, start, end, char_edges, pad_chars)
    xs, ys = [p[0] for p in quad], [p[1] for p in quad]
    return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
