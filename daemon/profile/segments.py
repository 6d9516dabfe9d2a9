"""Marketing segments ("drinks alcohol", "has children"): rules read from daemon/data/segments.toml
(or the file ``[profile] segments_file`` names).

The rules are data so that a reader can see, and change, exactly why the profile puts them in a
segment. This module only loads and checks them, then counts the photos that match each rule. A
signal is one of a few flags the profile works out (a child's face, a trip, the night, the place)
or the key of any fact a detector gives (``{ object = ["dog"] }``, ``{ tattoo = ["anchor"] }``).
Given the keys the installed detectors give, a key that is none of them is refused as a typo:
a misspelt key would otherwise match nothing, and its segment would silently never fire.
Every rule also says, in one line (``why``), why its evidence means its segment; a rule
without that reason is refused, and the reason goes out with the segment.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from shadowlens.daemon.profile.facts import CHILD_AGE, PhotoFacts, installed_fact_keys
from shadowlens.daemon.profile.taste import newest_first

RULES = Path(__file__).resolve().parents[1] / "data" / "segments.toml"
# The profile's own signals; any other key is a fact key (see the detectors' ``facts`` hooks).
FLAG_SIGNALS = frozenset({"child_face", "trip", "night"})
PLACE_SIGNAL = "place_label"
SEGMENT_KEYS = frozenset(
    {"title", "sentence", "why", "signals", "saturation", "min_photos", "min_days", "min_share"}
)
NIGHT_HOURS = range(0, 5)  # 00:00 to 04:59
DEFAULT_SATURATION = 10.0
DEFAULT_MIN_PHOTOS = 2
DEFAULT_MIN_DAYS = 1
# 1 - exp(-K) = 0.9: confidence reaches 0.9 when the evidence count equals the rule's saturation
K = math.log(10)
# Photos of one day count for at most this many: forty shots of one dinner are one dinner, so a
# confidence grows with distinct days as well as photos (undated photos count one each).
PER_DAY_CAP = 3


def _no_place(_: PhotoFacts) -> str | None:
    return None


@dataclass(frozen=True)
class Signal:
    kind: str
    values: frozenset[str] = frozenset()  # casefolded; empty for the true/false flags


@dataclass(frozen=True)
class SegmentRule:
    name: str
    title: str
    sentence: str  # with a {count} placeholder
    signals: tuple[Signal, ...]
    saturation: float = DEFAULT_SATURATION
    min_photos: int = DEFAULT_MIN_PHOTOS
    min_share: float | None = None
    # distinct dates the dated evidence must span: a habit, not one afternoon's burst of photos
    min_days: int = DEFAULT_MIN_DAYS
    # one line: why this evidence means this segment (required in the file, shown with the segment)
    why: str = ""


@dataclass(frozen=True)
class SegmentContext:
    owner: int | None
    trip_photo_ids: frozenset[int] = frozenset()
    place_of: Callable[[PhotoFacts], str | None] = _no_place


@dataclass
class Segment:
    name: str
    title: str
    sentence: str
    confidence: float
    evidence: list[int]
    why: str = ""  # the rule's one-line rationale

    def as_dict(self, path_of: Callable[[int], str]) -> dict[str, object]:
        return {
            "name": self.name,
            "title": self.title,
            "sentence": self.sentence,
            "why": self.why,
            "confidence": self.confidence,
            "evidence": [path_of(photo_id) for photo_id in self.evidence],
        }


class _Malformed(Exception):
    """A problem at one spot of the file; load_rules turns it into the one-line ValueError."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")


def _signal(where: str, raw: object, known: Collection[str] | None) -> Signal:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise _Malformed(where, "a signal must be a table with exactly one key, e.g. { object = ['dog'] }")
    [(kind, value)] = raw.items()
    if known is not None and kind not in known:
        # cutoff 0: always name the closest key, however far, so the line says what would work
        [close] = difflib.get_close_matches(kind, sorted(known), n=1, cutoff=0) or ["none"]
        raise _Malformed(
            where,
            f"unknown signal '{kind}': no installed detector gives it and it is not a profile flag"
            f" (nearest known: '{close}')",
        )
    if kind in FLAG_SIGNALS:
        if value is not True:
            raise _Malformed(where, f"signal '{kind}' must be true")
        return Signal(kind)
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise _Malformed(where, f"signal '{kind}' must be a non-empty list of names")
    return Signal(kind, frozenset(v.casefold() for v in value))


