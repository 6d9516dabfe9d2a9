"""Metadata detector: everything written into the file, read through exiv2 from every block
(EXIF with maker notes, XMP in any namespace, IPTC) in every format: GPS, time taken, device
and serial numbers, names, a written place, keywords and a caption."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from shadowlens.daemon.api import (
    Detector,
    ExposureContext,
    ExposurePoints,
    Fact,
    Finding,
    MetadataIssue,
    PhotoContext,
    Reason,
    StoredFinding,
)
from shadowlens.daemon.detectors.metadata.pairs import raw_pair
from shadowlens.daemon.detectors.metadata.positions import distance_m, positions
from shadowlens.daemon.detectors.metadata.times import moments
from shadowlens.daemon.detectors.metadata.written import caption, device, keywords, names, written_place

# A photo's GPS this close to home gives the home away.
NEAR_HOME_M = 200.0

__all__ = ["NEAR_HOME_M", "MetadataDetector", "distance_m"]


class MetadataDetector(Detector):
    name = "metadata"
    version = "2"
    # Time and device reach the profile through the photo's own row; the GPS position and a
    # place typed into the file score.
    counts: ClassVar[frozenset[str] | None] = frozenset({"gps", "written_place"})
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
            written = next((f for f in findings if f.kind == "written_place"), None)
            if written is None:
                return []
            # Without GPS, a city typed into the file still says where the photo was taken.
            return [
                Reason(
                    "written_place", points.written_place, f"a place written in the file ({written.label})"
                )
            ]
        where = f" ({context.where})" if context.where else ""
        reasons = [Reason("gps", points.gps, f"GPS location in the file{where}")]
        lat, lon, home = float(gps.attrs["lat"]), float(gps.attrs["lon"]), context.home
        if home is not None and distance_m(lat, lon, home[0], home[1]) <= NEAR_HOME_M:
            reasons.append(Reason("gps_near_home", points.gps_near_home, "the location is your home"))
        return reasons

    def detect(self, photo: PhotoContext) -> list[Finding]:
        decoded = photo.decoded
        blocks = decoded.metadata
        found: list[Finding] = []
        if blocks.problem:
            found.append(MetadataIssue(label="unreadable_metadata", reason=blocks.problem))
        located, extra = positions(blocks)
        found += located
        found += moments(blocks, extra.get("gps_time_utc"))
        found += [f for f in (device(blocks), written_place(blocks), keywords(blocks), caption(blocks)) if f]
        found += names(blocks)
        found += raw_pair(photo)
        return found
