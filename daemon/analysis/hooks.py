"""How a detector's findings count: the hooks every detector class has, and the plain data they use.

A finding is stored generically (kind, label, confidence, bbox, attrs). What it *means* is the
detector's to say, through four class-level hooks with neutral defaults (``FindingHooks``):

- ``facts``: the (key, value) signals it adds to the shadow profile ("object", "wine glass");
  segment rules in segments.toml match on them;
- ``exposure``: the reasons, with points, that a photo's findings of this detector add to its
  exposure score;
- ``scrub_boxes``: the areas ``scrub`` must pixelate (faces) or fill (personal data, text);
- ``shown``: one line for people (``shadowlens show``).

Built-in detectors declare theirs exactly as a third-party detector would. Consumers never see a
``Finding`` subclass here, only a ``StoredFinding``: the same shape whether it comes from a fresh
analysis or from a row of the index.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

from shadowlens.daemon.analysis.findings import CHILD_AGE, BBox, Finding

if TYPE_CHECKING:
    from shadowlens.daemon.config import ExposurePoints

Fact = tuple[str, str]
"""A profile signal: (key, value), e.g. ("object", "wine glass") or ("brand_category", "alcohol")."""

ScrubWhat = Literal["face", "personal_data", "text"]
NO_ATTRS: Mapping[str, Any] = MappingProxyType({})


class StoredFinding(NamedTuple):
    """One finding as every consumer sees it, from the index or from a fresh analysis. A named
    tuple: plain, immutable, and cheap to make a million of when the profile loads."""

    detector: str
    kind: str
    label: str
    confidence: float = 1.0
    bbox: BBox | None = None
    attrs: Mapping[str, Any] = NO_ATTRS
    person_id: int | None = None  # faces: the person the profile grouped it into

    @classmethod
    def of(cls, finding: Finding, detector: str) -> StoredFinding:
        """A fresh finding in the shape the index gives it back: bbox rounded as the writer
        rounds it, attrs through JSON (tuples become lists)."""
        attrs = json.loads(json.dumps(finding.attrs(), default=str))
        person = attrs.get("person_id")
        return cls(
            detector,
            finding.kind,
            finding.label,
            float(finding.confidence),
            box(finding.bbox),
            attrs,
            person if isinstance(person, int) else None,
        )

    @classmethod
    def from_view(cls, item: Mapping[str, Any]) -> StoredFinding:
        """A finding of ``photos --json`` / ``Reader.photo``."""
        return cls(
            str(item.get("detector") or ""),
            item["kind"],
            item["label"],
            float(item.get("confidence", 1.0)),
            box(item.get("bbox")),
            dict(item.get("attrs") or {}),
            item.get("person_id"),
        )


def box(value: Any) -> BBox | None:
    """(x, y, w, h) rounded to the index's 2 decimals, from a tuple or a JSON list; None otherwise."""
    if isinstance(value, list | tuple) and len(value) == 4:
        x, y, w, h = (round(float(v), 2) for v in value)
        return (x, y, w, h)
    return None


class Part(NamedTuple):
    """One item a reason lists ("payment card number"). When several detectors raise the same
    reason, the parts of all of them are listed once each, sorted by (rank, key)."""

    rank: int
    key: str
    words: str


@dataclass(frozen=True)
class Reason:
    """Why a photo is exposed, in plain words that never carry the value itself (reasons reach
    notifications and logs). ``points`` is the detector's default; ``[alerts.points]`` overrides
    any code."""

    code: str
    points: int
    text: str
    # With parts, ``text`` is the headline and the shown text is "headline: part, part".
    parts: tuple[Part, ...] = field(default=(), compare=False)
    # Codes this reason replaces on the same photo (an identity document is more than a document).
    supersedes: frozenset[str] = field(default=frozenset(), compare=False)
    # List at most this many parts (the first ones in order).
    most: int | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "points": self.points, "text": self.text}

    def __str__(self) -> str:
        return f"{self.text} (+{self.points})"


@dataclass(frozen=True)
class ExposureContext:
    """What the profile knows that changes a photo's score: home, the owner, children; and, set
    per photo by the scorer, the photo's place in words."""

    home: tuple[float, float] | None = None
    owner: int | None = None
    child_persons: frozenset[int] = frozenset()
    # persons the user marked as not a child, whatever their estimated age
    adult_persons: frozenset[int] = frozenset()
    where: str | None = None  # "Arezzo, IT": the scored photo's place, when it has one

    @classmethod
    def from_profile(cls, snapshot: Mapping[str, Any] | None) -> ExposureContext:
        """What a stored profile (``profile --json``) says about home, the owner and children."""
        if not snapshot:
            return cls()
        home, owner = snapshot.get("home"), snapshot.get("owner")
        return cls(
            home=(float(home["lat"]), float(home["lon"])) if home else None,
            owner=int(owner["person_id"]) if owner else None,
            child_persons=frozenset(snapshot.get("child_persons", [])),
            adult_persons=frozenset(snapshot.get("adult_persons", [])),
        )

    def is_child(self, person_id: int | None, age: float | None) -> bool:
        """The user's marks win over the estimated age."""
        if person_id is not None and person_id in self.adult_persons:
            return False
        if person_id is not None and person_id in self.child_persons:
            return True
        return age is not None and age < CHILD_AGE

    def is_possible_child(self, person_id: int | None, age: float | None, possible: bool) -> bool:
        """A face the age model cannot rule out as a child's (its interval reaches under
        CHILD_AGE), not already a sure child, and not of a person the user marked as an adult."""
        if not possible or self.is_child(person_id, age):
            return False
        return person_id is None or person_id not in self.adult_persons