def _float(where: str, raw: dict[str, object], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Malformed(f"{where}.{key}", "must be a number")
    return float(value)


def _int(where: str, raw: dict[str, object], key: str, default: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Malformed(f"{where}.{key}", "must be a whole number")
    return value


def _why(where: str, value: object) -> str:
    """A rule must say, in one line, why its evidence means its segment: a rule nobody can justify
    in a sentence (a petrol station as a sweet tooth) is one that should not be there."""
    if value is None:
        raise _Malformed(
            f"{where}.why", 'missing: one line saying why this evidence means this segment, e.g. why = "..."'
        )
    if not isinstance(value, str) or not value.strip():
        raise _Malformed(f"{where}.why", "must be a non-empty string")
    if len(value.strip().splitlines()) > 1:
        raise _Malformed(f"{where}.why", "must be one line")
    return value.strip()


def _rule(name: str, raw: object, known: Collection[str] | None = None) -> SegmentRule:
    where = f"segments.{name}"
    if not isinstance(raw, dict):
        raise _Malformed(where, "must be a table")
    unknown = sorted(set(raw) - SEGMENT_KEYS)
    if unknown:
        raise _Malformed(where, f"unknown key '{unknown[0]}'")
    for key in ("title", "sentence"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise _Malformed(f"{where}.{key}", "must be a non-empty string")
    try:
        raw["sentence"].format(count=0)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        raise _Malformed(f"{where}.sentence", "the only placeholder allowed is {count}") from None
    signals = raw.get("signals")
    if not isinstance(signals, list) or not signals:
        raise _Malformed(f"{where}.signals", "missing: a non-empty list of signals is required")
    saturation = _float(where, raw, "saturation", DEFAULT_SATURATION)
    if saturation <= 0:
        raise _Malformed(f"{where}.saturation", "must be greater than 0")
    min_photos = _int(where, raw, "min_photos", DEFAULT_MIN_PHOTOS)
    if min_photos < 1:
        raise _Malformed(f"{where}.min_photos", "must be at least 1")
    min_days = _int(where, raw, "min_days", DEFAULT_MIN_DAYS)
    if min_days < 1:
        raise _Malformed(f"{where}.min_days", "must be at least 1")
    min_share = _float(where, raw, "min_share", 0.0) if "min_share" in raw else None
    if min_share is not None and not 0 <= min_share <= 1:
        raise _Malformed(f"{where}.min_share", "must be between 0 and 1")
    parsed = tuple(_signal(f"{where}.signals[{i}]", s, known) for i, s in enumerate(signals))
    why = _why(where, raw.get("why"))
    return SegmentRule(
        name=name,
        title=raw["title"].strip(),
        sentence=raw["sentence"].strip(),
        signals=parsed,
        saturation=saturation,
        min_photos=min_photos,
        min_share=min_share,
        min_days=min_days,
        why=why,
    )


def signal_keys(fact_keys: Collection[str] | None) -> frozenset[str] | None:
    """The signal keys a rule may use: the profile's own flags and the given fact keys; None
    (anything goes) when the fact keys are unknown."""
    if fact_keys is None:
        return None
    return frozenset(fact_keys) | FLAG_SIGNALS | {PLACE_SIGNAL}


def installed_signal_keys() -> frozenset[str] | None:
    """The signal keys of the installed detectors (see ``facts.installed_fact_keys``)."""
    return signal_keys(installed_fact_keys())


def load_rules(path: Path | None = None, known_keys: Collection[str] | None = None) -> list[SegmentRule]:
    """The rules in `path` (default: the packaged segments.toml); ValueError with one line if
    malformed. With ``known_keys`` (see ``signal_keys``), any other signal key is refused."""
    path = path or RULES
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
        segments = document.get("segments")
        if not isinstance(segments, dict) or not segments:
            raise _Malformed("segments", "missing: the file needs at least one [segments.<name>] table")
        return [_rule(name, raw, known_keys) for name, raw in segments.items()]
    except (_Malformed, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{path.name}: {error}") from None


def _matches(signal: Signal, photo: PhotoFacts, context: SegmentContext) -> bool:
    """For the profile's own signals; fact signals are looked up in ``_FactIndex``."""
    if signal.kind == "child_face":
        # the owner is never their own child, even when the age model guesses them young
        return any(
            face.age is not None
            and face.age < CHILD_AGE
            and (context.owner is None or face.person_id != context.owner)
            for face in photo.faces
        )
    if signal.kind == "trip":
        return photo.photo_id in context.trip_photo_ids
    if signal.kind == "night":
        return photo.taken_at is not None and photo.taken_at.hour in NIGHT_HOURS
    if signal.kind == PLACE_SIGNAL:
        place = context.place_of(photo)
        return place is not None and place.casefold() in signal.values
    return False


class _FactIndex:
    """Which photos (by position) have each fact, values casefolded: one pass over the library
    instead of one per rule and signal."""

    def __init__(self, photos: Sequence[PhotoFacts]) -> None:
        self.holders: dict[tuple[str, str], set[int]] = defaultdict(set)
        for i, photo in enumerate(photos):
            for key, value in photo.facts:
                self.holders[key, value.casefold()].add(i)

    def matching(self, signals: Sequence[Signal]) -> set[int]:
        found: set[int] = set()
        for signal in signals:
            for value in signal.values:
                found |= self.holders.get((signal.kind, value), set())
        return found


def _days(photos: Sequence[PhotoFacts]) -> int:
    """Distinct dates among the dated photos: undated ones cannot show a habit."""
    return len({p.taken_at.date() for p in photos if p.taken_at is not None})


def confidence(evidence_count: int, rule: SegmentRule) -> float:
    """0 below min_photos; then 1 - exp(-ln(10) * n / saturation), so n = saturation gives 0.9."""
    if evidence_count < rule.min_photos:
        return 0.0
    return round(1 - math.exp(-K * evidence_count / rule.saturation), 2)


def day_capped_count(photos: Sequence[PhotoFacts]) -> int:
    """The evidence count a confidence uses: each day's photos up to ``PER_DAY_CAP``."""
    per_day: dict[object, int] = {}
    undated = 0
    for photo in photos:
        if photo.taken_at is None:
            undated += 1
        else:
            day = photo.taken_at.date()
            per_day[day] = per_day.get(day, 0) + 1
    return undated + sum(min(n, PER_DAY_CAP) for n in per_day.values())


def evaluate(
    photos: Sequence[PhotoFacts], rules: Sequence[SegmentRule], context: SegmentContext
) -> list[Segment]:
    """The segments the photos put the owner in, highest confidence first (ties by name)."""
    dated = sum(photo.taken_at is not None for photo in photos)
    index = _FactIndex(photos)
    segments = []
    for rule in rules:
        own = [s for s in rule.signals if s.kind in FLAG_SIGNALS or s.kind == PLACE_SIGNAL]
        facts = index.matching([s for s in rule.signals if s not in own])
        evidence = [
            p for i, p in enumerate(photos) if i in facts or any(_matches(s, p, context) for s in own)
        ]
        # the epsilon keeps an exact share (6 of 40 at 0.15) from failing on float rounding
        if rule.min_share is not None and len(evidence) < rule.min_share * dated - 1e-9:
            continue  # a habit needs to be a real share of the library, not a few late parties
        if rule.min_days > 1 and _days(evidence) < rule.min_days:
            continue  # one outing (a dog at the park, a car show) is not a habit
        # min_photos is about the photos; the confidence's count is capped per day
        score = confidence(day_capped_count(evidence), rule) if len(evidence) >= rule.min_photos else 0.0
        if score <= 0:
            continue
        evidence = newest_first(evidence)
        segments.append(
            Segment(
                name=rule.name,
                title=rule.title,
                sentence=rule.sentence.format(count=len(evidence)),
                confidence=score,
                evidence=[p.photo_id for p in evidence],
                why=rule.why,
            )
        )
    segments.sort(key=lambda s: (-s.confidence, s.name))
    return segments
