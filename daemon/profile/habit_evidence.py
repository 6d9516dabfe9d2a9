"""How much a habit statement rests on: distinct days, a confidence from them, and its years.

Photos come in bursts (forty shots of one dinner), so a habit is counted in the distinct days
it shows on, never in photos. Confidence grows with those days and reaches 0.9 at
``full_days``; below ``min_days`` nothing is said at all. The devices, rhythm, company and
going-out statements all use this one measure, so their confidences compare.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from shadowlens.daemon.profile.claims import Claim
from shadowlens.daemon.profile.facts import PhotoFacts
from shadowlens.daemon.profile.place_days import NIGHT_ENDS
from shadowlens.daemon.profile.taste import newest_first

K = math.log(10)  # 1 - exp(-K) = 0.9
# Evidence this close to the library's newest photo is "since YEAR" (still going on); older
# evidence is "YEAR-YEAR". Measured from the newest photo, not today: a library not synced for
# two years says what it knew then, not that every habit stopped.
STILL_GOING_ON = timedelta(days=365)


@dataclass(frozen=True)
class HabitRule:
    min_days: int = 3  # below this many distinct days nothing is said
    full_days: int = 10  # confidence 0.9 at this many days
    min_confidence: float = 0.5

    def confidence(self, days: int) -> float:
        if days < self.min_days:
            return 0.0
        return round(1 - math.exp(-K * days / self.full_days), 2)

    def holds(self, days: int) -> bool:
        return days >= self.min_days and self.confidence(days) >= self.min_confidence

    def claim(self, claim_id: str, text: str, photos: Iterable[PhotoFacts], days: int) -> Claim:
        """The statement with all its photos, newest first; its kind is the id's first part."""
        evidence = [p.photo_id for p in newest_first(photos)]
        kind = claim_id.partition(".")[0]
        return Claim(claim_id, kind, text.rstrip(), evidence, confidence=self.confidence(days))


def evening_of(moment: datetime) -> date:
    """The evening a photo of a night out belongs to: 01:00 on Sunday is Saturday's night."""
    return (moment - timedelta(hours=NIGHT_ENDS)).date()


def distinct_days(photos: Iterable[PhotoFacts]) -> int:
    """Calendar days, as every statement's "on N days" counts them."""
    return len({p.taken_at.date() for p in photos if p.taken_at is not None})


def newest(photos: Iterable[PhotoFacts]) -> datetime | None:
    return max((p.taken_at for p in photos if p.taken_at is not None), default=None)


def years(photos: Iterable[PhotoFacts], latest: datetime) -> str:
    """``since 2016`` while the habit goes on, ``2008-2010`` or ``in 2008`` once it stopped."""
    dates = [p.taken_at for p in photos if p.taken_at is not None]
    if not dates:
        return ""
    first, last = min(dates), max(dates)
    if latest - last <= STILL_GOING_ON:
        return f"since {first.year}"
    if first.year == last.year:
        return f"in {first.year}"
    return f"{first.year}-{last.year}"
