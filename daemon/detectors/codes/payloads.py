"""What a decoded barcode says: a URL, Wi-Fi credentials, a contact, a boarding pass, a product."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_WIFI_FIELD = re.compile(r"(?<!\\)([STPH]):((?:\\.|[^;])*)")
_BCBP = re.compile(
    r"^M[1-4](?P<name>.{20})E?(?P<pnr>.{7})(?P<origin>[A-Z]{3})(?P<dest>[A-Z]{3})(?P<carrier>.{3})"
    r"(?P<flight>.{5})(?P<day>\d{3})(?P<cabin>[A-Z])(?P<seat>.{4})"
)
_URL = re.compile(r"^(https?://|www\.)\S+$", re.IGNORECASE)


@dataclass(frozen=True)
class Payload:
    type: str
    shown: str  # safe to show: secrets masked
    details: dict[str, Any] = field(default_factory=dict)


def mask_secret(secret: str) -> str:
    return "*" * max(4, len(secret)) if secret else ""


def classify(text: str, format_name: str) -> Payload:
    stripped = text.strip()
    upper = stripped.upper()
    if upper.startswith("WIFI:"):
        fields = {k: v for k, v in _WIFI_FIELD.findall(stripped[5:])}
        ssid, password = fields.get("S", ""), fields.get("P", "")
        shown = f"WIFI:S:{ssid};T:{fields.get('T', '')};P:{mask_secret(password)};;"
        return Payload(
            "wifi", shown, {"ssid": ssid, "security": fields.get("T") or None, "has_password": bool(password)}
        )
    if upper.startswith("BEGIN:VCARD") or upper.startswith("MECARD:"):
        found = re.search(r"^(?:FN|N):(.+)$", stripped, re.MULTILINE) or re.search(r"N:([^;]+)", stripped)
        return Payload("contact", stripped[:200], {"name": found.group(1).strip() if found else None})
    boarding = _BCBP.match(stripped)
    if boarding:
        name = boarding.group("name").strip().replace("/", " ")
        details = {
            "passenger": name,
            "flight": f"{boarding.group('carrier').strip()} {boarding.group('flight').strip().lstrip('0')}",
            "from": boarding.group("origin"),
            "to": boarding.group("dest"),
            "julian_day": int(boarding.group("day")),
            "seat": boarding.group("seat").strip().lstrip("0"),
            "booking_reference": boarding.group("pnr").strip(),
        }
        shown = f"boarding pass {details['flight']} {details['from']}->{details['to']}"
        return Payload("boarding_pass", shown, details)
    if _URL.match(stripped):
        return Payload("url", stripped, {})
    if format_name in {"EAN13", "EAN8", "UPCA", "UPCE", "ITF14"} and stripped.isdigit():
        gtin = stripped.zfill(13) if format_name != "ITF14" else stripped
        return Payload("product", stripped, {"gtin": gtin})
    return Payload("text", stripped[:200], {})
