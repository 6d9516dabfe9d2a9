"""What the profile builders read: one plain record per photo, and the one place it is made.

The builders (places, habits, people, brands, mood, segments, exposure) are pure functions over
these records, so they are tested without an index and never write one. ``photo_facts`` turns a
photo's findings into its record through the detectors' hooks; ``profile.load`` feeds it rows of
the index, ``scrub`` a fresh analysis of a copy, and both get the same record for the same findings.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shadowlens.daemon.analysis.findings import CHILD_AGE
from shadowlens.daemon.analysis.hooks import Fact, FindingHooks, Hooks, StoredFinding, overrides
from shadowlens.daemon.analysis.plugins import DetectorInfo, discover
from shadowlens.daemon.wording import device_name


@dataclass(frozen=True, slots=True)
class BrandHit:
    name: str
    category: str
    parent: str
    via: str  # "text", "code" or "logo"


@dataclass(frozen=True, slots=True)
class FaceFact:
    # row id in the faces table (the identity embedding), -1 when not embedded or not indexed
    face_id: int = field(compare=False)
    person_id: int | None
    age: float | None
    smiling: bool | None
    expression: str | None  # the top class of the expression model, e.g. "happy"
    # bbox in full-size upright pixels (x, y, w, h); the profile leaves it out (None): no
    # builder needs where a face is, and a library holds hundreds of thousands of faces.
    bbox: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class PhotoCore:
    """What the index keeps on the photo's own row (the writer copies it from the findings)."""

    taken_at: datetime | None = None  # local wall-clock time where it was taken (naive)
    lat: float | None = None
    lon: float | None = None
    city: str | None = None
    country_code: str | None = None
    device: str | None = None  # "Make Model"


@dataclass(frozen=True, slots=True)
class PhotoFacts:
    photo_id: int
    path: str  # one current path of the photo's content
    taken_at: datetime | None  # local wall-clock time where it was taken (naive)
    lat: float | None = None
    lon: float | None = None
    city: str | None = None
    country_code: str | None = None
    device: str | None = None  # "Make Model"
    faces: tuple[FaceFact, ...] = ()
    brands: tuple[BrandHit, ...] = ()
    # Every detector's signals (its ``facts`` hook), sorted, each once: ("object", "dog")...
    facts: tuple[Fact, ...] = ()
    # The findings of the detectors that raise exposure reasons, for scoring the photo again
    # when the profile changes (home, owner, children).
    findings: tuple[StoredFinding, ...] = ()

    @property
    def has_gps(self) -> bool:
        return self.lat is not None and self.lon is not None

    def values(self, key: str) -> list[str]:
        """The values of the facts with ``key``, sorted: ``values("scene")`` -> ["document"]."""
        return sorted(value for k, value in self.facts if k == key)


@functools.cache
def _installed() -> dict[str, DetectorInfo]:
    return discover()


@functools.cache
def installed_hooks() -> Hooks:
    """The hooks of every installed detector, found once per process."""
    return Hooks({name: info.cls for name, info in _installed().items() if info.cls is not None})


class _EveryAttr(Mapping[str, Any]):
    """Attrs that answer every key: run through a ``facts`` hook, a finding with these shows
    every fact key the hook can give (a brand's "brand_category" only comes with a category)."""

    def __getitem__(self, key: str) -> str:
        return "probe"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def fact_keys(hooks: Hooks) -> frozenset[str] | None:
    """Every fact key the detectors of ``hooks`` can give, or None when one of them cannot say.

    A detector with the default ``facts`` gives its counted kinds (("object", "dog")); one with
    its own hook is asked with a probe finding of each counted kind. A detector that counts every
    kind with the default hook, or whose hook fails on the probe, can give any key: None."""
    keys: set[str] = set()
    for name, cls in sorted(hooks.classes.items()):
        own = _keys_of(name, cls)
        if own is None:
            return None
        keys |= own
    return frozenset(keys)


def _keys_of(name: str, cls: type[FindingHooks]) -> frozenset[str] | None:
    if not overrides(cls, "facts"):
        return cls.counts
    keys: set[str] = set()
    for kind in sorted(cls.counts) if cls.counts is not None else ["?"]:
        probe = StoredFinding(name, kind, "probe", attrs=_EveryAttr())
        try:
            keys.update(str(key) for key, _ in cls.facts(probe))
        except Exception:  # a plugin's hook that needs real attrs: its keys are unknown
            return None
    return frozenset(keys)


