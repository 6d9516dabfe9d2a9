"""When the file says it was taken. EXIF's original time first, then what photo-agency tools
write in XMP and IPTC, then the digitised and modified times. An original time that another
block contradicts is reported with both sources."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from shadowlens.daemon import clock
from shadowlens.daemon.analysis import exif as tags
from shadowlens.daemon.analysis.metadata_blocks import MetadataBlocks
from shadowlens.daemon.analysis.xmp_iptc import iptc_datetime, iso_datetime
from shadowlens.daemon.api import Finding, MetadataIssue, TimeFinding

XMP_NS = "http://ns.adobe.com/xap/1.0/"
EXIF_NS = "http://ns.adobe.com/exif/1.0/"
PHOTOSHOP_NS = "http://ns.adobe.com/photoshop/1.0/"
# A clock more than a day ahead of the analysis is wrong, not a photo from the future.
_FUTURE_SLACK = timedelta(days=1)
# Blocks written in different time zones, or rounded, differ by hours, not by days.
_AGREE = timedelta(hours=14, minutes=1)


@dataclass(frozen=True)
class Moment:
    source: str
    local: datetime
    offset: timezone | None
    has_time: bool
    offset_source: str | None = None
    # An original time (not digitised or modified): these must agree with each other.
    original: bool = True


Reading = Callable[[], Moment | None]


def moments(blocks: MetadataBlocks, gps_utc: object) -> list[Finding]:
    """The time finding from the first readable source, and the problems found on the way."""
    issues: list[Finding] = []
    found: list[Moment] = []
    for source, read in _sources(blocks, gps_utc):
        try:
            moment = read()
        except tags.InvalidValue as exc:
            issues.append(MetadataIssue(label="invalid_time", reason=f"{source}: {exc}"))
            continue
        if moment is not None:
            found.append(moment)
    if not found:
        return issues
    first = found[0]
    issues += _conflicts(first, [m for m in found[1:] if m.original])
    return [_finding(first), *issues]


def _sources(blocks: MetadataBlocks, gps_utc: object) -> list[tuple[str, Reading]]:
    image, photo = blocks.group("Image"), blocks.group("Photo")

    def exif(source: str, raw: object, raw_offset: object, original: bool = True) -> Reading:
        def read() -> Moment | None:
            if raw is None:
                return None
            local = tags.parse_datetime(raw)
            offset, offset_source = tags.parse_offset(raw_offset), "exif"
            if offset is None and isinstance(gps_utc, str):
                offset, offset_source = tags.offset_from_gps(local, gps_utc), "gps"
            return Moment(source, local, offset, True, offset_source if offset else None, original)

        return read

    def xmp(namespace: str, name: str, original: bool = True) -> Reading:
        def read() -> Moment | None:
            value = blocks.xmp_in(namespace, name)
            if value is None:
                return None
            local, offset, has_time = iso_datetime(value)
            return Moment(f"XMP {name}", local, offset, has_time, "xmp" if offset else None, original)

        return read

    def iptc() -> Moment | None:
        date = blocks.iptc_first("DateCreated")
        if date is None:
            return None
        time = blocks.iptc_first("TimeCreated")
        local, offset, has_time = iptc_datetime(date, time)
        return Moment("IPTC DateCreated", local, offset, has_time, "iptc" if offset else None)

    original = photo.get(tags.DATETIME_ORIGINAL) or image.get(tags.DATETIME_ORIGINAL)
    return [
        ("DateTimeOriginal", exif("DateTimeOriginal", original, photo.get(tags.OFFSET_TIME_ORIGINAL))),
        ("XMP DateTimeOriginal", xmp(EXIF_NS, "DateTimeOriginal")),
        ("XMP DateCreated", xmp(PHOTOSHOP_NS, "DateCreated")),
        ("IPTC DateCreated", iptc),
        (
            "DateTimeDigitized",
            exif(
                "DateTimeDigitized",
                photo.get(tags.DATETIME_DIGITIZED),
                photo.get(tags.OFFSET_TIME_DIGITIZED),
                original=False,
            ),
        ),
        ("XMP CreateDate", xmp(XMP_NS, "CreateDate", original=False)),
        ("DateTime", exif("DateTime", image.get(tags.DATETIME), photo.get(tags.OFFSET_TIME), original=False)),
    ]


def _finding(moment: Moment) -> TimeFinding:
    aware = moment.local.replace(tzinfo=moment.offset) if moment.offset else None
    note = None
    if moment.local > clock.local_now() + _FUTURE_SLACK:
        note = "date is in the future: the camera clock was probably wrong"
    elif not moment.has_time:
        note = "a date without a time of day"
    extra: dict[str, object] = {"offset_source": moment.offset_source} if moment.offset_source else {}
    if not moment.has_time:
        # The day is known, the hour is not: a bare date, so no rhythm or night is read into it.
        return TimeFinding(
            label=moment.local.date().isoformat(), source=moment.source, note=note, extra=extra
        )
    return TimeFinding(
        label=(aware or moment.local).isoformat(),
        source=moment.source,
        offset=(aware.strftime("%z") if aware else None),
        utc=(aware.astimezone(UTC).isoformat() if aware else None),
        note=note,
        extra=extra,
    )


def _conflicts(first: Moment, others: list[Moment]) -> list[Finding]:
    issues: list[Finding] = []
    for other in others:
        if first.has_time and other.has_time:
            agree = abs(first.local - other.local) <= _AGREE
        else:
            agree = abs((first.local.date() - other.local.date()).days) <= 1
        if not agree:
            shown = [
                f"{m.source} says {m.local.isoformat(sep=' ') if m.has_time else m.local.date().isoformat()}"
                for m in (first, other)
            ]
            issues.append(MetadataIssue(label="conflicting_time", reason="; ".join(shown)))
    return issues
