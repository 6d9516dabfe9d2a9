"""Patterns for personal data in OCR lines: e-mail, URLs, handles, and per country street addresses,
postcodes, plates and dates of birth.

Every pattern here is built to keep false positives rare on ordinary text: a postcode needs a city,
a state or a label beside it (a bare number never is one), a plate has to stand alone on its line or
follow a label, and a date is a date of birth only after a birth-date label.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from shadowlens.daemon import clock


@dataclass(frozen=True)
class Hit:
    """One finding before masking; ``start``/``end`` are columns of ``line`` (``end`` of ``end_line``)."""

    type: str
    value: str
    line: int
    start: int
    end: int
    confidence: float
    details: dict[str, object] = field(default_factory=dict)
    end_line: int | None = None


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_EMAIL = re.compile(
    r"(?<![\w.%+-])(?P<local>[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?)\s?@\s?"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24})(?![\w-])"
)
_TLDS = (
    "com|net|org|edu|gov|info|biz|io|ai|app|dev|co|uk|de|fr|nl|es|eu|ch|se|dk|fi|pl|pt|ie|ca|au|nz|jp|cn|ru|br|mx"
    "|shop|store|online|site|xyz|tv|ly|gg|it|in|be|me|us|at|no|to|is|my"
)
_RISKY_TLDS = _words("it in be me us at no to is my")  # also common words run on after a full stop
_URL = re.compile(
    r"(?i)(?<![\w@./-])(?:(?P<scheme>https?://)[^\s<>\"'“”]+|(?P<host>(?:www\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"(?P<tld>[a-z]{2,24}))(?![\w-])(?P<path>/[^\s<>\"'“”]*)?)"
)
URL_TLDS = frozenset(_TLDS.split("|"))
_HANDLE = re.compile(
    r"(?<![\w@.])@(?P<name>[A-Za-z0-9_](?:[A-Za-z0-9_.]{1,28}[A-Za-z0-9_]))(?![\w@]|\.[A-Za-z])"
)
_TIME = re.compile(r"\d{1,2}(?:[:.]\d{2})?(?:am|pm|h)?", re.IGNORECASE)
_PLATFORMS = {
    "instagram": "instagram",
    "insta": "instagram",
    "twitter": "twitter",
    "tiktok": "tiktok",
    "threads": "threads",
    "mastodon": "mastodon",
    "bluesky": "bluesky",
    "youtube": "youtube",
    "facebook": "facebook",
    "snapchat": "snapchat",
    "telegram": "telegram",
}
PUBLIC_HOSTS = _words(
    "instagram.com facebook.com twitter.com x.com tiktok.com linkedin.com youtube.com github.com t.me "
    "threads.net pinterest.com snapchat.com reddit.com"
)


def find_emails(text: str, line: int) -> Iterator[Hit]:
    for match in _EMAIL.finditer(text):
        value = f"{match.group('local')}@{match.group('domain').lower()}"
        yield Hit(
            "email", value, line, match.start(), match.end(), 0.95, {"domain": match.group("domain").lower()}
        )


def find_urls(text: str, line: int) -> Iterator[Hit]:
    for match in _URL.finditer(text):
        raw = match.group(0).rstrip(".,;:!?)]}'\"")
        confidence = 0.9
        if not match.group("scheme"):
            host, tld = match.group("host"), match.group("tld").lower()
            bare = not host.lower().startswith("www.")
            one_case = host in (host.lower(), host.upper(), host[:1] + host[1:].lower())
            if tld not in URL_TLDS or (bare and not one_case):
                continue
            if bare and tld in _RISKY_TLDS and host.count(".") < 2:
                continue
            if bare and not any(c.isalpha() for c in host.split(".")[-2]):
                continue
            confidence = 0.6 if bare else 0.85
        value = re.sub(
            r"^(https?://)?([^/]+)", lambda m: (m.group(1) or "").lower() + m.group(2).lower(), raw
        )
        host = re.sub(r"^https?://", "", value).split("/")[0].split(":")[0]
        details: dict[str, object] = {"host": host.removeprefix("www.")}
        yield Hit("url", value, line, match.start(), match.start() + len(raw), confidence, details)


def find_handles(text: str, line: int) -> Iterator[Hit]:
    lowered = text.lower()
    platform = next((p for word, p in _PLATFORMS.items() if word in lowered), None)
    for match in _HANDLE.finditer(text):
        name = match.group("name")
        if not 3 <= len(name) <= 30 or not any(c.isalpha() for c in name) or _TIME.fullmatch(name):
            continue
        details: dict[str, object] = {"platform": platform} if platform else {}
        yield Hit("handle", "@" + name, line, match.start(), match.end(), 0.8 if platform else 0.65, details)


_UP = "A-ZÀ-ÖØ-Ý"
# A capitalised word that does not start mid-word; hyphens join words (below), so a name has one reading.
_WORD = rf"(?<![^\W\d_])[{_UP}][^\W\d_]*(?:['’.][^\W\d_]+)*\.?"
_PARTICLES = r"(?:am|an|der|den|im|sur|sous|en|de|del|di|la|le|les|upon|on)"
_CITY = rf"(?P<city>{_WORD}(?:[ -](?:{_PARTICLES}[ -])?{_WORD}){{0,3}})"
_NOT_CITIES = _words(
    "euro euros eur usd gbp dollars items units pieces stück points pts views likes followers steps calories "
    "kcal miles km meters total mhz ghz rpm watts volts tickets members users visitors copies pages words "
    "votes shares orders reviews stars pixels bytes mb gb kb mah series edition model pro max plus ultra "
    "lumens sold left off results leagues people days years hours minutes"
)
US_STATES = _words(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC "
    "ND OH OK OR PA PR RI SC SD TN TX UT VT VA WA WV WI WY"
)
CA_PROVINCES = _words("AB BC MB NB NL NS NT NU ON PE QC SK YT")
_UK_OUTWARD = r"(?:[A-PR-UWYZ][0-9]{1,2}|[A-PR-UWYZ][A-HK-Y][0-9]{1,2}|[A-PR-UWYZ][0-9][A-HJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRV-Y])"
_CA_CODE = r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d"
_NL_NOT_LETTERS = _words("SA SD SS MB GB KB TB HD AD BC PM AM KM CM MM KG MG ML CC HP PS TV FM")
_FIVE_DIGIT_RANGES = {"DE": (1001, 99998), "FR": (1000, 98999), "IT": (10, 98168), "ES": (1000, 52999)}
_FIVE_DIGIT_PREFIX = {
    "D": "DE",
    "DE": "DE",
    "F": "FR",
    "FR": "FR",
    "I": "IT",
    "IT": "IT",
    "E": "ES",
    "ES": "ES",
}

# (country or None for "any of several", pattern). Each names the groups pc and, where it has one, city.
_POSTCODES: list[tuple[str | None, re.Pattern[str], float]] = [
    (
        "GB",
        re.compile(
            rf"(?:{_CITY},?\s+)?(?<![A-Z0-9])(?P<pc>{_UK_OUTWARD} +[0-9][ABD-HJLNP-UW-Z]{{2}}|GIR 0AA)(?![A-Za-z0-9])"
        ),
        0.75,
    ),
    (
        "CA",
        re.compile(
            rf"(?:{_CITY},?\s+(?P<prov>{'|'.join(sorted(CA_PROVINCES))})\s+)?(?<![A-Z0-9])(?P<pc>{_CA_CODE})(?![A-Za-z0-9])"
        ),
        0.8,
    ),
    (
        "US",
        re.compile(
            rf"{_CITY}(?P<comma>,)?\s+(?:{'|'.join(sorted(US_STATES))})\.?\s+(?P<pc>\d{{5}}(?:-\d{{4}})?)(?![\d-])"
            r"(?P<tail>\s*(?:USA?|United States)?\s*$)?"
        ),
        0.85,
    ),
    ("AU", re.compile(rf"{_CITY}\s+\b(?:NSW|VIC|QLD|WA|SA|TAS|ACT|NT)\s+(?P<pc>\d{{4}})(?!\d)"), 0.85),
    ("IN", re.compile(r"(?i:\bpin(?:\s*code)?|\bpincode)\s*[:.-]?\s*(?P<pc>[1-9]\d{2} ?\d{3})(?!\d)"), 0.85),
    ("IN", re.compile(rf"{_CITY}\s*[-–]\s*(?P<pc>[1-9]\d{{5}})(?![\d.,])"), 0.75),
    (
        "NL",
        re.compile(rf"(?:^|(?<=,))\s*(?P<pc>[1-9]\d{{3}} ?(?P<nl>[A-Z]{{2}}))(?:\s+{_CITY})?(?![\w-])"),
        0.8,
    ),
    (
        None,
        re.compile(
            rf"(?:^|(?<=,))\s*(?:(?P<cc>D|F|I|E|DE|FR|IT|ES)-)?(?P<pc>\d{{5}})\s+{_CITY}(?:\s*\([A-Z]{{2}}\))?"
        ),
        0.7,
    ),
]


@dataclass(frozen=True)
class _Postcode:
    start: int
    end: int
    value: str
    country: str | None
    city: str | None
    confidence: float
    candidates: tuple[str, ...] = ()


def _city(match: re.Match[str]) -> str | None:
    return match.groupdict().get("city")


def _five_digit_countries(code: str, prefix: str | None, region: str | None) -> tuple[str, ...]:
    number = int(code)
    valid = tuple(c for c, (low, high) in _FIVE_DIGIT_RANGES.items() if low <= number <= high)
    if prefix:
        return tuple(c for c in valid if c == _FIVE_DIGIT_PREFIX[prefix])
    return (region,) if region in valid else valid


def find_postcodes(text: str, region: str | None) -> list[_Postcode]:
    found: list[_Postcode] = []
    for country, pattern, confidence in _POSTCODES:
        for match in pattern.finditer(text):
            city = _city(match)
            if city and city.split()[0].strip(".").lower() in _NOT_CITIES:
                continue
            code = match.group("pc")
            candidates: tuple[str, ...] = (country,) if country else ()
            if country == "NL" and (match.group("nl") in _NL_NOT_LETTERS or not (city or region == "NL")):
                continue
            if country is None:
                candidates = _five_digit_countries(code, match.group("cc"), region)
                if not candidates:
                    continue
            if country == "US" and not (
                match.group("comma") or (region == "US" and match.group("tail") is not None)
            ):
                continue
            if country == "CA" and " " not in code and not match.group("prov"):
                continue
            best = region if region in candidates else candidates[0] if len(candidates) == 1 else None
            boost = 0.1 if region is not None and region in candidates else 0.0
            start = match.start("pc") if not city else min(match.start("pc"), match.start("city"))
            found.append(_Postcode(start, match.end(), code, best, city, confidence + boost, candidates))
    found.sort(key=lambda p: (p.start, -(p.end - p.start)))
    kept: list[_Postcode] = []
    for postcode in found:
        if not kept or postcode.start >= kept[-1].end:
            kept.append(postcode)
    return kept


STREET_TYPES = _words(
    "Street St Avenue Ave Road Rd Boulevard Blvd Lane Ln Drive Dr Court Ct Place Pl Terrace Tce Way Close "
    "Crescent Cres Highway Hwy Parkway Pkwy Square Sq Gardens Gdns Grove Mews Row Circle Cir Trail Parade "
    "Loop Walk Alley Plaza Marg Nagar"
)
_EN_TYPE = "|".join(f"{t}|{t.upper()}" for t in sorted(STREET_TYPES, key=lambda t: (-len(t), t)))
_EN_NAME_STOP = _words(
    "minute minutes hour hours mile miles day days year years week weeks hard test top best"
)
_DE_SUFFIX = r"straße|strasse|str\.|allee|platz|gasse|ring|damm|ufer|chaussee|steig|pfad|graben"
_NL_SUFFIX = r"straat|gracht|laan|plein|kade|dijk|singel|steeg|dreef|burgwal|baan"
_NUMBER_AFTER = r"(?P<num>\d{1,3}(?: ?[a-zA-Z](?![a-zA-Z]))?(?: ?[-–] ?\d{1,3})?)(?![\d:/]|[.,]\d)"
_NAME_PART = rf"(?:{_WORD}|\d{{1,3}}(?:st|nd|rd|th))"

# (country, pattern): each names the groups street and num.
_STREETS: list[tuple[str, re.Pattern[str]]] = [
    (
        "EN",
        re.compile(
            rf"(?<![\w-])(?P<num>\d{{1,5}}[A-Za-z]?(?:-\d{{1,5}})?)\s+(?P<street>(?:(?:{_NAME_PART})\s+){{1,3}}(?:{_EN_TYPE})\b\.?(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?)"
        ),
    ),
    (
        "DE",
        re.compile(
            rf"(?P<street>\b[{_UP}](?:[^\W\d_]|-(?=[^\W\d_])){{2,40}}?(?i:{_DE_SUFFIX})|(?:\b[{_UP}][\w-]+\s+){{1,2}}(?i:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm|ufer))\s*{_NUMBER_AFTER}"
        ),
    ),
    ("NL", re.compile(rf"(?P<street>\b[{_UP}][^\W\d_]{{2,}}(?i:{_NL_SUFFIX}))\s+{_NUMBER_AFTER}")),
    ("DE", re.compile(rf"(?P<street>\b[{_UP}][^\W\d_]{{2,}}(?i:weg|markt))\s+{_NUMBER_AFTER}")),
    (
        "FR",
        re.compile(
            rf"(?<![\w-])(?P<num>\d{{1,4}}(?: ?(?i:bis|ter)\b)?),?\s+(?P<street>(?i:rue|avenue|av\.|boulevard|bd|place|allée|allee|impasse|chemin|quai|route|passage|faubourg)\s+(?:(?i:de la|de l['’]|du|des|de|d['’]|la|le|les|l['’])\s*)?{_WORD}(?:[ -](?:(?i:de|du|des|la|le|les|d['’]|l['’]|et|sur)[ -]?)?{_WORD}){{0,4}})"
        ),
    ),
    (
        "IT",
        re.compile(
            rf"(?P<street>\b(?:Via|VIA|Viale|VIALE|V\.le|Piazza|PIAZZA|P\.zza|Piazzale|Corso|CORSO|C\.so|Largo|Vicolo|Strada|Lungomare|Lungotevere|Borgo|Contrada)\s+(?:(?:dei|degli|delle|della|del|di|da|dello|d['’])\s*)?{_WORD}(?:\s+(?:(?:dei|degli|delle|della|del|di|da|dello|e|d['’])\s*)?{_WORD}){{0,4}}),?\s+(?:n\.?\s*)?(?P<num>\d{{1,4}}(?: ?[A-Za-z](?![A-Za-z]))?(?:/[A-Za-z0-9])?)(?![\d:]|[.,]\d)"
        ),
    ),
    (
        "ES",
        re.compile(
            rf"(?P<street>(?<![\w])(?:Calle|CALLE|C/|Avenida|AVENIDA|Avda\.?|Av\.|Paseo|Pº|P°|Plaza|PLAZA|Pza\.|Carrer|Carretera|Ctra\.|Camino|Ronda|Travesía|Glorieta|Rambla)\s*(?:(?:de la|de los|de las|del|de|la|el|los|las)\s+)?{_WORD}(?:\s+(?:(?:de la|de los|de las|del|de|y|la|el)\s+)?{_WORD}){{0,4}}),?\s*(?:n[º°o]\.?\s*)?(?P<num>\d{{1,4}}(?: ?[A-Za-z](?![A-Za-z]))?)(?![\d:]|[.,]\d)"
        ),
    ),
]
_EN_COUNTRIES = frozenset({"US", "GB", "CA", "AU", "IN", "IE", "NZ"})


def _street_country(family: str, region: str | None) -> tuple[str | None, bool]:
    """(country, whether the region agrees) for a street pattern family."""
    if family == "EN":
        return (region, True) if region in _EN_COUNTRIES else (None, False)
    if family == "DE" and region in {"DE", "AT", "CH", "NL", "BE"}:
        return region, True
    return family, region == family


def _streets(text: str, region: str | None) -> list[tuple[int, int, str, str, str | None, bool]]:
    """(start, end, street, house number, country, region agrees) for each street on one line."""
    found: list[tuple[int, int, str, str, str | None, bool]] = []
    for family, pattern in _STREETS:
        for match in pattern.finditer(text):
            street = " ".join(match.group("street").split())
            if family == "EN" and any(w.lower() in _EN_NAME_STOP for w in street.split()):
                continue
            country, agrees = _street_country(family, region)
            span = (min(match.start("num"), match.start("street")), match.end())
            if not any(s < span[1] and span[0] < e for s, e, *_ in found):
                found.append((span[0], span[1], street, match.group("num"), country, agrees))
    return found


def find_addresses(lines: Sequence[str], region: str | None) -> list[Hit]:
    """Street lines (with a postcode on the same or one of the next two lines merged in), then lone postcodes."""
    hits: list[Hit] = []
    consumed: set[tuple[int, int]] = set()
    postcodes = [find_postcodes(line, region) for line in lines]
    for index, line in enumerate(lines):
        for start, end, street, number, country, agrees in _streets(line, region):
            details: dict[str, object] = {"country": country, "street": street, "house_number": number}
            end_line, confidence, value = index, 0.65 + (0.1 if agrees else 0.0), line[start:end]
            near = [(index, p) for p in postcodes[index] if p.start >= end]
            near += [(i, p) for i in (index + 1, index + 2) if i < len(lines) for p in postcodes[i][:1]]
            if near:
                pc_line, postcode = near[0]
                consumed.add((pc_line, postcode.start))
                details.update(postcode=postcode.value, city=postcode.city)
                details["country"] = postcode.country or country
                end_line, end = pc_line, postcode.end
                confidence += 0.2
                value = f"{value}, {lines[pc_line][postcode.start : postcode.end]}"
            hits.append(
                Hit(
                    "address",
                    " ".join(value.split()),
                    index,
                    start,
                    end,
                    min(confidence, 0.95),
                    details,
                    end_line,
                )
            )
    for index, found in enumerate(postcodes):
        for p in found:
            if (index, p.start) not in consumed:
                details = {"country": p.country, "city": p.city}
                if len(p.candidates) > 1:
                    details["candidates"] = list(p.candidates)
                hits.append(Hit("postcode", p.value, index, p.start, p.end, min(p.confidence, 0.95), details))
    return hits


_PLATE_LABEL = re.compile(
    r"(?i)\b(?:(?:vehicle\s+)?reg(?:istration)?(?:\s*(?:no|number|nr|mark))?\.?|(?:licen[cs]e\s+|number\s+)?plate"
    r"(?:\s*(?:no|number))?\.?|vrn|(?:kfz-)?kennzeichen|immatriculation|plaque|matr[ií]cula|targa|kenteken)\s*[:#.]?\s*"
)
_EU_BAND = r"(?:(?:D|F|NL|I|E|GB|UK)\s+)?"
_PLATES: list[tuple[str, str]] = [
    ("GB", r"[A-Z]{2}[0-9]{2} ?[A-Z]{3}"),
    ("GB", r"[A-Z][0-9]{1,3} ?[A-Z]{3}"),
    ("FR", r"[A-HJ-NP-TV-Z]{2}-[0-9]{3}-[A-HJ-NP-TV-Z]{2}"),
    ("IT", r"[A-HJ-NPR-TV-Z]{2} ?[0-9]{3} ?[A-HJ-NPR-TV-Z]{2}"),
    ("ES", r"[0-9]{4} ?[BCDFGHJKLMNPRSTVWXYZ]{3}"),
    ("NL", r"(?:[A-Z]{1,3}|[0-9]{1,3})-(?:[A-Z]{1,3}|[0-9]{1,3})-(?:[A-Z]{1,3}|[0-9]{1,3})"),
    ("DE", r"[A-ZÄÖÜ]{1,3}(?P<seal>[-:·]| ?[-:·] ?| )[A-Z]{1,2} ?[0-9]{1,4}[EH]?"),
]
_PLATE_PATTERNS = [(country, re.compile(pattern)) for country, pattern in _PLATES]


def _plate(candidate: str, region: str | None, labelled: bool) -> tuple[str, str] | None:
    """(normalised plate, country) when ``candidate`` (all of it) is a plate."""
    patterns = sorted(_PLATE_PATTERNS, key=lambda p: p[0] != region)
    for country, pattern in patterns:
        match = pattern.fullmatch(candidate)
        if match is None:
            continue
        plate = " ".join(candidate.split())
        compact = plate.replace("-", "")
        if country == "NL" and (len(compact) != 6 or compact.isalpha() or compact.isdigit()):
            continue
        if country == "DE":
            if match.group("seal").strip() == "" and not (labelled or region in {"DE", "AT"}):
                continue
            plate = re.sub(r"^([A-ZÄÖÜ]+)\s*[-:·]?\s*", r"\1-", plate)
        if country == "IT" and region == "FR" and " " in plate:
            return plate.replace(" ", "-"), "FR"
        return plate, country
    return None


def find_plates(lines: Sequence[str], region: str | None) -> list[Hit]:
    """Registration plates standing alone on their line or following a plate label."""
    hits: list[Hit] = []
    for index, line in enumerate(lines):
        body = line.strip()
        standalone = re.fullmatch(_EU_BAND + r"(?P<plate>.+)", body)
        if standalone and (found := _plate(standalone.group("plate"), region, False)):
            start = line.index(body) + standalone.start("plate")
            agrees = 0.1 if found[1] == region else 0.0
            hits.append(
                Hit(
                    "plate",
                    found[0],
                    index,
                    start,
                    start + len(standalone.group("plate")),
                    0.7 + agrees,
                    {"country": found[1]},
                )
            )
            continue
        for label in _PLATE_LABEL.finditer(line):
            rest = line[label.end() :]
            for end in range(min(len(rest), 12), 3, -1):
                if end < len(rest) and rest[end].isalnum():
                    continue
                found = _plate(rest[:end].upper().strip(), region, True)
                if found:
                    start = label.end()
                    hits.append(
                        Hit("plate", found[0], index, start, start + end, 0.85, {"country": found[1]})
                    )
                    break
    return hits


_DOB_LABEL = re.compile(
    r"(?i)(?:\bd\.?\s?o\.?\s?b\b\.?|\bdate\s+of\s+birth\b|\bbirth\s*date\b|\bborn(?:\s+on)?\b|\bgeburtsdatum\b"
    r"|\bgeb\.(?:\s*am)?|\bgeboren(?:\s+am)?\b|\bn[ée]e?\s+le\b|\bdate\s+de\s+naissance\b|\bfecha\s+de\s+nacimiento\b"
    r"|\bf\.\s*(?:de\s+)?nac(?:imiento)?\.?|\bdata\s+di\s+nascita\b|\bnat[oa]\s+il\b|\bgeboortedatum\b|\bgeb\.\s*datum\b)"
)
_MONTH_WORD = r"[^\W\d_]{3,10}\.?"
DATES = [
    re.compile(r"(?<!\d)(?P<a>\d{1,2})(?P<sep>[./-]| )(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})(?![\d.:])"),
    re.compile(r"(?<!\d)(?P<y>\d{4})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<a>\d{1,2})(?![\d.:])"),
    re.compile(
        rf"(?<!\d)(?P<a>\d{{1,2}})\.?\s*(?:de\s+)?(?P<m>{_MONTH_WORD})(?:\s*/\s*[^\W\d_]+\.?)?,?\s*(?:de\s+)?(?P<y>\d{{4}}|\d{{2}})(?!\d)"
    ),
    re.compile(rf"(?P<m>{_MONTH_WORD})\s+(?P<a>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})(?!\d)"),
]
_MONTHS = {
    **dict.fromkeys(("jan", "gen", "ene"), 1),
    **dict.fromkeys(("feb", "fev"), 2),
    **dict.fromkeys(("mar", "mrt", "mae", "maa"), 3),
    **dict.fromkeys(("apr", "avr", "abr"), 4),
    **dict.fromkeys(("may", "mai", "mag", "mei"), 5),
    **dict.fromkeys(("jun", "giu", "juin"), 6),
    **dict.fromkeys(("jul", "lug", "juil"), 7),
    **dict.fromkeys(("aug", "ago", "aou"), 8),
    **dict.fromkeys(("sep", "set"), 9),
    **dict.fromkeys(("oct", "okt", "ott"), 10),
    "nov": 11,
    **dict.fromkeys(("dec", "dez", "dic"), 12),
}


def _month(word: str) -> int | None:
    plain = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode().lower()
    return _MONTHS.get(plain[:4]) or _MONTHS.get(plain[:3])


def read_date(match: re.Match[str], region: str | None, future_years: int = 0) -> dt.date | None:
    """The date a match of ``DATES`` spells, day and month in the region's order when both fit. A
    two-digit year is of this century up to ``future_years`` ahead (an expiry), else of the last."""
    groups = match.groupdict()
    year, first = int(groups["y"]), int(groups["a"])
    if len(groups["y"]) == 2:
        year += 1900 if year > clock.today().year % 100 + future_years else 2000
    if groups.get("m"):
        month, day = _month(groups["m"]), first
    elif match.start("y") == match.start():  # year first: y-m-d
        month, day = int(groups["b"]), first
    else:
        second = int(groups["b"])
        us_order = second > 12 or (first <= 12 and region == "US")
        month, day = (first, second) if us_order else (second, first)
    try:
        return dt.date(year, month or 0, day)
    except ValueError:
        return None


def _birth_date(match: re.Match[str], region: str | None) -> str | None:
    born = read_date(match, region)
    return born.isoformat() if born and dt.date(1900, 1, 1) <= born <= clock.today() else None


def _first_date(text: str, region: str | None, within: int) -> tuple[int, int, str] | None:
    """The earliest birth date starting in the first ``within`` characters of ``text``."""
    text = text[: within + 40]
    best: tuple[int, int, str] | None = None
    for pattern in DATES:
        for match in pattern.finditer(text):
            if match.start() > within or (best and match.start() >= best[0]):
                break
            value = _birth_date(match, region)
            if value:
                best = (match.start(), match.end(), value)
                break
    return best


def find_dates_of_birth(lines: Sequence[str], region: str | None) -> list[Hit]:
    """Dates after a birth-date label on the same line, or at the start of the next line."""
    hits: list[Hit] = []
    for index, line in enumerate(lines):
        for label in _DOB_LABEL.finditer(line):
            rest = line[label.end() :]
            found = _first_date(rest, region, 40)
            if found:
                start, end, value = found
                hits.append(
                    Hit(
                        "date_of_birth",
                        value,
                        index,
                        label.end() + start,
                        label.end() + end,
                        0.9,
                        {"label": label.group(0).strip()},
                    )
                )
                break
            if index + 1 < len(lines) and not any(c.isdigit() for c in rest):
                nxt = lines[index + 1]
                found = _first_date(nxt, region, len(nxt) - len(nxt.lstrip()) + 2)
                if found:
                    hits.append(
                        Hit(
                            "date_of_birth",
                            found[2],
                            index + 1,
                            found[0],
                            found[1],
                            0.8,
                            {"label": label.group(0).strip()},
                        )
                    )
                    break
    return hits
