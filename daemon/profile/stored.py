"""Reading a stored profile's claims, for the CLI and the TUI.

Kept apart from claims.py, which builds them from PhotoFacts: the TUI reads stored profiles and
must not import the analysis code that building needs (import-linter checks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def claims_of(profile: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The profile's claims; for a profile stored before claims existed, its sentences as claims
    without photos (its segments and enjoyment statements kept their evidence paths)."""
    if "claims" in profile:
        return list(profile["claims"])
    old: list[dict[str, Any]] = [
        _old_claim(f"statement.{n}", "statement", str(text), [], None)
        for n, text in enumerate(profile.get("statements") or [], 1)
    ]
    old += [
        _old_claim(
            f"segment.{s['name']}", "segment", s["sentence"], s["evidence"], s["confidence"], s.get("why")
        )
        for s in profile.get("segments") or []
    ]
    old += [
        _old_claim(f"enjoyment.{s['dimension']}", "enjoyment", s["sentence"], s["evidence"], None)
        for s in (profile.get("enjoyment") or {}).get("statements") or []
    ]
    return old


def _old_claim(
    claim_id: str, kind: str, text: str, evidence: list[str], confidence: float | None, why: str | None = None
) -> dict[str, Any]:
    return {
        "id": claim_id,
        "kind": kind,
        "text": text,
        "count": len(evidence),
        "days": None,
        "confidence": confidence,
        "why": why,
        "evidence": list(evidence),
        "photo_ids": None,  # unknown: such a profile kept paths only
    }
