"""Who you are with most: the people in your photos with you, on the most distinct days.

With a known owner (chosen by the user, or the person in most photos) the company is whoever is
in the same photos as the owner. Days decide, not photos: one wedding's hundred photos with a
cousin say less than ten separate days with a friend. No relationship is guessed ("partner",
"mother"): that would be a statement nothing in the photos backs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from shadowlens.daemon.profile.claims import Claim
from shadowlens.daemon.profile.facts import PhotoFacts
from shadowlens.daemon.profile.habit_evidence import HabitRule, distinct_days, years

MAX_COMPANIONS = 3


def company_claims(
    facts: Sequence[PhotoFacts],
    owner: int | None,
    names: Mapping[int, str],
    children: frozenset[int],
    rule: HabitRule,
    latest: datetime,
) -> list[Claim]:
    if owner is None:
        return []
    together: dict[int, list[PhotoFacts]] = defaultdict(list)
    for photo in facts:
        present = {face.person_id for face in photo.faces if face.person_id is not None}
        if owner in present:
            for other in present - {owner}:
                together[other].append(photo)
    ranked = sorted(
        ((person, photos, distinct_days(photos)) for person, photos in together.items()),
        key=lambda item: (-item[2], -len(item[1]), item[0]),
    )
    claims: list[Claim] = []
    for person, photos, days in ranked[:MAX_COMPANIONS]:
        if not rule.holds(days):
            break
        who = names.get(person) or f"person {person}"
        if person in children:
            who += " (a child)"
        lead = "Most often with" if not claims else "Often with"
        text = f"{lead} {who} {years(photos, latest)}"
        claims.append(rule.claim(f"company.person_{person}", text, photos, days))
    return claims
