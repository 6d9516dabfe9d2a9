"""Where you go out: the cities of your evenings with drinks, dinner or a show, away from home.

An evening out is a photo from 18:00 to 05:59 (a night belongs to the evening it started) that
shows a drink, a meal, a bar or a show: the labels detector's categories, specific COCO objects,
or a bar or restaurant brand. Those photos could as well be a dinner at home, so nothing is said
without a known home to tell them apart, and photos at home never count. Evenings, not photos,
are counted, per city.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date, datetime

from shadowlens.daemon.profile.claims import Claim, slug
from shadowlens.daemon.profile.facts import PhotoFacts
from shadowlens.daemon.profile.habit_evidence import HabitRule, evening_of, years
from shadowlens.daemon.profile.place_days import NIGHT_ENDS

EVENING_STARTS = 18
# (fact key, values): each is a key an installed detector gives (tests check them).
OUT_SIGNALS = {
    "label": frozenset({"nightlife", "alcohol", "food"}),
    "object": frozenset({"wine glass", "pizza", "hot dog", "cake", "donut", "sandwich"}),
}
OUT_BRAND_CATEGORIES = frozenset({"alcohol", "fast food"})
MAX_CITIES = 3


def going_out_claims(
    facts: Sequence[PhotoFacts],
    place_of: Callable[[PhotoFacts], str | None],
    home_known: bool,
    rule: HabitRule,
    latest: datetime,
) -> list[Claim]:
    if not home_known:
        return []  # a dinner at home and one out look the same without knowing where home is
    photos_in: dict[str, list[PhotoFacts]] = defaultdict(list)
    evenings_in: dict[str, set[date]] = defaultdict(set)
    for photo in facts:
        if photo.taken_at is None or not photo.city or not is_evening_out(photo):
            continue
        if place_of(photo) == "home":
            continue
        photos_in[photo.city].append(photo)
        evenings_in[photo.city].add(evening_of(photo.taken_at))
    ranked = sorted(evenings_in, key=lambda city: (-len(evenings_in[city]), city))
    claims: list[Claim] = []
    for city in ranked[:MAX_CITIES]:
        evenings = len(evenings_in[city])
        if not rule.holds(evenings):
            break
        photos = photos_in[city]
        text = (
            f"You go out in {city}: {evenings} evenings with drinks, food or a show {years(photos, latest)}"
        )
        claims.append(rule.claim(f"going_out.{slug(city)}", text, photos, evenings))
    return claims


def is_evening_out(photo: PhotoFacts) -> bool:
    if photo.taken_at is None:
        return False
    hour = photo.taken_at.hour
    if not (hour >= EVENING_STARTS or hour < NIGHT_ENDS):
        return False
    if any(value in OUT_SIGNALS.get(key, ()) for key, value in photo.facts):
        return True
    return any(brand.category in OUT_BRAND_CATEGORIES for brand in photo.brands)
