"""Where each character of a recognised line sits, from the recogniser's own alignment.

PP-OCR's recogniser is CTC: it reads the line crop as a row of columns and emits each character
at one of them. rapidocr (``return_word_box``) hands back those columns per word and how many
columns the crop itself spans (the rest of a batch is padding). A character's column, as a share
of that span, is where its middle lies along the line; halfway between two middles is the edge
between those characters. The result is ``char_edges`` as ``line_geometry`` reads it, for the
line's text with its whitespace collapsed, as the findings store it.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np


def cleaned(text: str) -> str:
    """A line's text as findings keep it: runs of whitespace as one space, none at the ends."""
    return " ".join(text.split())


def _middles(text: str, word_cols: Sequence[Sequence[int]], span: float) -> list[float] | None:
    """The middle of each character of ``cleaned(text)``, as a share of the line, or None when
    the columns do not account for every character."""
    columns = [int(col) for word in word_cols for col in word]
    tokens = text.split()
    if span <= 0 or len(columns) != sum(len(token) for token in tokens):
        return None
    # On a crop shorter than the recogniser's input the rest is padding, and PP-OCRv6 may spread
    # the characters of a crowded line into it: columns past the crop say nothing about places.
    if any(col >= span + 1 for col in columns) or columns != sorted(columns):
        return None
    ink = iter((col + 0.5) / span for col in columns)
    middles: list[float] = []
    for token in tokens:
        if middles:
            middles.append(float("nan"))  # the space between two words: filled in below
        middles.extend(next(ink) for _ in token)
    for i, middle in enumerate(middles):
        if middle != middle:  # NaN: halfway between the words' nearest characters
            middles[i] = (middles[i - 1] + middles[i + 1]) / 2
    return middles


def edges_from_middles(middles: Sequence[float]) -> list[float]:
    """``len(middles) + 1`` edges: halfway between neighbours, and half a usual character beyond
    the first and the last; kept within 0..1 and never decreasing."""
    if not middles:
        return [0.0, 1.0]
    steps = [b - a for a, b in itertools.pairwise(middles) if b > a]
    half = (statistics.median(steps) if steps else 1.0 / len(middles)) / 2
    edges = [middles[0] - half]
    edges += [(a + b) / 2 for a, b in itertools.pairwise(middles)]
    edges.append(middles[-1] + half)
    clipped = np.clip(np.maximum.accumulate(np.asarray(edges, dtype=np.float64)), 0.0, 1.0)
    return [round(float(e), 4) for e in clipped]


def char_edges(text: str, word_info: Any) -> list[float] | None:
    """Edges of every character of ``cleaned(text)`` along the line, from rapidocr's ``WordInfo``
    of that line (``words``, ``word_cols``, ``line_txt_len``); None when it has none."""
    if word_info is None or not cleaned(text):
        return None
    word_cols = getattr(word_info, "word_cols", None)
    span = float(getattr(word_info, "line_txt_len", 0.0) or 0.0)
    if not word_cols:
        return None
    middles = _middles(text, word_cols, span)
    return None if middles is None else edges_from_middles(middles)
