"""Taste: which brands a library keeps showing, and how its people look (smiles, expressions).

Both are pure functions over PhotoFacts. A marketer reads brand affinity as "what this person buys"
and mood as "when and with whom this person is happy", which is why the owner's own face matters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from shadowlens.daemon.profile.facts import BrandHit, FaceFact, PhotoFacts

HALF_LIFE_DAYS = 180.0
UNDATED_WEIGHT = 0.5  # a brand seen only in undated photos: as if last seen one half-life ago
OWNER_BONUS = 1.0  # per photo where the owner is pictured with the brand
DAY_WEIGHT = 2.0  # a brand seen on many days is a habit, not one shopping trip
MAX_EVIDENCE = 20


@dataclass
class BrandAffinity:
    """How strongly a library points at one brand.

    score = (photo_count + 2 * days) * 0.5 ** (age_days / 180) + 1.0 * with_owner, where age_days
    counts whole days from last_seen to `now` (never negative); a brand seen only in undated photos
    gets the weight 0.5, as if last seen one half-life ago.
    """

    name: str
    category: str
    parent: str
    photo_count: int
    days: int
    first_seen: datetime | None
    last_seen: datetime | None
    with_owner: int
    score: float
    evidence: list[int]
    # every photo with the brand, so rollups count a photo once even when it shows two sibling brands
    photo_ids: frozenset[int] = field(default_factory=frozenset, repr=False)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "category": self.category,
            "parent": self.parent,
            "photo_count": self.photo_count,
            "days": self.days,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "with_owner": self.with_owner,
            "score": round(self.score, 3),
        }


def newest_first(photos: Iterable[PhotoFacts]) -> list[PhotoFacts]:
    """Dated photos newest first, then undated ones; ties by photo id, highest first."""
    return sorted(
        photos, key=lambda p: (p.taken_at is not None, p.taken_at or datetime.min, p.photo_id), reverse=True
    )


def _owner_in(photo: PhotoFacts, owner: int | None) -> bool:
    return owner is not None and any(face.person_id == owner for face in photo.faces)


def recency_weight(last_seen: datetime | None, now: datetime) -> float:
    if last_seen is None:
        return UNDATED_WEIGHT
    age_days = max(0, (now - last_seen).days)
    return float(0.5 ** (age_days / HALF_LIFE_DAYS))


def brand_affinity(photos: Sequence[PhotoFacts], owner: int | None, now: datetime) -> list[BrandAffinity]:
    """One entry per brand seen, best score first (ties: more photos, then name)."""
    photos_by_brand: dict[str, list[PhotoFacts]] = defaultdict(list)
    first_hit: dict[str, BrandHit] = {}
    for photo in photos:
        for name in dict.fromkeys(hit.name for hit in photo.brands):  # a brand counts once per photo
            photos_by_brand[name].append(photo)
        for hit in photo.brands:
            first_hit.setdefault(hit.name, hit)
    affinities = []
    for name, seen in photos_by_brand.items():
        dates = [p.taken_at for p in seen if p.taken_at is not None]
        photo_count = len(seen)
        days = len({d.date() for d in dates})
        last_seen = max(dates, default=None)
        with_owner = sum(_owner_in(p, owner) for p in seen)
        score = (photo_count + DAY_WEIGHT * days) * recency_weight(last_seen, now) + OWNER_BONUS * with_owner
        affinities.append(
            BrandAffinity(
                name=name,
                category=first_hit[name].category,
                parent=first_hit[name].parent,
                photo_count=photo_count,
                days=days,
                first_seen=min(dates, default=None),
                last_seen=last_seen,
                with_owner=with_owner,
                score=score,
                evidence=[p.photo_id for p in newest_first(seen)[:MAX_EVIDENCE]],
                photo_ids=frozenset(p.photo_id for p in seen),
            )
        )
    affinities.sort(key=lambda a: (-a.score, -a.photo_count, a.name))
    return affinities


def _rollup(
    affinities: Sequence[BrandAffinity], key: str, group_of: Callable[[BrandAffinity], str]
) -> list[dict[str, object]]:
    brands: dict[str, list[str]] = defaultdict(list)
    photo_ids: dict[str, set[int]] = defaultdict(set)
    for affinity in affinities:  # already best first, so each group's brand list is too
        group = group_of(affinity)
        brands[group].append(affinity.name)
        photo_ids[group] |= affinity.photo_ids or set(affinity.evidence)  # hand-built entries: evidence
    ranked = sorted(brands, key=lambda group: (-len(photo_ids[group]), group))
    return [{key: group, "photo_count": len(photo_ids[group]), "brands": brands[group]} for group in ranked]


def category_counts(affinities: Sequence[BrandAffinity]) -> list[dict[str, object]]:
    """[{"category", "photo_count", "brands": [names]}], most photos first; a photo counts once per category."""
    return _rollup(affinities, "category", lambda a: a.category)


def parent_counts(affinities: Sequence[BrandAffinity]) -> list[dict[str, object]]:
    """[{"parent", "photo_count", "brands": [names]}], most photos first; a photo counts once per parent."""
    return _rollup(affinities, "parent", lambda a: a.parent)


@dataclass
class Mood:
    weekly: list[dict[str, object]]
    by_place: list[dict[str, object]]
    by_person: list[dict[str, object]]

    def as_dict(self) -> dict[str, object]:
        return {"weekly": self.weekly, "by_place": self.by_place, "by_person": self.by_person}


def smile_verdict(face: FaceFact) -> bool | None:
    """Whether a face smiles: the smile flag when there is one, else a "happy" expression; None if unread."""
    if face.smiling is not None:
        return face.smiling
    if face.expression is not None:
        return face.expression == "happy"
    return None


def _share(smiles: int, faces: int) -> float:
    return round(smiles / faces, 3) if faces else 0.0


def _tally(faces: Iterable[FaceFact]) -> tuple[int, int]:
    verdicts = [v for v in map(smile_verdict, faces) if v is not None]
    return len(verdicts), sum(verdicts)


def _weekly(photos: Sequence[PhotoFacts]) -> list[dict[str, object]]:
    faces: dict[tuple[int, int], int] = defaultdict(int)
    smiles: dict[tuple[int, int], int] = defaultdict(int)
    expressions: dict[tuple[int, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for photo in photos:
        if photo.taken_at is None:
            continue
        year, week, _ = photo.taken_at.isocalendar()
        for face in photo.faces:
            verdict = smile_verdict(face)
            if verdict is None:
                continue
            faces[year, week] += 1
            smiles[year, week] += verdict
            if face.expression is not None:
                expressions[year, week][face.expression] += 1
    return [
        {
            "week": f"{year}-W{week:02d}",
            "faces": faces[year, week],
            "smiles": smiles[year, week],
            "smile_share": _share(smiles[year, week], faces[year, week]),
            "expressions": dict(sorted(expressions[year, week].items())),
        }
        for year, week in sorted(faces)
    ]


def _by_place(
    photos: Sequence[PhotoFacts], place_of: Callable[[PhotoFacts], str | None]
) -> list[dict[str, object]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for photo in photos:
        place = place_of(photo)
        faces, smiles = _tally(photo.faces)
        if place is None or not faces:
            continue
        counts[place][0] += faces
        counts[place][1] += smiles
    rows = sorted(counts.items(), key=lambda item: (-item[1][0], item[0]))
    return [{"place": p, "faces": f, "smiles": s, "smile_share": _share(s, f)} for p, (f, s) in rows]


def _by_person(photos: Sequence[PhotoFacts], owner: int) -> list[dict[str, object]]:
    # per person: [photos together, owner faces read, owner smiles]
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for photo in photos:
        owner_faces, owner_smiles = _tally(f for f in photo.faces if f.person_id == owner)
        if not owner_faces:
            continue  # the owner is absent, or their face has no smile or expression reading
        others = {f.person_id for f in photo.faces if f.person_id is not None and f.person_id != owner}
        for person in others:
            counts[person][0] += 1
            counts[person][1] += owner_faces
            counts[person][2] += owner_smiles
    rows = sorted(counts.items(), key=lambda item: (-item[1][0], item[0]))
    return [
        {"person_id": p, "photos": n, "owner_smiles": s, "owner_faces": f, "smile_share": _share(s, f)}
        for p, (n, f, s) in rows
    ]


def mood(
    photos: Sequence[PhotoFacts], owner: int | None, place_of: Callable[[PhotoFacts], str | None]
) -> Mood:
    """Smiles and expressions of every face with a reading: by ISO week, by place, and the owner's by companion.

    A face counts when it has a smile flag or an expression; it smiles when the flag says so or, lacking
    a flag, when its expression is "happy". by_person needs the owner and lists other people only.
    """
    return Mood(
        weekly=_weekly(photos),
        by_place=_by_place(photos, place_of),
        by_person=_by_person(photos, owner) if owner is not None else [],
    )
