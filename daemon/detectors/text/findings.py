"""Findings of the text family: lines of text, brands, personal data and codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from shadowlens.daemon.findings import Finding


@dataclass(frozen=True, kw_only=True)
class TextFinding(Finding):
    kind: ClassVar[str] = "text"
    polygon: list[list[float]] | None = None


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
