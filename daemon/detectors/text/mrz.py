"""ICAO 9303 machine-readable zones in noisy OCR lines: TD3 passports (2x44), TD2 (2x36), TD1 ID cards (3x30).

A zone is returned only when its document-number, birth-date and expiry check digits pass; a failing
composite (or TD3 personal-number) check digit is tolerated and lowers the confidence. OCR confusions
are undone field by field, where the field's alphabet makes the intent clear: the ``<`` filler read as
``K``, ``«`` or a bracket, O/0, I/1, S/5, B/8 and friends in digit or letter fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from shadowlens.daemon import clock

_WEIGHTS = (7, 3, 1)
_CHARSET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<")
_FILLER_LOOKALIKES = {"‹": "<", "(": "<", "[": "<", "{": "<", "≤": "<", "＜": "<"}
_TO_DIGIT = str.maketrans("OQDUILZSGB", "0000112568")
_TO_ALPHA = str.maketrans("012568", "OIZSGB")
_DOCUMENT_TYPES = {"P": "passport", "V": "visa", "I": "id_card", "A": "id_card", "C": "id_card"}
_DATA_LENGTHS = {44: "TD3", 36: "TD2"}


def check_digit(data: str) -> str:
    """The ICAO 9303 check digit of ``data`` (weights 7, 3, 1; A=10 … Z=35; ``<`` = 0)."""
    total = 0
    for position, char in enumerate(data):
        value = int(char) if char.isdigit() else ord(char) - 55 if "A" <= char <= "Z" else 0
        total += value * _WEIGHTS[position % 3]
    return str(total % 10)


def _passes(data: str, digit: str) -> bool:
    if digit == "<":  # an empty optional field may carry a filler instead of 0
        return set(data) <= {"<"}
    return digit.isdigit() and check_digit(data) == digit


@dataclass(frozen=True)
class _Line:
    text: str  # compacted, upper-cased, lookalikes mapped
    columns: tuple[int, ...]  # the input column of each character


@dataclass(frozen=True)
class Mrz:
    format: str  # "TD1" | "TD2" | "TD3"
    lines: tuple[str, ...]  # the normalised zone, name line included when it was read
    first_line: int  # input line indices the zone covers
    last_line: int
    fields: dict[str, object]
    checks: dict[str, bool]
    birth_span: tuple[int, int, int]  # (input line, start, end) of the birth date digits

    @property
    def confidence(self) -> float:
        return 0.99 if all(self.checks.values()) else 0.7


def _compact(raw: str, doubled: frozenset[int]) -> _Line | None:
    """``raw`` without spaces, upper-cased; ``«`` stands for ``<<`` at the columns in ``doubled``."""
    chars: list[str] = []
    columns: list[int] = []
    for column, char in enumerate(raw):
        if char.isspace():
            continue
        mapped = ("<<" if column in doubled else "<") if char == "«" else char.upper()
        mapped = _FILLER_LOOKALIKES.get(mapped, mapped)
        if any(c not in _CHARSET for c in mapped):
            return None
        chars.append(mapped)
        columns += [column] * len(mapped)
    text = "".join(chars)
    return _Line(text, tuple(columns)) if text else None


def _variants(raw: str) -> list[_Line]:
    """Readings of ``raw``: each ``«`` as one or two fillers, and mixes that give a zone line's length."""
    guillemets = [column for column, char in enumerate(raw) if char == "«"]
    choices = [frozenset(guillemets), frozenset()]
    base = sum(not char.isspace() for char in raw)
    for length in (44, 36, 30):
        extra = length - base
        if 0 < extra < len(guillemets):
            choices += [frozenset(guillemets[-extra:]), frozenset(guillemets[:extra])]
    found: dict[str, _Line] = {}
    for doubled in choices:
        line = _compact(raw, doubled)
        if line is not None:
            found.setdefault(line.text, line)
    return list(found.values())


def _digit_or_filler(char: str) -> str:
    return "<" if char in "K«" else char.translate(_TO_DIGIT)


def _alpha(code: str) -> str:
    code = code.translate(_TO_ALPHA)
    return code[0] + "<<" if len(code) == 3 and set(code[1:]) <= {"K", "<"} and code[0] == "D" else code


def _unpad(field: str) -> str:
    """A padded alphanumeric field with its trailing filler (often read as K) restored."""
    body = field.rstrip("<K")
    if field[len(body) :].count("<") or len(field) - len(body) >= 2:
        return body + "<" * (len(field) - len(body))
    return field


def _pick(field: str, digit: str) -> str | None:
    """The reading of ``field`` whose check digit passes, trying the usual OCR repairs."""
    for candidate in (_unpad(field), field, _unpad(field).translate(str.maketrans("OQI", "001"))):
        if candidate.strip("<") and _passes(candidate, digit):
            return candidate
    return None


