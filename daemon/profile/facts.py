"""What the profile builders read: one plain record per photo, loaded from the index in one place.

The builders (places, habits, people, brands, mood, segments, exposure) are pure functions over
these records, so they are tested without an index and never write one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shadowlens.daemon.analysis.findings import CHILD_AGE


@dataclass(frozen=True)
class BrandHit:
    name: str
    category: str
    parent: str
    via: str  # "text", "code" or "logo"


@dataclass(frozen=True)
class FaceFact:
    face_id: int  # row id in the faces table (the identity embedding), -1 when not embedded
    person_id: int | None
    age: float | None
    smiling: bool | None
    expression: str | None  # the top class of the expression model, e.g. "happy"
    # bbox in full-size upright pixels (x, y, w, h)
    bbox: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
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
    # finding labels by kind, for rules that only need presence
    objects: tuple[str, ...] = ()  # kind "object" labels (YOLO class names)
    scenes: tuple[str, ...] = ()  # kind "scene" labels: document, id_card, screenshot, ...
    pii: tuple[str, ...] = ()  # kind "pii" labels: email, phone, address, card, iban, mrz, ...
    codes: tuple[str, ...] = ()  # kind "code" payload types: url, wifi, contact, boarding_pass, product
    nudity_exposed: tuple[str, ...] = ()  # NudeNet classes found exposed
    nudity_covered: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def has_gps(self) -> bool:
        return self.lat is not None and self.lon is not None


__all__ = ["CHILD_AGE", "BrandHit", "FaceFact", "PhotoFacts"]
