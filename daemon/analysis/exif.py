"""Reading the tags marketers use: GPS, time taken, device, names. Tolerant of broken files.

Pillow parses the EXIF; this module turns its raw values into checked Python values and
says why a value was rejected.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypedDict

from PIL import Image

EXIF_IFD = 0x8769
GPS_IFD = 0x8825

# IFD0
MAKE, MODEL, SOFTWARE, ARTIST, COPYRIGHT, DATETIME = 0x010F, 0x0110, 0x0131, 0x013B, 0x8298, 0x0132
# Exif IFD
DATETIME_ORIGINAL, DATETIME_DIGITIZED = 0x9003, 0x9004
OFFSET_TIME, OFFSET_TIME_ORIGINAL, OFFSET_TIME_DIGITIZED = 0x9010, 0x9011, 0x9012
OWNER_NAME, BODY_SERIAL, LENS_MAKE, LENS_MODEL, LENS_SERIAL = 0xA430, 0xA431, 0xA433, 0xA434, 0xA435
# GPS IFD
LAT_REF, LAT, LON_REF, LON, ALT_REF, ALT, GPS_TIME = 1, 2, 3, 4, 5, 6, 7
SPEED_REF, SPEED, DIRECTION, GPS_DATE = 12, 13, 17, 29

_SPEED_TO_KMH = {"K": 1.0, "M": 1.609344, "N": 1.852}
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


class InvalidValue(ValueError):
    """A tag is present but its value is unusable; the message says why."""


def text(value: Any) -> str | None:
    """A clean string from an EXIF ASCII/UNDEFINED value, or None when it is empty or junk."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable()).strip().strip("\x00").strip()
    return cleaned or None


def rational(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        raise InvalidValue(f"not a number: {value!r}") from None
    if math.isnan(number) or math.isinf(number):
        raise InvalidValue("malformed rational (zero denominator)")
    return number


def dms(value: Any) -> float:
    """Degrees, minutes, seconds as three rationals (or one decimal value) to decimal degrees."""
    if isinstance(value, (tuple, list)):
        if not 1 <= len(value) <= 3:
            raise InvalidValue(f"expected 3 rationals, got {len(value)}")
        parts = [rational(v) for v in value] + [0.0] * (3 - len(value))
        if any(p < 0 for p in parts) or parts[1] >= 60 or parts[2] >= 60:
            raise InvalidValue(f"minutes or seconds out of range: {parts}")
        return parts[0] + parts[1] / 60 + parts[2] / 3600
    return rational(value)


def gps_coordinates(gps: dict[int, Any]) -> tuple[float, float] | None:
    """Latitude and longitude, None when absent; raises InvalidValue with the reason."""
    if LAT not in gps and LON not in gps:
        return None
    if LAT not in gps or LON not in gps:
        raise InvalidValue("only one of latitude and longitude is present")
    lat, lon = dms(gps[LAT]), dms(gps[LON])
    if (text(gps.get(LAT_REF)) or "N").upper().startswith("S"):
        lat = -lat
    if (text(gps.get(LON_REF)) or "E").upper().startswith("W"):
        lon = -lon
    if not (-90 <= lat <= 90) or not (-180 <= lon <= 180):
        raise InvalidValue(f"coordinates out of range: {lat:g}, {lon:g}")
    if lat == 0 and lon == 0:
        raise InvalidValue("0/0 placeholder written by a device without a fix")
    return lat, lon


class GpsExtras(TypedDict, total=False):
    altitude_m: float | None
    direction_deg: float | None
    speed_kmh: float | None
    gps_time_utc: str | None


def gps_optional(gps: dict[int, Any]) -> GpsExtras:
    """Altitude, direction, speed and GPS time; a broken optional value is dropped, not fatal."""
    out: GpsExtras = {}
    try:
        if ALT in gps:
            alt = rational(gps[ALT])
            ref = gps.get(ALT_REF)
            below = ref in (1, b"\x01") or (isinstance(ref, bytes) and ref[:1] == b"\x01")
            out["altitude_m"] = -alt if below else alt
    except InvalidValue:
        pass
    try:
        if DIRECTION in gps:
            direction = rational(gps[DIRECTION])
            out["direction_deg"] = direction if 0 <= direction <= 360 else None
    except InvalidValue:
        pass
    try:
        if SPEED in gps:
            unit = (text(gps.get(SPEED_REF)) or "K").upper()[:1]
            out["speed_kmh"] = rational(gps[SPEED]) * _SPEED_TO_KMH.get(unit, 1.0)
    except InvalidValue:
        pass
    out["gps_time_utc"] = gps_time(gps)
    return out


def gps_time(gps: dict[int, Any]) -> str | None:
    date, stamp = text(gps.get(GPS_DATE)), gps.get(GPS_TIME)
    if not date or not isinstance(stamp, (tuple, list)) or len(stamp) != 3:
        return None
    try:
        h, m, s = (rational(v) for v in stamp)
        day = datetime.strptime(date, "%Y:%m:%d").replace(tzinfo=UTC)
        moment = day + timedelta(hours=h, minutes=m, seconds=s)
    except (InvalidValue, ValueError, OverflowError):
        return None
    return moment.isoformat()


def parse_offset(value: Any) -> timezone | None:
    match = _OFFSET.match(text(value) or "")
    if not match:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta > timedelta(hours=14):
        return None
    return timezone(-delta if sign == "-" else delta)


def parse_datetime(value: Any) -> datetime:
    raw = text(value)
    if not raw:
        raise InvalidValue("empty")
    if raw.startswith("0000") or raw.strip(": 0") == "":
        raise InvalidValue(f"unset camera clock: {raw!r}")
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(raw[:19], fmt)
        except ValueError:
            continue
    raise InvalidValue(f"unreadable date: {raw!r}")


def offset_from_gps(local: datetime, gps_utc: str | None) -> timezone | None:
    """Infer the UTC offset from the GPS clock when the camera did not record one."""
    if not gps_utc:
        return None
    utc = datetime.fromisoformat(gps_utc).replace(tzinfo=None)
    minutes = round((local - utc).total_seconds() / 900) * 15
    if abs(minutes) > 14 * 60:
        return None
    return timezone(timedelta(minutes=minutes))


def ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:  # a broken sub-IFD must not hide the rest of the metadata
        return {}
