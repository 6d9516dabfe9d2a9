"""The 0-100 exposure score of one photo, with its reasons in plain words.

The reasons come from the detectors (their ``exposure`` hooks, see analysis/hooks.py); a hook
gets its own detector's findings of the photo, followed by the findings of the kinds it names in
``exposure_sees`` from the other detectors (children's things matter next to a child's face,
which the faces detector finds). This module only settles them: one reason per code however many detectors raise it (their parts
listed once each, the points counted once), a reason's ``supersedes`` honoured, the points of
``[alerts.points]`` applied, and the total capped at 100. Reasons name kinds of data, never the
values: they are shown in notifications and logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from shadowlens.daemon.analysis.hooks import ExposureContext, Hooks, Reason, StoredFinding
from shadowlens.daemon.config import ExposurePoints
from shadowlens.daemon.profile.facts import PhotoFacts, installed_hooks

# Built-in reasons are listed in the order of [alerts.points]; a plugin's come after them.
ORDER = tuple(ExposurePoints.model_fields)


def score(
    photo: PhotoFacts, context: ExposureContext, points: ExposurePoints, hooks: Hooks | None = None
) -> tuple[int, list[Reason]]:
    hooks = hooks or installed_hooks()
    where = f"{photo.city}, {photo.country_code}" if photo.city and photo.country_code else None
    if where != context.where:
        context = replace(context, where=where)
    mine: dict[str, list[StoredFinding]] = {}
    for finding in photo.findings:
        mine.setdefault(finding.detector, []).append(finding)
    raised: list[Reason] = []
    for name in hooks.scorers:
        if name not in mine:
            continue  # no finding of its own: nothing for it to say
        hook = hooks.of(name)
        sees = hook.exposure_sees
        others = [f for f in photo.findings if f.detector != name and f.kind in sees] if sees else []
        raised += hook.exposure([*mine[name], *others], context, points)
    reasons = [r for r in settle(raised, points) if r.points > 0]
    return min(100, sum(r.points for r in reasons)), reasons


def settle(raised: Sequence[Reason], points: ExposurePoints) -> list[Reason]:
    """One reason per code, in the order of ``ORDER`` then of appearance, with its final text
    and points; codes another reason supersedes are left out."""
    by_code: dict[str, list[Reason]] = {}
    for reason in raised:
        by_code.setdefault(reason.code, []).append(reason)
    superseded = {code for reason in raised for code in reason.supersedes}
    settled = []
    for code, group in by_code.items():
        if code in superseded:
            continue
        parts = sorted({(p.rank, p.key): p for r in group for p in r.parts}.values())
        limit = min((r.most for r in group if r.most is not None), default=None)
        if parts:
            text = f"{group[0].text}: " + ", ".join(p.words for p in parts[:limit])
        else:
            text = "; ".join(dict.fromkeys(r.text for r in group))
        settled.append(Reason(code, points.of(code, max(r.points for r in group)), text))
    rank = {code: i for i, code in enumerate(ORDER)}
    return sorted(settled, key=lambda r: rank.get(r.code, len(rank)))


def reasons_text(reasons: Sequence[Reason | dict[str, object]]) -> list[str]:
    return [str(r) if isinstance(r, Reason) else f"{r['text']} (+{r['points']})" for r in reasons]


__all__ = ["ExposureContext", "Reason", "reasons_text", "score", "settle"]
