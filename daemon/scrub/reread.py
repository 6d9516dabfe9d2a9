"""A stricter read of a safe copy than the detection that made it: the proof that redaction worked.

Re-running the same detector on the copy only proves that the copy hides what that detector
can find; a phone number it never found passes as "verified". So the copy is read again by OCR
over the whole image at full resolution, with no gate and a low threshold, and

- every personal-data value found in the original is looked for in that text, fuzzily, with the
  usual OCR confusions allowed (0/O, 1/l/I, 5/S, 8/B, 7/T, n/h): a value still there fails;
- the text is searched for personal data again: any of the redacted types, even one the original's
  analysis missed, fails the copy too.

The report says what was read and what was looked for.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from PIL import Image
from rapidfuzz import fuzz
from shadowlens.daemon.analysis.hooks import StoredFinding
from shadowlens.daemon.detectors.text.pii import find_pii

# The same character read differently: each class is folded to one character before comparing.
CONFUSIONS = str.maketrans(
    {"o": "0", "q": "0", "l": "1", "i": "1", "|": "1", "s": "5", "b": "8", "t": "7", "h": "n", "z": "2"}
)
# A value this short (after folding) is in any text by chance ("F" for sex, "12" for a day).
MIN_LOOKED_FOR = 4
# partial_ratio: a value counts as readable when a part of a line matches it this well (one
# slip in ten characters); shorter values need the exact folded string.
MIN_SIMILARITY = 90.0
FUZZY_FROM = 8
# The strict read is at full resolution up to this long side: past it (a 200 MP photo) tiles at
# full size would take minutes, and text small enough to need more is unreadable to a person too.
STRICT_MAX_SIDE = 6000


class StrictReader(Protocol):
    def read_strict(
        self, image: np.ndarray, *, min_confidence: float = ..., scale: float = ...
    ) -> list[tuple[str, float, np.ndarray]]: ...


@dataclass
class Reread:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)


def folded(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold().translate(CONFUSIONS))


def still_readable(value: str, lines: Sequence[str]) -> bool:
    """Whether ``value`` can be read in ``lines`` (one line or two joined: a value may wrap)."""
    wanted = folded(value)
    if len(wanted) < MIN_LOOKED_FOR:
        return False
    texts = [folded(line) for line in lines]
    texts += [a + b for a, b in itertools.pairwise(texts)]
    if any(wanted in text for text in texts):
        return True
    if len(wanted) < FUZZY_FROM:
        return False
    return any(
        len(text) >= len(wanted) - 1 and fuzz.partial_ratio(wanted, text) >= MIN_SIMILARITY for text in texts
    )


def reread(
    copy: Image.Image,
    removed: Iterable[StoredFinding],
    selects: Callable[[str], bool],
    reader: StrictReader,
    shown: Callable[[StoredFinding], str],
) -> Reread:
    """Read ``copy`` strictly; one problem per removed value still readable and per new piece of
    personal data of a selected type."""
    result = Reread()
    scale = min(1.0, STRICT_MAX_SIDE / max(copy.size))
    lines = [text for text, _, _ in reader.read_strict(np.asarray(copy.convert("RGB")), scale=scale)]
    result.checked.append(f"strict OCR of the whole copy at full resolution: {len(lines)} lines read")
    values = [f for f in removed if f.kind == "pii" and selects(f.label)]
    looked_for = [f for f in values if len(folded(str(f.attrs.get("value") or ""))) >= MIN_LOOKED_FOR]
    for finding in looked_for:
        if still_readable(str(finding.attrs.get("value") or ""), lines):
            result.problems.append(f"{shown(finding)} still readable in the copy (strict read)")
    result.checked.append(
        f"{len(looked_for)} of {len(values)} redacted values looked for, OCR confusions allowed"
        + (
            f" ({len(values) - len(looked_for)} too short to tell apart from chance)"
            if len(values) > len(looked_for)
            else ""
        )
    )
    region = next((str(f.attrs["details"].get("region")) for f in values if _region(f)), None)
    found = [m for m in find_pii(lines, region) if selects(m.type)]
    for match in found:
        if not any(still_readable(match.value, [str(f.attrs.get("value") or "")]) for f in values):
            result.problems.append(
                f"{match.type.replace('_', ' ')} {match.masked} readable in the copy (strict read)"
            )
    result.checked.append(f"personal data searched again in the strict read: {len(found)} found")
    return result


def _region(finding: StoredFinding) -> bool:
    details = finding.attrs.get("details")
    return isinstance(details, dict) and bool(details.get("region"))
