"""Devices and ecosystem: "Apple user, 5 iPhones since 2016", as a marketer reads EXIF's Make.

A device string is "Make Model" in a person's words (``wording.device_name``). Its maker is
recognised from the model's product name (an iPhone is Apple's whatever the Make says) or from
the first word of the make, with the legal forms folded ("NIKON CORPORATION" and "NIKON" are one
Nikon). Each maker seen on enough distinct days is one statement; two Android makers or more
also make an "Android user" statement, which is what an ad network buys.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shadowlens.daemon.profile.claims import Claim, slug
from shadowlens.daemon.profile.facts import PhotoFacts
from shadowlens.daemon.profile.habit_evidence import HabitRule, distinct_days, years
from shadowlens.daemon.wording import plural


@dataclass(frozen=True)
class Maker:
    name: str
    noun: str = "device"  # what its devices are called when no product line is recognised
    android: bool = False


# By the first word of the device string, case-folded. ``android`` only for makers whose phones
# are all Android: Samsung also made cameras (Samsung Techwin's Digimax), Nokia Symbian phones and
# Sony cameras, so for them only a recognised product line says Android.
MAKERS = {
    "apple": Maker("Apple"),
    "samsung": Maker("Samsung"),
    "google": Maker("Google", "phone", android=True),
    "huawei": Maker("Huawei", "phone", android=True),
    "honor": Maker("Honor", "phone", android=True),
    "xiaomi": Maker("Xiaomi", "phone", android=True),
    "redmi": Maker("Xiaomi", "phone", android=True),
    "oneplus": Maker("OnePlus", "phone", android=True),
    "motorola": Maker("Motorola", "phone", android=True),
    "oppo": Maker("OPPO", "phone", android=True),
    "vivo": Maker("vivo", "phone", android=True),
    "realme": Maker("realme", "phone", android=True),
    "hmd": Maker("Nokia", "phone", android=True),  # HMD Global makes the Android Nokias
    "fairphone": Maker("Fairphone", "phone", android=True),
    "nokia": Maker("Nokia", "phone"),
    "jolla": Maker("Jolla", "phone"),
    "canon": Maker("Canon", "camera"),
    "nikon": Maker("Nikon", "camera"),
    "sony": Maker("Sony"),
    "fujifilm": Maker("Fujifilm", "camera"),
    "olympus": Maker("Olympus", "camera"),
    "om": Maker("OM System", "camera"),
    "panasonic": Maker("Panasonic", "camera"),
    "pentax": Maker("Pentax", "camera"),
    "ricoh": Maker("Ricoh", "camera"),
    "leica": Maker("Leica", "camera"),
    "kodak": Maker("Kodak", "camera"),
    "eastman": Maker("Kodak", "camera"),
    "konica": Maker("Konica Minolta", "camera"),
    "minolta": Maker("Konica Minolta", "camera"),
    "gopro": Maker("GoPro", "camera"),
    "dji": Maker("DJI", "drone"),
    "nintendo": Maker("Nintendo", "console"),
}
# Product lines a marketer names: these decide the maker even without a Make.
PRODUCTS = (
    (re.compile(r"\biphone\b", re.I), "apple", "iPhone", False),
    (re.compile(r"\bipad\b", re.I), "apple", "iPad", False),
    (re.compile(r"\bpixel\b", re.I), "google", "Pixel phone", True),
    (re.compile(r"\bgalaxy\b|\bSM-[AFGNS]\d", re.I), "samsung", "Galaxy phone", True),
    (re.compile(r"\bxperia\b", re.I), "sony", "Xperia phone", True),
)
MAX_ANDROID_MAKERS_NAMED = 3


@dataclass(frozen=True)
class DeviceUse:
    maker: Maker
    product: str  # "iPhone", or the maker's noun
    device: str
    photos: list[PhotoFacts]
    android: bool
    line: bool = True  # the product is a recognised product line, not the maker's noun


def device_claims(facts: Sequence[PhotoFacts], rule: HabitRule, latest: datetime) -> list[Claim]:
    by_device: dict[str, list[PhotoFacts]] = defaultdict(list)
    for photo in facts:
        if photo.device and photo.device.strip():
            by_device[photo.device.strip()].append(photo)
    uses = [u for u in (_use(device, photos) for device, photos in by_device.items()) if u]
    by_maker: dict[str, list[DeviceUse]] = defaultdict(list)
    for use in uses:
        by_maker[use.maker.name].append(use)
    claims = [c for group in by_maker.values() if (c := _maker_claim(group, rule, latest))]
    android = [u for u in uses if u.android]
    if len({u.maker.name for u in android}) >= 2 and (claim := _android_claim(android, rule, latest)):
        claims.append(claim)
    return sorted(claims, key=lambda c: (-(c.confidence or 0), c.id))


def _use(device: str, photos: list[PhotoFacts]) -> DeviceUse | None:
    for pattern, maker_key, product, android in PRODUCTS:
        if pattern.search(device):
            return DeviceUse(MAKERS[maker_key], product, device, photos, android)
    first = re.split(r"[\s,._-]+", device.casefold(), maxsplit=1)[0]
    maker = MAKERS.get(first)
    if maker is None:
        return None  # a maker nobody would buy ads against ("WWL", a game's name in Make)
    return DeviceUse(maker, maker.noun, device, photos, maker.android, line=False)


def _maker_claim(uses: list[DeviceUse], rule: HabitRule, latest: datetime) -> Claim | None:
    photos = [p for use in uses for p in use.photos]
    days = distinct_days(photos)
    if not rule.holds(days):
        return None
    maker = uses[0].maker
    what = _model_only(uses[0].device, maker) if len(uses) == 1 else _counted(uses)
    text = f"{maker.name} user, {what} {years(photos, latest)}".rstrip()
    return rule.claim(f"device.{slug(maker.name)}", text, photos, days)


def _android_claim(uses: list[DeviceUse], rule: HabitRule, latest: datetime) -> Claim | None:
    photos = [p for use in uses for p in use.photos]
    days = distinct_days(photos)
    if not rule.holds(days):
        return None
    photos_of: dict[str, int] = defaultdict(int)
    for use in uses:
        photos_of[use.maker.name] += len(use.photos)
    makers = sorted(photos_of, key=lambda m: (-photos_of[m], m))
    named = _listed(
        makers[:MAX_ANDROID_MAKERS_NAMED] + (["others"] if len(makers) > MAX_ANDROID_MAKERS_NAMED else [])
    )
    text = f"Android user, {plural(len(uses), 'phone')} from {named} {years(photos, latest)}".rstrip()
    return rule.claim("device.android", text, photos, days)


def _counted(uses: list[DeviceUse]) -> str:
    """``5 iPhones``, ``4 iPhones and 1 iPad``, ``3 Galaxy phones and 1 other device``: distinct
    devices per product line, most first, and the maker's other devices last."""
    counts: dict[str, int] = defaultdict(int)
    for use in uses:
        if use.line:
            counts[use.product] += 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    said = [plural(n, product) for product, n in ranked]
    rest = [use for use in uses if not use.line]
    if rest:
        noun = rest[0].product if len({u.product for u in rest}) == 1 else "device"
        said.append(plural(len(rest), f"other {noun}" if said else noun))
    return _listed(said)


def _model_only(device: str, maker: Maker) -> str:
    """``Pixel 7`` from ``Google Pixel 7``: the statement already names the maker."""
    first, _, rest = device.partition(" ")
    known = MAKERS.get(first.casefold())
    return rest if rest and known is not None and known.name == maker.name else device


def _listed(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
