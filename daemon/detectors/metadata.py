"""Metadata detector: GPS, time taken, device and names written into the file."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, timedelta
from typing import Any, ClassVar

from defusedxml import ElementTree
from PIL import Image
from shadowlens.daemon import clock
from shadowlens.daemon.analysis import exif as tags
from shadowlens.daemon.api import (
    Detector,
    DeviceFinding,
    ExposureContext,
    ExposurePoints,
    Fact,
    Finding,
    GpsFinding,
    MetadataIssue,
    NameFinding,
    PhotoContext,
    Reason,
    StoredFinding,
    TimeFinding,
)
from shadowlens.daemon.wording import device_name

_DC = "{http://purl.org/dc/elements/1.1/}"
_XMP_KEYS = ("xmp", "XML:com.adobe.xmp")
_IPTC_NAMES = {(2, 80): "IPTC By-line", (2, 116): "IPTC Copyright Notice", (2, 122): "IPTC Writer"}
# A clock more than a day ahead of the analysis is wrong, not a photo from the future.
_FUTURE_SLACK = timedelta(days=1)
# A photo's GPS this close to home gives the home away.
NEAR_HOME_M = 200.0
EARTH_RADIUS_M = 6_371_000.0


class MetadataDetector(Detector):
    name = "metadata"
    version = "1"
    # Time and device reach the profile through the photo's own row; the GPS position scores.
    counts: ClassVar[frozenset[str] | None] = frozenset({"gps"})
    reads: ClassVar[tuple[str, ...] | None] = ("lat", "lon")

    @classmethod
    def facts(cls, finding: StoredFinding) -> Iterable[Fact]:
        return ()  # a position is not a marketing signal by itself; places are built from it

    @classmethod
    def exposure(
        cls, findings: Sequence[StoredFinding], context: ExposureContext, points: ExposurePoints
    ) -> list[Reason]:
        gps = next((f for f in findings if f.kind == "gps" and f.attrs.get("lat") is not None), None)
        if gps is None or gps.attrs.get("lon") is None:
            return []
        where = f" ({context.where})" if context.where else ""
        reasons = [Reason("gps", points.gps, f"GPS location in the file{where}")]
        lat, lon, home = float(gps.attrs["lat"]), float(gps.attrs["lon"]), context.home
        if home is not None and distance_m(lat, lon, home[0], home[1]) <= NEAR_HOME_M:
            reasons.append(Reason("gps_near_home", points.gps_near_home, "the location is your home"))
        return reasons

    def detect(self, photo: PhotoContext) -> list[Finding]:
        decoded = photo.decoded
        found: list[Finding] = []
        problem = decoded.info.get("shadowlens.exif_problem")
        if isinstance(problem, str):
            found.append(MetadataIssue(label="unreadable_exif", reason=problem))
        exif = decoded.exif
        exif_ifd = tags.ifd(exif, tags.EXIF_IFD)
        gps_ifd = tags.ifd(exif, tags.GPS_IFD)
        gps, gps_extra = self._gps(gps_ifd)
        found.extend(gps)
        found.extend(self._time(exif, exif_ifd, gps_extra.get("gps_time_utc")))
        device = self._device(exif, exif_ifd)
        if device:
            found.append(device)
        found.extend(self._names(exif, exif_ifd, decoded.info))
        return found

    def _gps(self, gps: dict[int, Any]) -> tuple[list[Finding], tags.GpsExtras]:
        extra: tags.GpsExtras = tags.gps_optional(gps) if gps else {}
        try:
            coords = tags.gps_coordinates(gps)
        except tags.InvalidValue as exc:
            return [MetadataIssue(label="invalid_gps", reason=str(exc))], extra
        if coords is None:
            return [], extra
        lat, lon = coords
        finding = GpsFinding(
            label=f"{lat:.6f}, {lon:.6f}",
            lat=lat,
            lon=lon,
            altitude_m=extra.get("altitude_m"),
            direction_deg=extra.get("direction_deg"),
            speed_kmh=extra.get("speed_kmh"),
            gps_time_utc=extra.get("gps_time_utc"),
        )
        return [finding], extra

    def _time(self, exif: Image.Exif, exif_ifd: dict[int, Any], gps_utc: Any) -> list[Finding]:
        candidates = (
            (
                "DateTimeOriginal",
                exif_ifd.get(tags.DATETIME_ORIGINAL),
                exif_ifd.get(tags.OFFSET_TIME_ORIGINAL),
            ),
            (
                "DateTimeDigitized",
                exif_ifd.get(tags.DATETIME_DIGITIZED),
                exif_ifd.get(tags.OFFSET_TIME_DIGITIZED),
            ),
            ("DateTime", exif.get(tags.DATETIME), exif_ifd.get(tags.OFFSET_TIME)),
        )
        issues: list[Finding] = []
        for source, raw, raw_offset in candidates:
            if raw is None:
                continue
            try:
                local = tags.parse_datetime(raw)
            except tags.InvalidValue as exc:
                issues.append(MetadataIssue(label="invalid_time", reason=f"{source}: {exc}"))
                continue
            offset = tags.parse_offset(raw_offset)
            offset_source = "exif" if offset else None
            if offset is None and isinstance(gps_utc, str):
                offset = tags.offset_from_gps(local, gps_utc)
                offset_source = "gps" if offset else None
            aware = local.replace(tzinfo=offset) if offset else None
            note = None
            if local > clock.local_now() + _FUTURE_SLACK:
                note = "date is in the future: the camera clock was probably wrong"
            finding = TimeFinding(
                label=(aware or local).isoformat(),
                source=source,
                offset=(aware.strftime("%z") if aware else None),
                utc=(aware.astimezone(UTC).isoformat() if aware else None),
                note=note,
                extra={"offset_source": offset_source} if offset_source else {},
            )
            return [finding, *issues]
        return issues

    def _device(self, exif: Image.Exif, exif_ifd: dict[int, Any]) -> DeviceFinding | None:
        make, model = tags.text(exif.get(tags.MAKE)), tags.text(exif.get(tags.MODEL))
        lens_make, lens_model = (
            tags.text(exif_ifd.get(tags.LENS_MAKE)),
            tags.text(exif_ifd.get(tags.LENS_MODEL)),
        )
        lens = " ".join(part for part in (lens_make, lens_model) if part) or None
        software = tags.text(exif.get(tags.SOFTWARE))
        body, lens_serial = (
            tags.text(exif_ifd.get(tags.BODY_SERIAL)),
            tags.text(exif_ifd.get(tags.LENS_SERIAL)),
        )
        if not any((make, model, lens, software, body, lens_serial)):
            return None
        label = device_name(make, model) or software or "unknown device"
        return DeviceFinding(
            label=label,
            make=make,
            model=model,
            lens=lens,
            software=software,
            body_serial=body,
            lens_serial=lens_serial,
        )

    def _names(self, exif: Image.Exif, exif_ifd: dict[int, Any], info: dict[str, object]) -> list[Finding]:
        pairs: list[tuple[str, str | None]] = [
            ("Artist", tags.text(exif.get(tags.ARTIST))),
            ("Copyright", tags.text(exif.get(tags.COPYRIGHT))),
            ("CameraOwnerName", tags.text(exif_ifd.get(tags.OWNER_NAME))),
        ]
        pairs += _xmp_names(info)
        iptc = info.get("shadowlens.iptc")
        if isinstance(iptc, dict):
            pairs += [(field, tags.text(iptc.get(key))) for key, field in _IPTC_NAMES.items()]
        seen: set[tuple[str, str]] = set()
        names: list[Finding] = []
        for field, value in pairs:
            if value and (field, value) not in seen:
                seen.add((field, value))
                names.append(NameFinding(label=value, field=field))
        return names


def _xmp_names(info: dict[str, object]) -> list[tuple[str, str | None]]:
    raw = next((info[key] for key in _XMP_KEYS if info.get(key)), None)
    if not isinstance(raw, (bytes, str)):
        return []
    try:
        root = ElementTree.fromstring(raw.strip(b"\x00") if isinstance(raw, bytes) else raw)
    except Exception:  # malformed or hostile XMP: skip it, the rest of the metadata stands
        return []
    out: list[tuple[str, str | None]] = []
    for element, field in ((f"{_DC}creator", "XMP dc:creator"), (f"{_DC}rights", "XMP dc:rights")):
        for node in root.iter(element):
            texts = [tags.text(li.text) for li in node.iter() if li.text and li.text.strip()]
            out += [(field, t) for t in texts]
    return out


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    half = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, half))))