@functools.cache
def installed_fact_keys() -> frozenset[str] | None:
    """The fact keys of the installed detectors; None when a registered detector failed to
    import (its keys are unknown, so no key can be called a typo)."""
    if any(info.cls is None for info in _installed().values()):
        return None
    return fact_keys(installed_hooks())


# One object per distinct set of facts, shared by every photo that has it: a library repeats a
# few thousand combinations over a hundred thousand photos. Bounded, for a plugin whose labels
# are free text.
_SHARED: dict[tuple[Fact, ...], tuple[Fact, ...]] = {}
MAX_SHARED = 100_000


def photo_facts(
    photo_id: int,
    path: str,
    core: PhotoCore,
    findings: Iterable[StoredFinding],
    hooks: Hooks,
    projected: bool = False,
    face_ids: Sequence[int] = (),
) -> PhotoFacts:
    """The record of one photo from all of its findings; or, with ``projected``, from only those
    that count (``hooks.counts``) with only the attrs their detectors read (``hooks.project``),
    as the index loader hands them over, with the faces' row ids in ``face_ids``."""
    if not projected:
        findings = [hooks.project(f) for f in findings if hooks.counts(f)]
    faces: list[FaceFact] = []
    brands: list[BrandHit] = []
    facts: set[Fact] = set()
    kept: list[StoredFinding] = []
    of, scoring = hooks.of, hooks.scoring
    for finding in findings:
        detector, kind = finding.detector, finding.kind
        facts.update(of(detector).facts(finding))
        if detector in scoring:
            kept.append(finding)
        # The typed core the builders use: faces (people, mood) and brands (affinity, taste).
        if kind == "face":
            faces.append(face_fact(finding, face_ids[len(faces)] if len(faces) < len(face_ids) else -1))
        elif kind == "brand":
            brands.append(brand_hit(finding))
    signals = tuple(sorted(facts))
    if len(_SHARED) < MAX_SHARED:
        signals = _SHARED.setdefault(signals, signals)
    return PhotoFacts(
        photo_id,
        path,
        core.taken_at,
        core.lat,
        core.lon,
        core.city,
        core.country_code,
        core.device,
        tuple(faces),
        tuple(brands),
        signals,
        tuple(kept),
    )


def face_fact(finding: StoredFinding, face_id: int = -1) -> FaceFact:
    a = finding.attrs
    age, smiling, expression = a.get("age"), a.get("smiling"), a.get("expression.label")
    if expression is None and isinstance(a.get("expression"), dict):  # a detector that reads all attrs
        expression = a["expression"].get("label")
    return FaceFact(
        face_id,
        finding.person_id,
        float(age) if isinstance(age, int | float) else None,
        bool(smiling) if smiling is not None else None,
        expression if isinstance(expression, str) else None,
    )


def brand_hit(finding: StoredFinding) -> BrandHit:
    a = finding.attrs
    return BrandHit(finding.label, a.get("category") or "", a.get("parent") or "", a.get("via") or "text")


def core_of(findings: Iterable[StoredFinding]) -> PhotoCore:
    """The photo row's fields from its findings, as the index writer fills them (the first
    finding of each kind): for a photo that is not in the index."""
    first: dict[str, StoredFinding] = {}
    for finding in findings:
        first.setdefault(finding.kind, finding)
    gps, time, place, device = (first.get(k) for k in ("gps", "time", "place", "device"))
    return PhotoCore(
        taken_at=local_time(time.label) if time else None,
        lat=float(gps.attrs["lat"]) if gps and "lat" in gps.attrs else None,
        lon=float(gps.attrs["lon"]) if gps and "lon" in gps.attrs else None,
        city=place.attrs.get("city") if place else None,
        country_code=place.attrs.get("country_code") if place else None,
        device=device_name(device.attrs.get("make"), device.attrs.get("model")) if device else None,
    )


def local_time(value: str | None) -> datetime | None:
    """The wall-clock time of an ISO timestamp (its offset dropped), or None. A bare date (an
    IPTC date with no time) is None here: read as midnight it would be a night at home."""
    if not value or len(value) <= 10:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        return None


__all__ = [
    "CHILD_AGE",
    "BrandHit",
    "FaceFact",
    "PhotoCore",
    "PhotoFacts",
    "fact_keys",
    "installed_fact_keys",
    "photo_facts",
]