@dataclass(frozen=True)
class ScrubBox:
    """An area of the photo that a safe copy must not show: a face to pixelate, personal data or
    text to fill. ``person_id`` and ``age`` let ``--blur others|children`` choose faces."""

    bbox: BBox
    what: ScrubWhat
    person_id: int | None = None
    age: float | None = None
    possible_child: bool = False  # the age model could not rule out a child


class FindingHooks:
    """The hooks with their defaults; ``Detector`` inherits them, and the findings of a detector
    that is not installed any more are read with these."""

    # The kinds of this detector's findings that count for the profile (facts and exposure), or
    # None for all of them. The profile loads only these from the index.
    counts: ClassVar[frozenset[str] | None] = None
    # The attrs that ``facts`` and ``exposure`` read, or None for all of them. The index hands
    # over just these keys, under the names given here ("expression.label" is the "label" inside
    # "expression"), as SQLite gives them (booleans as 0/1, objects as JSON text), so a library of
    # a million findings loads without parsing them all. Those two hooks see no bbox: where a
    # finding is counts only for scrub_boxes and shown.
    reads: ClassVar[tuple[str, ...] | None] = None
    # Kinds of the other detectors' findings of the same photo that ``exposure`` also receives,
    # after its own: children's things matter next to a child's face, which faces finds.
    exposure_sees: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def facts(cls, finding: StoredFinding) -> Iterable[Fact]:
        """The profile signals of one finding. Default: (kind, label)."""
        return ((finding.kind, finding.label),)

    @classmethod
    def exposure(
        cls, findings: Sequence[StoredFinding], context: ExposureContext, points: ExposurePoints
    ) -> list[Reason]:
        """The reasons this detector's findings of one photo add to its exposure. Default: none."""
        return []

    @classmethod
    def scrub_boxes(cls, finding: StoredFinding) -> Iterable[ScrubBox]:
        """Areas of one finding that a safe copy must cover. Default: none."""
        return ()

    @classmethod
    def shown(cls, finding: StoredFinding) -> str:
        """One line for people. Default: "kind label"."""
        return f"{finding.kind} {finding.label}"


class Hooks:
    """The hooks of each detector by name; a name not installed gets the defaults, except that
    its findings count by kind and label only (its attrs mean nothing to anyone here)."""

    def __init__(self, classes: Mapping[str, type[FindingHooks]] | None = None) -> None:
        self.classes = dict(classes or {})
        # Detectors that raise exposure reasons, in a fixed order.
        self.scorers = tuple(sorted(n for n, c in self.classes.items() if overrides(c, "exposure")))
        self.scoring = frozenset(self.scorers)

    def of(self, detector: str) -> type[FindingHooks]:
        return self.classes.get(detector, _Uninstalled)

    def counts(self, finding: StoredFinding) -> bool:
        kinds = self.of(finding.detector).counts
        return kinds is None or finding.kind in kinds

    def project(self, finding: StoredFinding) -> StoredFinding:
        """The finding as ``facts`` and ``exposure`` see it: no bbox (where a finding is matters
        to ``scrub_boxes`` and ``shown`` only) and only the attrs its detector ``reads``, shaped
        as the index's SQL hands them over. A fresh finding and a loaded one then compare equal."""
        keys = self.of(finding.detector).reads
        attrs: Mapping[str, Any] = finding.attrs
        if keys is not None:
            attrs = {key: sql_shaped(dig(finding.attrs, key)) for key in keys} if keys else NO_ATTRS
        return finding._replace(bbox=None, attrs=attrs)


class _Uninstalled(FindingHooks):
    reads = ()


def document_reasons(
    identity: tuple[Part, ...], personal: tuple[Part, ...], points: ExposurePoints
) -> list[Reason]:
    """The two reasons that readable documents raise, from whichever detector read them (the
    personal-data detector in text, the codes detector in a QR code or a boarding pass): an
    identity or payment document, which outranks a plain document, and readable personal data."""
    reasons = []
    if identity:
        reasons.append(
            Reason(
                "identity_document",
                points.identity_document,
                "identity or payment document",
                parts=identity,
                supersedes=frozenset({"document"}),
            )
        )
    if personal:
        reasons.append(
            Reason("personal_data", points.personal_data, "readable personal data", parts=personal)
        )
    return reasons


def overrides(cls: type[FindingHooks], hook: str) -> bool:
    """Whether ``cls`` has its own ``hook`` rather than the default."""
    return bool(getattr(cls, hook).__func__ is not getattr(FindingHooks, hook).__func__)


def dig(attrs: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` ("expression.label"), or None."""
    value: Any = attrs
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def sql_shaped(value: Any) -> Any:
    """A value as SQLite's json_extract returns it: booleans as 0/1, objects and lists as JSON."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return value
