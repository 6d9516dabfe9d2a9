"""The profile's statements as claims: every sentence it shows, with the photos behind it.

A statement nobody can check is worth less than none, so each one carries all of its evidence
(paths newest first, and the photo ids the TUI opens them by). Ids are readable slugs that stay
the same across rebuilds (``place.home``, ``segment.coffee_lover``, ``gps``), so that
``shadowlens profile --explain ID`` and a user's notes keep pointing at the same statement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shadowlens.daemon.profile.enjoyment import Statement
from shadowlens.daemon.profile.facts import PhotoFacts
from shadowlens.daemon.profile.segments import Segment
from shadowlens.daemon.profile.taste import newest_first
from shadowlens.daemon.profile.travel import Said
from shadowlens.daemon.wording import agree


@dataclass(frozen=True)
class Claim:
    id: str
    kind: str  # "place", "travel", "gps", "segment", "enjoyment"
    text: str
    photo_ids: Sequence[int]
    confidence: float | None = None
    why: str | None = None  # a segment rule's one-line rationale

    def as_dict(self, photos: Mapping[int, PhotoFacts]) -> dict[str, object]:
        evidence = newest_first(photos[i] for i in dict.fromkeys(self.photo_ids) if i in photos)
        days = {p.taken_at.date() for p in evidence if p.taken_at is not None}
        return {
            "id": self.id,
            "kind": self.kind,
            "text": self.text,
            "count": len(evidence),
            "days": len(days) if days else None,  # None: no evidence photo is dated
            "confidence": self.confidence,
            "why": self.why,
            "evidence": [p.path for p in evidence],
            "photo_ids": [p.photo_id for p in evidence],
        }


def slug(name: str) -> str:
    """A name as a part of a claim id: "San José" -> "san_josé", "Konica Minolta" -> "konica_minolta"."""
    return re.sub(r"\W+", "_", name.casefold()).strip("_")


def gps_claim(facts: Sequence[PhotoFacts]) -> Claim | None:
    """How many photos give away where they were taken: the simplest thing a marketer reads."""
    located = [f.photo_id for f in facts if f.has_gps]
    if not located:
        return None
    total = len(facts)
    text = (
        f"{len(located)} of {total} photo{'' if total == 1 else 's'} "
        f"{agree(len(located), 'carries', 'carry')} a GPS location"
    )
    return Claim("gps", "gps", text, located)


def from_said(said: Said) -> Claim:
    kind = "place" if said.id.startswith("place.") or said.id == "trips" else "travel"
    return Claim(said.id, kind, said.text, said.photo_ids)


def segment_claim(segment: Segment) -> Claim:
    return Claim(
        f"segment.{segment.name}",
        "segment",
        segment.sentence,
        segment.evidence,
        confidence=segment.confidence,
        why=segment.why or None,
    )


def enjoyment_claim(statement: Statement) -> Claim:
    # One statement per dimension at most (the happiest activity, place, company).
    return Claim(
        f"enjoyment.{statement.group.dimension}", "enjoyment", statement.sentence, statement.evidence
    )


def claim_dicts(claims: Sequence[Claim], facts: Sequence[PhotoFacts]) -> list[dict[str, object]]:
    """The claims as the stored profile keeps them, ids made unique (a second one gets ``.2``)."""
    photos = {f.photo_id: f for f in facts}
    seen: dict[str, int] = {}
    result = []
    for claim in claims:
        seen[claim.id] = seen.get(claim.id, 0) + 1
        item = claim.as_dict(photos)
        if seen[claim.id] > 1:
            item["id"] = f"{claim.id}.{seen[claim.id]}"
        result.append(item)
    return result
