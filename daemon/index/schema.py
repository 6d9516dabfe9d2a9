"""The index schema (SQLAlchemy 2 typed ORM). Alembic migrations in ``migrations/`` mirror it.

A *photo* is one distinct content (by sha256); a *file* is a path that holds it. A moved,
renamed or copied file points at the same photo, so its analysis is never repeated.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from shadowlens.daemon import clock
from shadowlens.daemon.index.text_columns import MessageText, PathText
from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, MetaData, String, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return clock.utc_naive()


class FileStatus(StrEnum):
    """``files.status`` and ``photos.status`` (the columns stay plain text: values compare as str)."""

    INDEXED = "indexed"
    ERROR = "error"
    # Found, waiting to be analysed (or analysed again).
    PENDING = "pending"
    # An image-like file in a format nothing here reads ("unsupported format: Sigma X3F").
    SKIPPED = "skipped"


class JobState(StrEnum):
    """``jobs.state``: queued -> running -> done, or parked after ``max_attempts`` failures."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    PARKED = "parked"


class JobReason(StrEnum):
    """``jobs.reason``: why a job was queued. All but ``SAFE_COPY`` analyse the file."""

    NEW = "new"
    MOVED = "moved"
    RECONCILE = "reconcile"
    SCAN = "scan"
    # The daemon's twin folders: a verified safe copy of a photo already analysed.
    SAFE_COPY = "safe_copy"

    @property
    def analyses(self) -> bool:
        return self is not JobReason.SAFE_COPY


# The photo search (migration 0007): an FTS5 trigram table, rowid = photos.id, of each photo's
# city, paths and brands, kept by triggers. No ORM table (SQLAlchemy declares no virtual tables).
SEARCH_TABLE = "photo_search"


def mapped_table(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's ``include_name``: leave the search table and its shadow tables out of comparisons."""
    return not (type_ == "table" and name is not None and name.startswith(SEARCH_TABLE))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[float]: JSON,
        list[dict[str, Any]]: JSON,
    }


class Photo(Base):
    __tablename__ = "photos"
    # Ascending pages sort by ``key IS NULL, key, id``: only an index on that very expression lets
    # SQLite walk it and stop after a page.
    __table_args__ = (
        Index("ix_photos_exposure_nulls_last", text("exposure IS NULL"), "exposure"),
        Index("ix_photos_taken_at_nulls_last", text("taken_at IS NULL"), "taken_at"),
        Index("ix_photos_city_nulls_last", text("city IS NULL"), "city"),
        Index("ix_photos_first_brand_nulls_last", text("first_brand IS NULL"), "first_brand"),
        Index("ix_photos_first_path_nulls_last", text("first_path IS NULL"), "first_path"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int]
    format: Mapped[str | None] = mapped_column(String(16))
    width: Mapped[int | None]
    height: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(MessageText)
    signature: Mapped[str]
    # Denormalised from findings so that lists of 100,000 photos sort and filter fast.
    taken_at: Mapped[str | None] = mapped_column(index=True)
    taken_utc: Mapped[str | None]
    lat: Mapped[float | None] = mapped_column(index=True)
    lon: Mapped[float | None]
    city: Mapped[str | None] = mapped_column(index=True)
    admin: Mapped[str | None]
    country_code: Mapped[str | None] = mapped_column(String(2))
    device_make: Mapped[str | None]
    device_model: Mapped[str | None]
    exposure: Mapped[int | None] = mapped_column(index=True)
    # The People, Brand and Path sort keys, stored: per row at sort time they cost 200 ms a page at
    # 100,000 photos. Faces that have a person, the first brand, the first path (index/sort_keys.py).
    person_faces: Mapped[int] = mapped_column(default=0, server_default=text("0"), index=True)
    first_brand: Mapped[str | None] = mapped_column(index=True)
    first_path: Mapped[str | None] = mapped_column(PathText, index=True)
    # [{"code": "gps_near_home", "points": 40, "text": "..."}], in plain words, masked values only.
    exposure_reasons: Mapped[list[dict[str, Any]] | None]
    # A user decision: "this photo is fine to share"; it raises no alert and sorts as safe.
    marked_safe: Mapped[bool] = mapped_column(default=False, server_default=text("0"))
    analysed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the last file of this content disappears; the analysis is kept for a short grace
    # period so that a delete-then-create pair (a move the watcher saw in halves) is not re-analysed.
    orphaned_at: Mapped[datetime | None]

    files: Mapped[list[File]] = relationship(back_populates="photo")
    findings: Mapped[list[FindingRow]] = relationship(
        back_populates="photo", cascade="all, delete-orphan", passive_deletes=True
    )
    runs: Mapped[list[DetectorRunRow]] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class File(Base):
    __tablename__ = "files"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(PathText, unique=True)
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photos.id", ondelete="SET NULL"), index=True)
    size: Mapped[int | None]
    mtime_ns: Mapped[int | None]
    inode: Mapped[int | None]
    device: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16), index=True)
    error: Mapped[str | None] = mapped_column(MessageText)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    photo: Mapped[Photo | None] = relationship(back_populates="files")


