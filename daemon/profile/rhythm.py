"""Daily rhythm: when in the day and the week you take photos, as an ad scheduler reads it.

Counted in distinct days, not photos: forty shots of one dinner are one evening. A part of the
day is "most active" only when it has photos on at least half of the photo days and its Wilson
lower bound is above the next part's share; weekends only when their share of photo days is
clearly above the 2 in 7 that chance gives. The night itself is the ``night_owl`` segment's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from shadowlens.daemon.profile.claims import Claim
from shadowlens.daemon.profile.enjoyment import wilson
from shadowlens.daemon.profile.facts import PhotoFacts
from shadowlens.daemon.profile.habit_evidence import HabitRule


@dataclass(frozen=True)
class DayPart:
    name: str
    start: int  # first hour
    end: int  # hour it ends (exclusive); wraps past midnight when below start

    def holds(self, hour: int) -> bool:
        if self.start < self.end:
            return self.start <= hour < self.end
        return hour >= self.start or hour < self.end

    @property
    def hours(self) -> str:
        return f"{self.start:02d}:00-{self.end:02d}:00"


DAY_PARTS = (
    DayPart("morning", 5, 12),
    DayPart("afternoon", 12, 17),
    DayPart("evening", 17, 22),
    DayPart("night", 22, 5),
)
MIN_PART_SHARE = 0.5  # of the photo days
WEEKEND_CHANCE = 2 / 7
MIN_WEEKEND_SHARE = 0.5


def rhythm_claims(facts: Sequence[PhotoFacts], rule: HabitRule) -> list[Claim]:
    dated = [p for p in facts if p.taken_at is not None]
    days = {p.taken_at.date() for p in dated if p.taken_at is not None}
    if len(days) < rule.min_days:
        return []
    return [c for c in (_busiest_part(dated, len(days), rule), _weekends(dated, days, rule)) if c]


def _busiest_part(dated: list[PhotoFacts], total_days: int, rule: HabitRule) -> Claim | None:
    photos_in: dict[str, list[PhotoFacts]] = defaultdict(list)
    days_in: dict[str, set[date]] = defaultdict(set)
    for photo in dated:
        assert photo.taken_at is not None
        for part in DAY_PARTS:
            if part.holds(photo.taken_at.hour):
                photos_in[part.name].append(photo)
                days_in[part.name].add(photo.taken_at.date())
    ranked = sorted(DAY_PARTS, key=lambda part: (-len(days_in[part.name]), part.start))
    top, runner_up = ranked[0], ranked[1]
    top_days = len(days_in[top.name])
    low, _ = wilson(top_days, total_days)
    if top_days / total_days < MIN_PART_SHARE or low <= len(days_in[runner_up.name]) / total_days:
        return None
    if not rule.holds(top_days):
        return None
    text = (
        f"You take most photos in the {top.name} ({top.hours}): on {top_days} of your {total_days} photo days"
    )
    return rule.claim("rhythm.day_part", text, photos_in[top.name], top_days)


def _weekends(dated: list[PhotoFacts], days: set[date], rule: HabitRule) -> Claim | None:
    weekend_days = {d for d in days if d.weekday() >= 5}
    low, _ = wilson(len(weekend_days), len(days))
    if len(weekend_days) / len(days) < MIN_WEEKEND_SHARE or low <= WEEKEND_CHANCE:
        return None
    if not rule.holds(len(weekend_days)):
        return None
    photos = [p for p in dated if p.taken_at is not None and p.taken_at.date() in weekend_days]
    text = (
        f"You take photos mostly at weekends: {len(weekend_days)} of {len(days)} photo days "
        "are Saturdays or Sundays"
    )
    return rule.claim("rhythm.weekends", text, photos, len(weekend_days))
