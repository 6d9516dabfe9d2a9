"""Habits a marketer reads off the timestamps: when you take photos, how often, and on which phones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shadowlens.daemon.profile.facts import PhotoFacts

_WEEK_SECONDS = 7 * 24 * 3600.0
_NIGHT_HOURS = range(0, 5)  # 00:00-04:59: awake when most people sleep


@dataclass
class Habits:
    hours: list[int]  # 24 counts of photos by local hour taken
    weekdays: list[int]  # 7 counts, Monday first
    devices: list[dict[str, object]]  # most used first
    photos_per_week: float
    first: datetime | None
    last: datetime | None
    night_share: float  # share of dated photos taken 00:00-04:59

    def as_dict(self) -> dict[str, object]:
        return {
            "hours": list(self.hours),
            "weekdays": list(self.weekdays),
            "devices": [dict(device) for device in self.devices],
            "photos_per_week": self.photos_per_week,
            "first": _iso(self.first),
            "last": _iso(self.last),
            "night_share": self.night_share,
        }


@dataclass
class _DeviceUse:
    photo_count: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, taken_at: datetime | None) -> None:
        self.photo_count += 1
        if taken_at is not None:
            self.first = taken_at if self.first is None else min(self.first, taken_at)
            self.last = taken_at if self.last is None else max(self.last, taken_at)


def habits(photos: Sequence[PhotoFacts]) -> Habits:
    """Histograms and rates over the dated photos; devices count every photo, dated or not."""
    hours = [0] * 24
    weekdays = [0] * 7
    uses: dict[str, _DeviceUse] = {}
    first: datetime | None = None
    last: datetime | None = None
    dated = 0
    for photo in photos:
        taken_at = photo.taken_at
        device = (photo.device or "").strip()
        if device:
            uses.setdefault(device, _DeviceUse()).add(taken_at)
        if taken_at is None:
            continue
        dated += 1
        hours[taken_at.hour] += 1
        weekdays[taken_at.weekday()] += 1
        first = taken_at if first is None else min(first, taken_at)
        last = taken_at if last is None else max(last, taken_at)
    weeks = 1.0
    if first is not None and last is not None:
        weeks = max(1.0, (last - first).total_seconds() / _WEEK_SECONDS)
    ranked = sorted(uses.items(), key=lambda item: (-item[1].photo_count, item[0]))
    return Habits(
        hours=hours,
        weekdays=weekdays,
        devices=[
            {"device": name, "photo_count": use.photo_count, "first": _iso(use.first), "last": _iso(use.last)}
            for name, use in ranked
        ],
        photos_per_week=dated / weeks,
        first=first,
        last=last,
        night_share=sum(hours[h] for h in _NIGHT_HOURS) / dated if dated else 0.0,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