class FindingRow(Base):
    __tablename__ = "findings"
    # (photo_id, kind, label): a photo's brands for sorting and listing without a table lookup.
    __table_args__ = (Index(None, "kind", "label"), Index(None, "photo_id", "kind", "label"))

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    label: Mapped[str]
    confidence: Mapped[float]
    bbox: Mapped[list[float] | None]
    attrs: Mapped[dict[str, Any]]
    detector: Mapped[str] = mapped_column(String(64))
    detector_version: Mapped[str] = mapped_column(String(128))

    photo: Mapped[Photo] = relationship(back_populates="findings")
    face: Mapped[Face | None] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class Face(Base):
    """A face's identity embedding. Embeddings of different engines are never compared."""

    __tablename__ = "faces"
    __table_args__ = (Index(None, "person_id", "confidence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    engine: Mapped[str] = mapped_column(String(64))
    dim: Mapped[int]
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    person_id: Mapped[int | None]
    # The finding's, copied: a person's best faces are then one walk of (person_id, confidence).
    confidence: Mapped[float] = mapped_column(server_default=text("0"))

    photo: Mapped[Photo] = relationship()


class Person(Base):
    """A cluster of faces of one embedding engine. Names, owner and child marks set by the user
    survive re-clustering (the new cluster that holds most of a person's faces keeps its id)."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    engine: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str | None]
    # None: not decided by the user; the profile then takes the person who appears most.
    is_owner: Mapped[bool | None]
    # Estimated from the faces' ages; child_override is the user's word and wins.
    is_child: Mapped[bool] = mapped_column(default=False)
    child_override: Mapped[bool | None]
    face_count: Mapped[int] = mapped_column(default=0)
    photo_count: Mapped[int] = mapped_column(default=0, index=True)
    cover_face_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Alert(Base):
    """A risky photo the user was (or will be) told about: new, seen or dismissed."""

    __tablename__ = "alerts"
    __table_args__ = (Index(None, "state", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), index=True)
    score: Mapped[int]
    reasons: Mapped[list[dict[str, Any]]]
    state: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    notified_at: Mapped[datetime | None]


class DetectorRunRow(Base):
    """One detector's run on one photo: its version, time and error, if it failed."""

    __tablename__ = "detector_runs"

    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True)
    detector: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Detector versions include the models they chose, e.g. "1+opencv-yunet-2023mar+dlib-resnet-128".
    version: Mapped[str] = mapped_column(String(256))
    seconds: Mapped[float]
    # Seconds per stage (for faces: detector, embedder, agesex, expression).
    timings: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(MessageText)
    ran_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScanError(Base):
    """A problem not tied to one photo's content: an unreadable folder, a symlink loop."""

    __tablename__ = "scan_errors"
    __table_args__ = (UniqueConstraint("path", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(PathText)
    stage: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(MessageText)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """A unit of work of the durable queue: one file to analyse (or to make a safe copy of).

    At most one queued job per path (a partial unique index); a file that changes while its
    job runs gets a new queued job beside the running one. Done jobs are kept for a while as
    the record of what was analysed, and when. ``worker`` names the process that runs a running
    job, or that reserved a queued one (a scan keeps its jobs for itself while it lives).
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("uq_jobs_queued_path", "path", unique=True, sqlite_where=text(f"state = '{JobState.QUEUED}'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(PathText, index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(
        String(16), default=JobReason.NEW.value, server_default=JobReason.NEW.value
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(MessageText)
    worker: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    claimed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class DaemonState(Base):
    """Small shared facts between the daemon and its clients: pause flag, heartbeat, rate."""

    __tablename__ = "daemon_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
