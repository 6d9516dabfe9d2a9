"""What you enjoy: where, doing what and with whom your face looks happiest, as a marketer reads it.

Each face read by a 7-class expression model is smiling (the calibrated ``smiling``) or not. Faces are
grouped by what the photo shows (activities: the labels detector's categories and groups of COCO
objects), where it was taken (home, work, trips, a city) and who is with you (alone, with other
people, with a person you named). A group's share of happy faces is compared with all the other
faces: a statement is made only when the group has at least ``MIN_FACES`` faces from ``MIN_PHOTOS``
photos, its Wilson lower bound (95%) is above the Wilson upper bound of the other faces, and it
beats the overall share by ``MIN_LIFT``. So 2 happy faces of 2 say nothing, and neither does a
small lift in a big library.
Per dimension, only the group with the highest lower bound may be called the happiest.

The faces are the owner's when the profile knows the owner (a marketer profiles *you*), otherwise
every face; the output says which. No statement is better than a wrong one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from shadowlens.daemon.profile.facts import FaceFact, PhotoFacts
from shadowlens.daemon.profile.taste import newest_first

# The classes of the 7-class expression models (FER2013's). The landmark fallback labels a face
# "smiling" or "not smiling" from its mouth's shape alone: a geometric guess, not a reading of the
# expression, so those faces never count here (whatever their ``smiling`` flag says).
SEVEN_CLASSES = frozenset({"angry", "disgust", "fearful", "happy", "sad", "surprised", "neutral"})
MIN_FACES = 5  # in the group, and in the faces it is compared with
# The faces of one photo are not independent readings (one group photo, everyone smiling for the
# camera), so a group also needs faces from this many photos.
MIN_PHOTOS = 3
MIN_LIFT = 0.15  # the group's share must beat the overall share by this much (15 points)
Z = 1.96  # 95% Wilson intervals

# The labels detector's categories, as the place in a sentence ("You look happiest ...").
LABEL_ACTIVITIES = {
    "food": "over food",
    "coffee": "over coffee",
    "alcohol": "over a drink",
    "soft_drinks": "with a soft drink",
    "sport": "doing sport",
    "pets": "with animals",
    "fashion": "dressed up",
    "cars": "around cars",
    "travel": "travelling",
    "nightlife": "at shows and nights out",
    "children": "with children's things around",
    "home": "in a home setting",
    "gadgets": "with gadgets",
}
# COCO objects specific enough to say what is going on (no cup, bottle, car or phone).
OBJECT_ACTIVITIES = {
    "food": ("pizza", "sandwich", "hot dog", "cake", "donut", "broccoli", "carrot"),
    "alcohol": ("wine glass",),
    "sport": (
        "sports ball", "baseball bat", "baseball glove", "tennis racket", "frisbee",
        "skis", "snowboard", "surfboard", "skateboard",
    ),
    "pets": ("dog", "cat"),
    "travel": ("suitcase", "airplane"),
    "children": ("teddy bear",),
    "gadgets": ("laptop", "keyboard", "mouse"),
}  # fmt: skip
ACTIVITY_OF_OBJECT = {obj: activity for activity, objs in OBJECT_ACTIVITIES.items() for obj in objs}
PLACE_PHRASES = {"home": "at home", "work": "at work", "trip": "on trips"}


@dataclass(frozen=True, order=True)
class Group:
    dimension: str  # "activity", "place" or "company"
    key: str  # "food", "home", "Lisbon", "alone", "person:4"
    phrase: str = field(compare=False)  # "over food", "in Lisbon", "with Anna"


@dataclass
class _Tally:
    faces: int = 0
    happy: int = 0
    # (photo, happy) per counted face, for the evidence
    seen: list[tuple[PhotoFacts, bool]] = field(default_factory=list)

    def add(self, photo: PhotoFacts, happy: bool) -> None:
        self.faces += 1
        self.happy += happy
        self.seen.append((photo, happy))


@dataclass(frozen=True)
class Statement:
    group: Group
    sentence: str
    faces: int
    happy: int
    share: float
    lower_bound: float
    others_upper_bound: float
    evidence: list[int]  # photo ids: those with a happy face first, each newest first

    def as_dict(self, path_of: Callable[[int], str]) -> dict[str, object]:
        return {
            "dimension": self.group.dimension,
            "group": self.group.key,
            "sentence": self.sentence,
            "faces": self.faces,
            "happy": self.happy,
            "share": round(self.share, 3),
            "lower_bound": round(self.lower_bound, 3),
            "others_upper_bound": round(self.others_upper_bound, 3),
            "evidence": [path_of(photo_id) for photo_id in self.evidence],
        }


@dataclass(frozen=True)
class Enjoyment:
    whose: str  # "owner" (the owner's faces) or "all" (every face: the owner is unknown)
    faces: int
    happy: int
    statements: list[Statement]

    @property
    def baseline(self) -> float:
        return self.happy / self.faces if self.faces else 0.0

    def as_dict(self, path_of: Callable[[int], str]) -> dict[str, object]:
        return {
            "whose": self.whose,
            "faces": self.faces,
            "happy": self.happy,
            "baseline": round(self.baseline, 3),
            "statements": [s.as_dict(path_of) for s in self.statements],
        }


def happy_or_not(face: FaceFact) -> bool | None:
    """Whether a face read by a 7-class expression model is smiling; None for any other reading.

    ``smiling`` is the calibrated claim (P(happy) above a threshold chosen for precision), not the
    top class: a hesitant "happy" counts as not smiling rather than inflate the share."""
    if face.expression not in SEVEN_CLASSES:
        return None
    return bool(face.smiling) if face.smiling is not None else face.expression == "happy"


def wilson(successes: int, trials: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a binomial share; (0, 1) with no trials."""
    if trials == 0:
        return 0.0, 1.0
    p, z2 = successes / trials, Z * Z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    margin = Z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - margin), min(1.0, centre + margin)


