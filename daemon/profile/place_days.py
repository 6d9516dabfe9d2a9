"""The days behind a place's label: a home, a workplace or a haunt is a habit, not one afternoon.

A burst of photos at one spot (a walk, a museum, a weekend in a hotel) says nothing about where
someone lives or works. So every label counts distinct days, not photos:

- home: nights (22:00-05:59, a night belongs to the evening it started) and weekend days, on at
  least ``home_min_days`` of them in ``home_min_weeks`` different ISO weeks;
- work: weekdays with a photo in office hours (09:00-16:59) on ``work_min_days`` of them in
  ``work_min_weeks`` ISO weeks, and office days at least half the days spent there;
- frequent: ``frequent_min_days`` days.
Each also needs ``min_visits`` separate visits (runs of consecutive days; one per four weeks of a
longer run): a week's stay at one hotel is one visit. Anything less is a *visit*.

Old evidence counts for less: each day weighs 0.5 ** (age / half-life). Among several candidate
homes (or workplaces) the heaviest wins, and a label whose weighed days fall under half the
days it needs is in the past ("You lived in ..."): it was true, it no longer shows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

NIGHT_STARTS, NIGHT_ENDS = 22, 6
OFFICE_STARTS, OFFICE_ENDS = 9, 17
LONGEST_STAY_DAYS = 28  # holidays rarely last longer


@dataclass(frozen=True)
class PlaceRules:
    home_min_days: int = 3
    home_min_weeks: int = 2
    work_min_days: int = 3
    work_min_weeks: int = 2
    frequent_min_days: int = 3
    min_visits: int = 2
    half_life_days: float = 365.0


@dataclass(frozen=True)
class DayEvidence:
    """The distinct days of one place's dated photos, sorted by kind."""

    days: frozenset[date]  # every day with a photo there
    home_days: frozenset[date]  # nights (by the evening they started) and weekend days
    work_days: frozenset[date]  # weekdays with a photo in office hours
    home_photos: int  # photos taken at night or on a weekend
    work_photos: int  # photos taken on a weekday in office hours

    @property
    def visits(self) -> int:
        """Runs of consecutive days: three days in one hotel are one visit. A run counts once
        per ``LONGEST_STAY_DAYS`` it lasts: a month of photos every day is a life, not a stay."""
        ordered = sorted(self.days)
        runs: list[int] = []
        for i, day in enumerate(ordered):
            if i and (day - ordered[i - 1]).days == 1:
                runs[-1] += 1
            else:
                runs.append(1)
        return sum(-(-length // LONGEST_STAY_DAYS) for length in runs)


def day_evidence(times: Iterable[datetime]) -> DayEvidence:
    days: set[date] = set()
    home: set[date] = set()
    work: set[date] = set()
    home_photos = work_photos = 0
    for t in times:
        days.add(t.date())
        night = t.hour >= NIGHT_STARTS or t.hour < NIGHT_ENDS
        if night or t.weekday() >= 5:
            home_photos += 1
            # 02:00 on Tuesday is Monday's night, the same night as 23:00 on Monday
            home.add(t.date() - timedelta(days=1) if t.hour < NIGHT_ENDS else t.date())
        elif OFFICE_STARTS <= t.hour < OFFICE_ENDS:
            work_photos += 1
            work.add(t.date())
    return DayEvidence(frozenset(days), frozenset(home), frozenset(work), home_photos, work_photos)


def weeks(days: Iterable[date]) -> int:
    """Distinct ISO weeks."""
    return len({day.isocalendar()[:2] for day in days})


def weighed(days: Iterable[date], today: date | None, half_life_days: float) -> float:
    """Days weighed by their age: a day one half-life old counts for half."""
    if today is None:
        return float(sum(1 for _ in days))
    return math.fsum(math.pow(0.5, max(0, (today - day).days) / half_life_days) for day in days)


@dataclass(frozen=True)
class Verdict:
    label: str  # "home" | "work" | "frequent" | "visit"
    evidence_days: int  # the distinct days behind the label
    evidence_weeks: int
    weighed_days: float
    current: bool  # False: the evidence is old, the label is in the past


def judge(evidence: Sequence[DayEvidence], rules: PlaceRules, today: date | None) -> list[Verdict]:
    """One verdict per place: at most one home and one work, the heaviest evidence winning."""

    def weight(days: frozenset[date]) -> float:
        return weighed(days, today, rules.half_life_days)

    def habitual(e: DayEvidence, days: frozenset[date], min_days: int, min_weeks: int) -> bool:
        return len(days) >= min_days and weeks(days) >= min_weeks and e.visits >= rules.min_visits

    homes = [
        i
        for i, e in enumerate(evidence)
        if habitual(e, e.home_days, rules.home_min_days, rules.home_min_weeks)
    ]
    home = max(homes, key=lambda i: (weight(evidence[i].home_days), len(evidence[i].home_days)), default=None)
    offices = [
        i
        for i, e in enumerate(evidence)
        if i != home
        and habitual(e, e.work_days, rules.work_min_days, rules.work_min_weeks)
        and 2 * len(e.work_days) >= len(e.days)
    ]
    work = max(
        offices, key=lambda i: (weight(evidence[i].work_days), len(evidence[i].work_days)), default=None
    )
    verdicts = []
    for i, e in enumerate(evidence):
        if i == home:
            label, days, needed = "home", e.home_days, rules.home_min_days
        elif i == work:
            label, days, needed = "work", e.work_days, rules.work_min_days
        elif len(e.days) >= rules.frequent_min_days and e.visits >= rules.min_visits:
            label, days, needed = "frequent", e.days, rules.frequent_min_days
        else:
            label, days, needed = "visit", e.days, 1
        heft = weight(days)
        verdicts.append(Verdict(label, len(days), weeks(days), heft, heft >= needed / 2))
    return verdicts
