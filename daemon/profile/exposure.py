"""The 0-100 exposure score of one photo, with its reasons in plain words.

Each reason is worth a fixed number of points (``[alerts.points]`` in the config, documented in
the README); the total is capped at 100. Reasons name kinds of data, never the values: they are
shown in notifications and logs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from shadowlens.daemon.config import ExposurePoints
from shadowlens.daemon.profile.facts import CHILD_AGE, PhotoFacts
from shadowlens.daemon.profile.places import distance_m

NEAR_HOME_M = 200.0
IDENTITY_PII = frozenset({"mrz", "card", "iban"})
PERSONAL_PII = frozenset({"email", "phone", "address", "postcode", "date_of_birth", "plate", "handle"})
PERSONAL_CODES = frozenset({"wifi", "contact"})
PII_WORDS = {
    "mrz": "passport/ID machine-readable zone",
    "card": "payment card number",
    "iban": "bank account (IBAN)",
    "email": "e-mail address",
    "phone": "phone number",
    "address": "street address",
    "postcode": "postcode",
    "date_of_birth": "date of birth",
    "plate": "number plate",
    "handle": "social media handle",
    "wifi": "Wi-Fi password (QR code)",
    "contact": "contact card (QR code)",
}


@dataclass(frozen=True)
class Reason:
    code: str
    points: int
    text: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.text} (+{self.points})"


@dataclass(frozen=True)
class ExposureContext:
    """What the profile knows that changes a photo's score: home, the owner, children."""

    home: tuple[float, float] | None = None
    owner: int | None = None
    child_persons: frozenset[int] = frozenset()
    # persons the user marked as not a child, whatever their estimated age
    adult_persons: frozenset[int] = frozenset()

    @classmethod
    def from_profile(cls, snapshot: dict[str, Any] | None) -> ExposureContext:
        """What a stored profile (``profile --json``) says about home, the owner and children."""
        if not snapshot:
            return cls()
        home, owner = snapshot.get("home"), snapshot.get("owner")
        return cls(
            home=(float(home["lat"]), float(home["lon"])) if home else None,
            owner=int(owner["person_id"]) if owner else None,
            child_persons=frozenset(snapshot.get("child_persons", [])),
            adult_persons=frozenset(snapshot.get("adult_persons", [])),
        )


def score(photo: PhotoFacts, context: ExposureContext, points: ExposurePoints) -> tuple[int, list[Reason]]:
    reasons = [r for r in _reasons(photo, context, points) if r.points > 0]
    return min(100, sum(r.points for r in reasons)), reasons


def _reasons(photo: PhotoFacts, context: ExposureContext, points: ExposurePoints) -> list[Reason]:
    reasons: list[Reason] = []
    if photo.lat is not None and photo.lon is not None:
        where = f" ({photo.city}, {photo.country_code})" if photo.city and photo.country_code else ""
        reasons.append(Reason("gps", points.gps, f"GPS location in the file{where}"))
        home = context.home
        if home is not None and distance_m(photo.lat, photo.lon, home[0], home[1]) <= NEAR_HOME_M:
            reasons.append(Reason("gps_near_home", points.gps_near_home, "the location is your home"))
    children = others = 0
    for face in photo.faces:
        if face.person_id is not None and face.person_id == context.owner:
            continue
        if _is_child(face.person_id, face.age, context):
            children += 1
        else:
            others += 1
    if children:
        reasons.append(Reason("child", points.child, _count(children, "a child's face", "children's faces")))
    if others:
        one, many = (
            ("person other than you", "people other than you")
            if context.owner is not None
            else ("person", "people")
        )
        reasons.append(Reason("other_people", points.other_people, _count(others, f"a {one}", many)))
    identity = sorted({p for p in photo.pii if p in IDENTITY_PII})
    if "id_card" in photo.scenes:
        identity.insert(0, "id_card")
    if "boarding_pass" in photo.codes:
        identity.append("boarding_pass")
    words = {"id_card": "an ID card or passport", "boarding_pass": "a boarding pass"}
    if identity:
        text = "identity or payment document: " + ", ".join(words.get(i) or PII_WORDS[i] for i in identity)
        reasons.append(Reason("identity_document", points.identity_document, text))
    elif "document" in photo.scenes:
        reasons.append(Reason("document", points.document, "a document (many lines of text)"))
    personal = sorted(
        {p for p in photo.pii if p in PERSONAL_PII} | {c for c in photo.codes if c in PERSONAL_CODES}
    )
    if personal:
        text = "readable personal data: " + ", ".join(PII_WORDS[p] for p in personal)
        reasons.append(Reason("personal_data", points.personal_data, text))
    if photo.nudity_exposed:
        reasons.append(Reason("nudity", points.nudity, "nudity or exposed skin"))
    brands = sorted({b.name for b in photo.brands})
    if brands:
        reasons.append(
            Reason("brands", points.brands, "brands a marketer can read: " + ", ".join(brands[:5]))
        )
    if "screenshot" in photo.scenes:
        reasons.append(Reason("screenshot", points.screenshot, "a screenshot (messages, accounts, apps)"))
    return reasons


def _is_child(person_id: int | None, age: float | None, context: ExposureContext) -> bool:
    if person_id is not None and person_id in context.adult_persons:
        return False
    if person_id is not None and person_id in context.child_persons:
        return True
    return age is not None and age < CHILD_AGE


def _count(n: int, one: str, many: str) -> str:
    return one if n == 1 else f"{n} {many}"


def reasons_text(reasons: Sequence[Reason | dict[str, object]]) -> list[str]:
    return [str(r) if isinstance(r, Reason) else f"{r['text']} (+{r['points']})" for r in reasons]