def enjoyment(
    photos: Sequence[PhotoFacts],
    owner: int | None,
    place_of: Callable[[PhotoFacts], str | None],
    names: Mapping[int, str] | None = None,
) -> Enjoyment:
    """The statements the faces of ``photos`` support; ``names`` are the persons the user named."""
    names = names or {}
    total = _Tally()
    groups: dict[Group, _Tally] = defaultdict(_Tally)
    for photo in photos:
        counted = [
            (i, happy)
            for i, face in enumerate(photo.faces)
            if (owner is None or face.person_id == owner) and (happy := happy_or_not(face)) is not None
        ]
        if not counted:
            continue
        where = _place(photo, place_of)
        activities = _activities(photo)
        for i, happy in counted:
            total.add(photo, happy)
            for group in (*activities, *_company(photo, i, names), *((where,) if where else ())):
                groups[group].add(photo, happy)
    statements = []
    for dimension in ("activity", "place", "company"):
        said = _best(dimension, groups, total, owner is not None)
        if said is not None:
            statements.append(said)
    return Enjoyment("owner" if owner is not None else "all", total.faces, total.happy, statements)


def _activities(photo: PhotoFacts) -> list[Group]:
    keys = {value for key, value in photo.facts if key == "label" and value in LABEL_ACTIVITIES}
    keys |= {
        ACTIVITY_OF_OBJECT[value]
        for key, value in photo.facts
        if key == "object" and value in ACTIVITY_OF_OBJECT
    }
    return [Group("activity", key, LABEL_ACTIVITIES[key]) for key in sorted(keys)]


def _place(photo: PhotoFacts, place_of: Callable[[PhotoFacts], str | None]) -> Group | None:
    label = place_of(photo)
    if label in PLACE_PHRASES:
        return Group("place", label, PLACE_PHRASES[label])
    # A "frequent" place is named by its town; a photo off every place by the town it was taken in.
    town = photo.city if label in (None, "frequent") else label
    return Group("place", town, f"in {town}") if town and photo.has_gps else None


def _company(photo: PhotoFacts, index: int, names: Mapping[int, str]) -> Iterable[Group]:
    """The company of the photo's face at ``index``: every other face, read or not, is someone."""
    others = photo.faces[:index] + photo.faces[index + 1 :]
    if not others:
        yield Group("company", "alone", "alone")
        return
    yield Group("company", "with people", "with other people")
    named = {f.person_id for f in others if f.person_id is not None and f.person_id in names}
    for person in sorted(named - {photo.faces[index].person_id}):
        yield Group("company", f"person:{person}", f"with {names[person]}")


def _best(dimension: str, groups: Mapping[Group, _Tally], total: _Tally, yours: bool) -> Statement | None:
    """The dimension's group with the highest lower bound, if it clears the bar; else None."""
    ranked = []
    for group, tally in groups.items():
        if group.dimension != dimension or tally.faces < MIN_FACES:
            continue
        if len({photo.photo_id for photo, _ in tally.seen}) < MIN_PHOTOS:
            continue
        rest_faces, rest_happy = total.faces - tally.faces, total.happy - tally.happy
        low, _ = wilson(tally.happy, tally.faces)
        ranked.append((low, group, tally, rest_faces, rest_happy))
    if not ranked:
        return None
    # Ties (the same faces "with other people" and "with Anna") go to the more specific group.
    low, group, tally, rest_faces, rest_happy = max(
        ranked, key=lambda r: (r[0], r[2].faces, r[1].key.startswith("person:"), r[1])
    )
    _, rest_high = wilson(rest_happy, rest_faces)
    share, baseline = tally.happy / tally.faces, total.happy / total.faces
    if rest_faces < MIN_FACES or low <= rest_high or share - baseline < MIN_LIFT:
        return None
    subject = "You look" if yours else "Faces in your photos look"
    sentence = (
        f"{subject} happiest {group.phrase}: {tally.happy} of {tally.faces} faces happy"
        f" ({share:.0%}), against {baseline:.0%} overall"
    )
    return Statement(group, sentence, tally.faces, tally.happy, share, low, rest_high, _evidence(tally))


def _evidence(tally: _Tally) -> list[int]:
    happy = newest_first({p.photo_id: p for p, h in tally.seen if h}.values())
    rest = newest_first({p.photo_id: p for p, h in tally.seen if not h}.values())
    ids = list(dict.fromkeys(p.photo_id for p in (*happy, *rest)))
    return ids