def _date(yymmdd: str, birth: bool) -> str | None:
    if not yymmdd.isdigit():
        return None
    year = int(yymmdd[:2])
    if birth:
        year += 1900 if year > clock.today().year % 100 else 2000
    else:
        year += 1900 if year >= 70 else 2000
    try:
        return dt.date(year, int(yymmdd[2:4]), int(yymmdd[4:6])).isoformat()
    except ValueError:
        return None


def _fix_name(field: str) -> str:
    field = field.translate(_TO_ALPHA)
    body = field.rstrip("<K")
    run = field[len(body) :]
    if len(run) >= 3 and run.count("K") * 2 >= len(run):  # the filler was read as K
        body = body.replace("KK", "<<").replace("K<", "<<").replace("<K", "<<")
        return body + "<" * len(run)
    return field


def _split_name(field: str) -> tuple[str, str]:
    surname, _, given = field.strip("<").partition("<<")
    return surname.replace("<", " ").strip(), given.replace("<", " ").strip()


def _name_line(raw: str, length: int, coded: bool) -> str | None:
    """A TD3/TD2 first line (``coded``) or TD1 third line, its length repaired by trailing fillers."""
    for line in _variants(raw):
        text = line.text
        if not length - 12 <= len(text) <= length + 30 or (coded and text[0] not in _DOCUMENT_TYPES):
            continue
        if len(text) > length:
            if text[length:].strip("<K"):
                continue
            text = text[:length]
        if coded:
            name = _fix_name(text[5:])
            second = "<" if text[1] == "K" and name != text[5:] else text[1]
            text = text[0] + second + _alpha(text[2:5]) + name
        else:
            text = _fix_name(text)
        if sum(c.isalpha() for c in text) >= 2 and "<" in text:
            return text.ljust(length, "<")
    return None


def _dates_and_sex(birth: str, birth_cd: str, sex: str, expiry: str, expiry_cd: str) -> dict[str, str] | None:
    birth, expiry = birth.translate(_TO_DIGIT), expiry.translate(_TO_DIGIT)
    birth_cd, expiry_cd = _digit_or_filler(birth_cd), _digit_or_filler(expiry_cd)
    if not (_passes(birth, birth_cd) and _passes(expiry, expiry_cd)):
        return None
    birth_date, expiry_date = _date(birth, True), _date(expiry, False)
    if birth_date is None or expiry_date is None:
        return None
    sex = "<" if sex == "K" else sex
    return {
        "birth": birth + birth_cd,
        "expiry": expiry + expiry_cd,
        "sex": sex,
        "birth_date": birth_date,
        "expiry_date": expiry_date,
    }


def _parse_two_line(data: str) -> tuple[str, dict[str, object], dict[str, bool]] | None:
    """TD3/TD2 second line: (normalised line, fields, optional checks)."""
    doc_cd = _digit_or_filler(data[9])
    number = _pick(data[0:9], doc_cd)
    dates = _dates_and_sex(data[13:19], data[19], data[20], data[21:27], data[27])
    if number is None or dates is None:
        return None
    nationality = _alpha(data[10:13])
    checks: dict[str, bool] = {}
    if len(data) == 44:
        optional_cd = _digit_or_filler(data[42])
        optional = _pick(data[28:42], optional_cd) or _unpad(data[28:42])
        checks["personal_number"] = _passes(optional, optional_cd)
        optional_part = optional + optional_cd
    else:
        optional = _unpad(data[28:35])
        optional_part = optional
    composite_cd = _digit_or_filler(data[-1])
    covered = number + doc_cd + dates["birth"] + dates["expiry"] + optional_part
    checks["composite"] = _passes(covered, composite_cd)
    line = number + doc_cd + nationality + dates["birth"] + dates["sex"] + dates["expiry"]
    line += optional_part + composite_cd
    fields: dict[str, object] = {
        "document_number": number.strip("<"),
        "nationality": nationality.strip("<"),
        "birth_date": dates["birth_date"],
        "expiry_date": dates["expiry_date"],
        "sex": dates["sex"] if dates["sex"] in "MFX" else None,
        "optional_data": optional.replace("<", "") or None,
    }
    return line, fields, checks


