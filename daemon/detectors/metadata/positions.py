"""Where the file says it was taken: EXIF GPS first, then XMP's exif: namespace, then the
namespaces drone and camera makers write their own GPS into (DJI's, and any other that pairs
a latitude with a longitude). Blocks that disagree are reported with their sources."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from shadowlens.daemon.analysis import exif as tags
from shadowlens.daemon.analysis.metadata_blocks import MetadataBlocks
from shadowlens.daemon.analysis.xmp_iptc import xmp_coordinate, xmp_number
from shadowlens.daemon.api import Finding, GpsFinding, MetadataIssue

EXIF_NS = "http://ns.adobe.com/exif/1.0/"
DJI_NS = "http://www.dji.com/drone-dji/1.0/"
# Vendor namespaces with known property names: (latitude, longitudes, altitude). DJI firmware
# has written the longitude both right and misspelt.
VENDOR_GPS = {
    DJI_NS: ("GpsLatitude", ("GpsLongitude", "GpsLongtitude"), "AbsoluteAltitude"),
}
# Another namespace's pair of properties like "GpsLatitude"/"GPSLongitude"/"Latitude".
_LAT_NAME = re.compile(r"^(gps)?lat(itude)?$", re.IGNORECASE)
_LON_NAME = re.compile(r"^(gps)?(lon|lng|long)(gitude|titude)?$", re.IGNORECASE)
# Two blocks closer than this agree (a drone's and its camera's fixes differ by metres).
AGREE_M = 1000.0
EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class Position:
    source: str
    lat: float
    lon: float
    altitude_m: float | None = None


def positions(blocks: MetadataBlocks) -> tuple[list[Finding], tags.GpsExtras]:
    """The GPS finding (from the first block that has one) and the problems of all blocks."""
    gps = blocks.group("GPSInfo")
    extra: tags.GpsExtras = tags.gps_optional(gps) if gps else {}
    found: list[Position] = []
    issues: list[Finding] = []
    try:
        coords = tags.gps_coordinates(gps)
        if coords is not None:
            found.append(Position("EXIF", *coords))
    except tags.InvalidValue as exc:
        issues.append(MetadataIssue(label="invalid_gps", reason=f"EXIF: {exc}"))
    for source, read in _xmp_positions(blocks):
        try:
            found.append(read())
        except tags.InvalidValue as exc:
            issues.append(MetadataIssue(label="invalid_gps", reason=f"{source}: {exc}"))
    if not found:
        return issues, extra
    first = found[0]
    altitude = extra.get("altitude_m") if first.source == "EXIF" else first.altitude_m
    finding = GpsFinding(
        label=f"{first.lat:.6f}, {first.lon:.6f}",
        lat=first.lat,
        lon=first.lon,
        altitude_m=altitude,
        direction_deg=extra.get("direction_deg") if first.source == "EXIF" else None,
        speed_kmh=extra.get("speed_kmh") if first.source == "EXIF" else None,
        gps_time_utc=extra.get("gps_time_utc"),
        extra={"source": first.source},
    )
    for other in found[1:]:
        apart = distance_m(first.lat, first.lon, other.lat, other.lon)
        if apart > AGREE_M:
            issues.append(
                MetadataIssue(
                    label="conflicting_gps",
                    reason=f"{first.source} says {first.lat:.5f}, {first.lon:.5f}; {other.source} says "
                    f"{other.lat:.5f}, {other.lon:.5f} ({apart / 1000:,.1f} km apart)",
                )
            )
    return [finding, *issues], extra


def _xmp_positions(blocks: MetadataBlocks) -> list[tuple[str, _Reader]]:
    readers: list[tuple[str, _Reader]] = []
    for namespace, prefix in _namespaces(blocks):
        source = f"XMP {prefix}"
        if namespace == EXIF_NS:
            pair = _pair(blocks, prefix, "GPSLatitude", ("GPSLongitude",), "GPSAltitude")
        elif namespace in VENDOR_GPS:
            pair = _pair(blocks, prefix, *VENDOR_GPS[namespace])
        else:
            pair = _guessed_pair(blocks, prefix)
        if pair is not None:
            readers.append((source, _Reader(source, *pair)))
    return readers


def _namespaces(blocks: MetadataBlocks) -> list[tuple[str, str]]:
    # exif: first, then the known vendors, then the rest in the file's order.
    rank = {EXIF_NS: 0, **{ns: 1 for ns in VENDOR_GPS}}
    pairs = [(uri, prefix) for prefix, uri in blocks.xmp_namespaces.items()]
    return sorted(pairs, key=lambda p: rank.get(p[0], 2))


def _pair(
    blocks: MetadataBlocks, prefix: str, lat: str, lons: tuple[str, ...], alt: str
) -> tuple[str, str, str | None] | None:
    lat_value = blocks.xmp.get(f"Xmp.{prefix}.{lat}")
    lon_value = next((v for name in lons if (v := blocks.xmp.get(f"Xmp.{prefix}.{name}"))), None)
    if lat_value is None and lon_value is None:
        return None
    return lat_value or "", lon_value or "", blocks.xmp.get(f"Xmp.{prefix}.{alt}")


def _guessed_pair(blocks: MetadataBlocks, prefix: str) -> tuple[str, str, str | None] | None:
    names = {
        key.split(".", 2)[2]: value for key, value in blocks.xmp.items() if key.startswith(f"Xmp.{prefix}.")
    }
    lat = next((v for n, v in names.items() if _LAT_NAME.match(n)), None)
    lon = next((v for n, v in names.items() if _LON_NAME.match(n)), None)
    if lat is None or lon is None:
        return None
    alt = next(
        (v for n, v in names.items() if n.lower() in ("altitude", "gpsaltitude", "absolutealtitude")), None
    )
    return lat, lon, alt


@dataclass(frozen=True)
class _Reader:
    source: str
    lat: str
    lon: str
    alt: str | None

    def __call__(self) -> Position:
        if not self.lat or not self.lon:
            raise tags.InvalidValue("only one of latitude and longitude is present")
        lat, lon = xmp_coordinate(self.lat, "lat"), xmp_coordinate(self.lon, "lon")
        if lat == 0 and lon == 0:
            raise tags.InvalidValue("0/0 placeholder written by a device without a fix")
        return Position(self.source, lat, lon, xmp_number(self.alt))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    half = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, max(0.0, half))))
