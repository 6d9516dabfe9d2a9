"""Checked values from XMP and IPTC text: coordinates, dates and times.

XMP writes a coordinate as "DDD,MM,SSk" or "DDD,MM.mmk" (exif: namespace) and drone makers as
signed decimals; IPTC splits a moment into DateCreated and TimeCreated. Each parser raises
InvalidValue with the reason, as the EXIF ones do.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone

from shadowlens.daemon.analysis.exif import InvalidValue

_XMP_DMS = re.compile(r"^\s*(\d{1,3}),(\d{1,2}(?:\.\d+)?)(?:,(\d{1,2}(?:\.\d+)?))?\s*([NSEWnsew])\s*$")
_DECIMAL = re.compile(r"^\s*([+-]?\d{1,3}(?:\.\d+)?)\s*$")
_ISO = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_IPTC_TIME = re.compile(r"^(\d{2}):?(\d{2}):?(\d{2})?\s*(Z|[+-]\d{2}:?\d{2})?$")


def xmp_coordinate(value: str, axis: str) -> float:
    """A latitude (axis "lat") or longitude ("lon") in decimal degrees."""
    limit = 90.0 if axis == "lat" else 180.0
    if match := _XMP_DMS.match(value):
        degrees, minutes, seconds, ref = match.groups()
        if float(minutes) >= 60 or (seconds is not None and float(seconds) >= 60):
            raise InvalidValue(f"minutes or seconds out of range: {value!r}")
        number = int(degrees) + float(minutes) / 60 + float(seconds or 0) / 3600
        if ref.upper() in ("S", "W"):
            number = -number
    elif match := _DECIMAL.match(value):
        number = float(match.group(1))
    else:
        raise InvalidValue(f"unreadable coordinate: {value!r}")
    if math.isnan(number) or abs(number) > limit:
        raise InvalidValue(f"coordinate out of range: {value!r}")
    return number


def xmp_number(value: str | None) -> float | None:
    """A decimal or rational ("1234/10") XMP number, or None when absent or unreadable."""
    if not value:
        return None
    try:
        if "/" in value:
            top, bottom = value.split("/", 1)
            return float(top) / float(bottom) if float(bottom) else None
        return float(value)
    except ValueError:
        return None


def offset_of(text: str | None) -> timezone | None:
    if not text:
        return None
    if text == "Z":
        return UTC
    sign, digits = text[0], text[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4]))
    if delta > timedelta(hours=14):
        return None
    return timezone(-delta if sign == "-" else delta)


def iso_datetime(value: str) -> tuple[datetime, timezone | None, bool]:
    """An XMP date: (local wall-clock time, its offset if written, whether it has a time of day).

    A date alone is kept as a date: its photo's day is known, its hour is not."""
    match = _ISO.match(value.strip())
    if not match:
        raise InvalidValue(f"unreadable date: {value!r}")
    year, month, day, hour, minute, second, zone = match.groups()
    if month is None or day is None:
        raise InvalidValue(f"only a year or month, not a day: {value!r}")
    if year.startswith("0000"):
        raise InvalidValue(f"unset camera clock: {value!r}")
    try:
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        raise InvalidValue(f"impossible date: {value!r}") from None
    return moment, offset_of(zone) if hour is not None else None, hour is not None


def iptc_datetime(date: str, time: str | None) -> tuple[datetime, timezone | None, bool]:
    """IPTC DateCreated ("2019-07-14", exiv2's form of CCYYMMDD) with TimeCreated ("15:30:00+02:00")."""
    moment, _, _ = iso_datetime(date.replace(":", "-") if len(date) == 10 else _dashed(date))
    if not time:
        return moment, None, False
    match = _IPTC_TIME.match(time.strip())
    if not match:
        raise InvalidValue(f"unreadable time: {time!r}")
    hour, minute, second, zone = match.groups()
    if (hour, minute, second or "00") == ("00", "00", "00"):
        # Agency tools write midnight to the second when they know only the day (the White
        # House's portraits carry "00:00:00+00:00"): a bare date, not a photo taken at midnight.
        return moment, None, False
    if int(hour) > 23 or int(minute) > 59 or int(second or 0) > 59:
        raise InvalidValue(f"impossible time: {time!r}")
    moment = moment.replace(hour=int(hour), minute=int(minute), second=int(second or 0))
    return moment, offset_of(zone), True


def _dashed(date: str) -> str:
    digits = date.strip()
    if len(digits) == 8 and digits.isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return digits