def _parse_td1(top: str, middle: str) -> tuple[str, str, dict[str, object], dict[str, bool]] | None:
    if top[0] not in "IAC":
        return None
    doc_cd = _digit_or_filler(top[14])
    optional1 = _unpad(top[15:30])
    number = _pick(top[5:14], doc_cd)
    optional_data = optional1
    if number is None and doc_cd == "<":  # a long number continues in the optional field
        extension = optional1.split("<", 1)[0]
        if len(extension) >= 2 and _passes(top[5:14] + extension[:-1], extension[-1]):
            number = top[5:14] + extension[:-1]
            optional_data = optional1[len(extension) :]
    dates = _dates_and_sex(middle[0:6], middle[6], middle[7], middle[8:14], middle[14])
    if number is None or dates is None:
        return None
    top = top[0:2] + _alpha(top[2:5]) + number[:9] + doc_cd + optional1
    optional2 = _unpad(middle[18:29])
    composite_cd = _digit_or_filler(middle[29])
    nationality = _alpha(middle[15:18])
    middle = dates["birth"] + dates["sex"] + dates["expiry"] + nationality + optional2 + composite_cd
    covered = top[5:30] + middle[0:7] + middle[8:15] + middle[18:29]
    fields: dict[str, object] = {
        "document_number": number.replace("<", ""),
        "nationality": nationality.strip("<"),
        "birth_date": dates["birth_date"],
        "expiry_date": dates["expiry_date"],
        "sex": dates["sex"] if dates["sex"] in "MFX" else None,
        "optional_data": (optional_data + optional2).replace("<", "") or None,
    }
    return top, middle, fields, {"composite": _passes(covered, composite_cd)}


def _with_name(fields: dict[str, object], code: str, issuer: str, name: str | None) -> dict[str, object]:
    surname, given = _split_name(name) if name else ("", "")
    return {
        "document_type": _DOCUMENT_TYPES.get(code[0], "other"),
        "document_code": code,
        "issuing_country": issuer.strip("<"),
        "surname": surname or None,
        "given_names": given or None,
        **fields,
    }


def _span(index: int, line: _Line, start: int, end: int) -> tuple[int, int, int]:
    return index, line.columns[start], line.columns[end - 1] + 1


def find_mrz(lines: Sequence[str]) -> list[Mrz]:
    """Every machine-readable zone in ``lines`` whose essential check digits pass."""
    found: list[Mrz] = []
    used: set[int] = set()
    for index, raw in enumerate(lines):
        if index in used:
            continue
        for line in _variants(raw):
            zone = _zone_at(lines, index, line)
            if zone is not None:
                found.append(zone)
                used.update(range(zone.first_line, zone.last_line + 1))
                break
    return found


def _zone_at(lines: Sequence[str], index: int, line: _Line) -> Mrz | None:
    text = line.text
    if len(text) in _DATA_LENGTHS:
        parsed = _parse_two_line(text)
        if parsed is None:
            return None
        data, fields, checks = parsed
        name_line = _name_line(lines[index - 1], len(text), coded=True) if index > 0 else None
        code, issuer = (
            (name_line[0:2], name_line[2:5]) if name_line else ("P<" if len(text) == 44 else "I<", "")
        )
        zone = (name_line, data) if name_line else (data,)
        return Mrz(
            format=_DATA_LENGTHS[len(text)],
            lines=tuple(z for z in zone if z),
            first_line=index - 1 if name_line else index,
            last_line=index,
            fields={
                "format": _DATA_LENGTHS[len(text)],
                **_with_name(fields, code, issuer, name_line and name_line[5:]),
            },
            checks=checks,
            birth_span=_span(index, line, 13, 19),
        )
    if len(text) == 30 and index + 1 < len(lines):
        for middle in _variants(lines[index + 1]):
            if len(middle.text) != 30:
                continue
            td1 = _parse_td1(text, middle.text)
            if td1 is None:
                continue
            top, mid, fields, checks = td1
            name_line = _name_line(lines[index + 2], 30, coded=False) if index + 2 < len(lines) else None
            return Mrz(
                format="TD1",
                lines=(top, mid, name_line) if name_line else (top, mid),
                first_line=index,
                last_line=index + 2 if name_line else index + 1,
                fields={"format": "TD1", **_with_name(fields, top[0:2], top[2:5], name_line)},
                checks=checks,
                birth_span=_span(index + 1, middle, 0, 6),
            )
    return None


def _initials(name: object) -> str:
    return " ".join(part[0] + "***" for part in str(name).split()) if name else "?"


def masked_fields(fields: dict[str, object]) -> dict[str, object]:
    """The zone's fields with the personal ones masked: names to initials, numbers to their last two."""
    masked = dict(fields)
    number = str(fields.get("document_number") or "")
    masked["document_number"] = "*" * max(len(number) - 2, 1) + number[-2:] if len(number) > 4 else "****"
    masked["surname"] = _initials(fields.get("surname"))
    masked["given_names"] = _initials(fields.get("given_names"))
    birth = str(fields.get("birth_date") or "")
    masked["birth_date"] = birth[:4] + "-**-**" if birth else None
    if fields.get("optional_data"):
        masked["optional_data"] = "****"
    return masked


def describe_masked(zone: Mrz) -> str:
    """A one-line summary of ``zone`` safe for notifications and logs."""
    m = masked_fields(zone.fields)
    kind = str(zone.fields.get("document_type", "document")).replace("_", " ")
    issuer = zone.fields.get("issuing_country") or zone.fields.get("nationality") or "?"
    return f"{kind} MRZ {issuer}: {m['surname']} {m['given_names']}, no. {m['document_number']}, born {m['birth_date']}"
