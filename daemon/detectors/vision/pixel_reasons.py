"""Exposure reasons from what the pixels show: alcohol, children's things next to a child, a night out.

The objects detector (COCO boxes) and the labels detector (ImageNet classes grouped into
categories) find things a marketer pays for. Their findings raise these reasons, whichever of the
two found them (one reason per code per photo, the finding behind it named in its parts):

- ``alcohol`` (10): a wine glass, or a whole-image label "alcohol" (beer, wine, a cocktail). A
  bottle alone is not alcohol (water, oil, a soft drink): no reason. Drinking is what insurers,
  employers and alcohol brands buy.
- ``children_items`` (10): a teddy bear or the label "children" (a cot, a pram, toys) in a photo
  with a child's face: not a toy shop's window, but the child it belongs to, the household a
  baby-products marketer targets. Added to the child's own reason (``child``, from the faces).
  Without a child's face, no reason: the things alone are a segment (parent), not a risk.
- ``nightlife`` (5): the label "nightlife" (a stage, live music, a cinema, a casino): when and
  where you go out, what event promoters, bars and dating apps buy.

Mixed into both detector classes (``class ObjectsDetector(PixelReasons, ...)``). The hook sees the
photo's faces through ``exposure_sees`` (read by profile/exposure.py's scorer); the owner's own
face is never a child's, and the user's child marks win over the estimated age
(``ExposureContext.is_child``). ``[alerts.points]`` overrides any of the three codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, NamedTuple

from shadowlens.daemon.api import (
    ExposureContext,
    ExposurePoints,
    FindingHooks,
    Part,
    Reason,
    StoredFinding,
)

ALCOHOL_POINTS = 10
CHILDREN_ITEMS_POINTS = 10
NIGHTLIFE_POINTS = 5


class PixelSign(NamedTuple):
    """A finding (kind, label) that raises a reason, and how the reason's line names it."""

    kind: str
    label: str
    words: str


# Objects first (rank 0: a box one can point at), then whole-image labels (rank 1).
ALCOHOL = (
    PixelSign("object", "wine glass", "a wine glass"),
    PixelSign("label", "alcohol", "alcoholic drinks (image label)"),
)
CHILDREN_ITEMS = (
    PixelSign("object", "teddy bear", "a teddy bear"),
    PixelSign("label", "children", "children's things (image label)"),
)
NIGHTLIFE = (PixelSign("label", "nightlife", "a show, a concert, a cinema or a casino (image label)"),)
_RANK = {"object": 0, "label": 1}


def _parts(findings: Sequence[StoredFinding], signs: Sequence[PixelSign]) -> tuple[Part, ...]:
    present = {(f.kind, f.label.casefold()) for f in findings}
    return tuple(
        Part(_RANK.get(s.kind, 2), f"{s.kind}:{s.label}", s.words)
        for s in signs
        if (s.kind, s.label) in present
    )


def _is_child(face: StoredFinding, context: ExposureContext) -> bool:
    """A child's face, as the faces detector's own reason counts it: never the owner's."""
    if face.person_id is not None and face.person_id == context.owner:
        return False
    age = face.attrs.get("age")
    return context.is_child(face.person_id, float(age) if isinstance(age, int | float) else None)


def pixel_reasons(
    findings: Sequence[StoredFinding], context: ExposureContext, points: ExposurePoints
) -> list[Reason]:
    """The reasons a photo's objects and labels raise; ``findings`` may hold its faces too."""
    things = [f for f in findings if f.kind in _RANK]
    reasons = []
    alcohol = _parts(things, ALCOHOL)
    if alcohol:
        reasons.append(
            Reason("alcohol", points.of("alcohol", ALCOHOL_POINTS), "alcohol in the picture", parts=alcohol)
        )
    toys = _parts(things, CHILDREN_ITEMS)
    if toys and any(_is_child(f, context) for f in findings if f.kind == "face"):
        children = points.of("children_items", CHILDREN_ITEMS_POINTS)
        reasons.append(Reason("children_items", children, "children's things next to a child", parts=toys))
    night = _parts(things, NIGHTLIFE)
    if night:
        reasons.append(
            Reason("nightlife", points.of("nightlife", NIGHTLIFE_POINTS), "going out", parts=night)
        )
    return reasons


class PixelReasons(FindingHooks):
    """The exposure hook of the objects and labels detectors: mix in before the detector's base,
    ``class ObjectsDetector(PixelReasons, _YoloDetector)``. It declares nothing else (counts,
    reads and facts stay the detector's own)."""

    # The other detectors' findings of these kinds reach ``exposure`` too (see profile/exposure.py).
    exposure_sees: ClassVar[frozenset[str]] = frozenset({"face"})

    @classmethod
    def exposure(
        cls, findings: Sequence[StoredFinding], context: ExposureContext, points: ExposurePoints
    ) -> list[Reason]:
        return pixel_reasons(findings, context, points)


__all__ = ["ALCOHOL", "CHILDREN_ITEMS", "NIGHTLIFE", "PixelReasons", "PixelSign", "pixel_reasons"]
