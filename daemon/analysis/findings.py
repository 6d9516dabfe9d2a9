"""Typed findings: what a detector reports about one photo.

Every finding is stored as (kind, label, confidence, bbox, attrs). Subclasses add typed
fields; those become ``attrs`` in the index, so the table stays generic while detectors
and their consumers work with real types.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

BBox = tuple[float, float, float, float]
"""x, y, width, height in pixels of the upright, full-size image."""


@dataclass(frozen=True, kw_only=True)
class Finding:
    kind: ClassVar[str] = "finding"
    label: str
    confidence: float = 1.0
    bbox: BBox | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _BASE_FIELDS: ClassVar[frozenset[str]] = frozenset({"label", "confidence", "bbox", "extra"})

    def embedding_payload(self) -> tuple[str, int, bytes] | None:
        """(embedder id, dimension, float32 bytes) for findings that carry an identity vector."""
        return None

    def attrs(self) -> dict[str, Any]:
        values = {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in self._BASE_FIELDS
        }
        return {**values, **self.extra}


@dataclass(frozen=True, kw_only=True)
class GpsFinding(Finding):
    kind: ClassVar[str] = "gps"
    lat: float
    lon: float
    altitude_m: float | None = None
    direction_deg: float | None = None
    speed_kmh: float | None = None
    gps_time_utc: str | None = None


@dataclass(frozen=True, kw_only=True)
class TimeFinding(Finding):
    kind: ClassVar[str] = "time"
    source: str
    offset: str | None = None
    utc: str | None = None
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class DeviceFinding(Finding):
    kind: ClassVar[str] = "device"
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    software: str | None = None
    body_serial: str | None = None
    lens_serial: str | None = None


@dataclass(frozen=True, kw_only=True)
class NameFinding(Finding):
    """A person's name written into the file (author, copyright holder, camera owner)."""

    kind: ClassVar[str] = "name"
    field: str


@dataclass(frozen=True, kw_only=True)
class PlaceFinding(Finding):
    kind: ClassVar[str] = "place"
    city: str | None
    admin: str | None
    country_code: str
    lat: float
    lon: float
    distance_km: float


@dataclass(frozen=True, kw_only=True)
class WrittenPlaceFinding(Finding):
    """A place typed into the file (IPTC or XMP city, sub-location, region, country): as telling
    as GPS for a city, and kept when GPS was stripped."""

    kind: ClassVar[str] = "written_place"
    sublocation: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    country_code: str | None = None
    source: str


@dataclass(frozen=True, kw_only=True)
class KeywordsFinding(Finding):
    """Keywords (IPTC Keywords, XMP dc:subject): the photographer's own tags of what is shown."""

    kind: ClassVar[str] = "keywords"
    keywords: list[str]
    source: str


@dataclass(frozen=True, kw_only=True)
class CaptionFinding(Finding):
    """A caption or description written into the file (IPTC, XMP dc:description, EXIF)."""

    kind: ClassVar[str] = "caption"
    source: str


@dataclass(frozen=True, kw_only=True)
class RawPairFinding(Finding):
    """A raw file whose camera also wrote a JPEG or HEIC of the same moment beside it (same name):
    the profile counts the moment once, through the other file."""

    kind: ClassVar[str] = "raw_pair"
    sibling: str


@dataclass(frozen=True, kw_only=True)
class MetadataIssue(Finding):
    """Metadata that was present but rejected (for example GPS at 0/0), with the reason."""

    kind: ClassVar[str] = "metadata_issue"
    reason: str


# -- faces, text, brands, codes, nudity----------------------------------------


CHILD_AGE = 13.0
"""A face estimated younger than this is a child's (for exposure, the profile and scrub)."""


@dataclass(frozen=True, kw_only=True)
class FaceFinding(Finding):
    kind: ClassVar[str] = "face"
    age: float | None = None
    sex: str | None = None
    expression: dict[str, Any] | None = None
    smiling: bool | None = None
    models: dict[str, str] = field(default_factory=dict)
    landmarks: list[list[float]] | None = None
    embedding_dim: int | None = None
    person_id: int | None = None
    # Stored in the faces table, not in attrs: vectors are large and must never be compared
    # across embedders, so they travel with the embedder's id.
    embedding: bytes | None = field(default=None, repr=False)
    embedder: str | None = None

    _PRIVATE: ClassVar[frozenset[str]] = frozenset({"embedding", "embedder"})

    def attrs(self) -> dict[str, Any]:
        return {k: v for k, v in super().attrs().items() if k not in self._PRIVATE}

    def embedding_payload(self) -> tuple[str, int, bytes] | None:
        if self.embedding is None or self.embedder is None or self.embedding_dim is None:
            return None
        return self.embedder, self.embedding_dim, self.embedding


@dataclass(frozen=True, kw_only=True)
class TextFinding(Finding):
    kind: ClassVar[str] = "text"
    polygon: list[list[float]] | None = None
    # len(label) + 1 fractions along the line where each character starts (see
    # detectors/text/line_geometry.py); None when the recogniser gave no character positions
    char_edges: list[float] | None = None


@dataclass(frozen=True, kw_only=True)
class BrandFinding(Finding):
    kind: ClassVar[str] = "brand"
    category: str
    parent: str
    via: str  # "text", "code" or "logo"
    matched: str
    score: float


@dataclass(frozen=True, kw_only=True)
class CodeFinding(Finding):
    """A barcode or QR code: label is its format; ``payload`` is masked where it holds a secret."""

    kind: ClassVar[str] = "code"
    payload_type: str
    payload: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class NudityFinding(Finding):
    kind: ClassVar[str] = "nudity"
    exposed: bool
    body_part: str


F = TypeVar("F", bound=Finding)


def first_of(findings: list[Finding], cls: type[F]) -> F | None:
    for finding in findings:
        if isinstance(finding, cls):
            return finding
    return None
