"""The single write path to the index. Everything that changes the index goes through Store."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from shadowlens.daemon.analysis.findings import (
    DeviceFinding,
    Finding,
    GpsFinding,
    PlaceFinding,
    TimeFinding,
    first_of,
)
from shadowlens.daemon.analysis.results import AnalysisResult, FileStat
from shadowlens.daemon.index.db import open_index
from shadowlens.daemon.index.profile_writes import ProfileWrites
from shadowlens.daemon.index.schema import (
    DetectorRunRow,
    Face,
    File,
    FileStatus,
    FindingRow,
    Photo,
    ScanError,
    utcnow,
)
from shadowlens.daemon.index.sort_keys import first_brand
from sqlalchemy import ColumnElement, CursorResult, Engine, and_, delete, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker


@dataclass(frozen=True)
class KnownFile:
    path: str
    stat: FileStat
    status: FileStatus
    signature: str | None


class Store:
    """Owns the writer engine. Each public method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._open = 0  # sessions open now

    @classmethod
    def open(cls, path: Path) -> Store:
        return cls(open_index(path))

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._in_use(), self._sessions.begin() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session that only reads. Keep it short: on the writer's engine, it too begins by
        taking the write lock (``db.make_engine``)."""
        with self._in_use(), self._sessions() as session:
            yield session

    @contextmanager
    def _in_use(self) -> Iterator[None]:
        self._open += 1
        try:
            yield
        finally:
            self._open -= 1

    @property
    def idle(self) -> bool:
        """No session of this store is open. A Ctrl-C is safe to raise only then: one raised
        inside a transaction can leave its connection, and SQLite's write lock, held until
        the process ends, so nothing more could be written (see ``library/scan.py``)."""
        return self._open == 0

    def close(self) -> None:
        self.engine.dispose()

    @property
    def path(self) -> Path:
        """The index file, for worker processes that open their own reader on it."""
        assert self.engine.url.database, "the index is a file"
        return Path(self.engine.url.database)

    @property
    def profile(self) -> ProfileWrites:
        """Persons, exposure scores, alerts and the user's decisions about them."""
        return ProfileWrites(self)

    # -- reads the writer itself needs -------------------------------------------------

    def known_files(self, roots: Iterable[Path]) -> dict[str, KnownFile]:
        """Stored files under ``roots`` (or a root itself, when it is a file), for the stat
        comparison of a rescan: one range of the path index per root, not a read of every row."""
        known: dict[str, KnownFile] = {}
        with self.reading() as session:
            for root in roots:
                query = _known_query().where(at_or_beneath(File.path, str(root)))
                known.update((row.path, _known(row)) for row in session.execute(query))
        return known

    def signature_for(self, sha256: str) -> str | None:
        with self.reading() as session:
            return session.scalar(select(Photo.signature).where(Photo.sha256 == sha256))

    # -- writes ---------------------------------------------------------------------------

    def mark_pending(self, paths: Iterable[str]) -> None:
        """Record discovered files before any work starts, so none is forgotten after a crash."""
        paths = list(paths)
        with self.transaction() as session:
            existing: set[str] = set()
            for chunk in _chunks(paths, 500):
                existing.update(session.scalars(select(File.path).where(File.path.in_(chunk))))
            for path in paths:
                if path in existing:
                    session.execute(
                        update(File).where(File.path == path).values(status=FileStatus.PENDING, error=None)
                    )
                else:
                    session.add(File(path=path, status=FileStatus.PENDING))

    def save(self, result: AnalysisResult, session: Session | None = None) -> None:
        """Persist one analysis result (and nothing else) in one transaction."""
        if session is None:
            with self.transaction() as own:
                self._save(own, result)
        else:
            self._save(session, result)

    def _save(self, session: Session, result: AnalysisResult) -> None:
        file = session.scalar(select(File).where(File.path == result.path))
        if file is None:
            file = File(path=result.path, status=FileStatus.PENDING)
            session.add(file)
        if result.file_error:
            file.status, file.error = FileStatus.ERROR, result.file_error
            return
        if result.skipped:
            self._skip(session, file, result)
            return
        assert result.sha256 is not None and result.stat is not None
        photo = session.scalar(select(Photo).where(Photo.sha256 == result.sha256))
        if not result.linked or photo is None:
            photo = self._store_analysis(session, photo, result)
        previous = file.photo_id
        file.photo = photo
        photo.orphaned_at = None
        if previous is not None and previous != photo.id:
            _mark_if_orphaned(session, previous)
        file.size, file.mtime_ns = result.stat.size, result.stat.mtime_ns
        file.inode, file.device = result.stat.inode, result.stat.device
        file.status, file.error = photo.status, photo.error

    @staticmethod
    def _skip(session: Session, file: File, result: AnalysisResult) -> None:
        """An image format nothing reads: remembered with its reason and stat (a rescan leaves it
        alone until it changes), and no longer tied to what the file held before."""
        previous = file.photo_id
        file.photo = None
        if previous is not None:
            _mark_if_orphaned(session, previous)
        file.status, file.error = FileStatus.SKIPPED, result.skipped
        if result.stat is not None:
            file.size, file.mtime_ns = result.stat.size, result.stat.mtime_ns
            file.inode, file.device = result.stat.inode, result.stat.device

    def _store_analysis(self, session: Session, photo: Photo | None, result: AnalysisResult) -> Photo:
        assert result.sha256 is not None and result.stat is not None
        if photo is None:
            photo = Photo(
                sha256=result.sha256, size=result.stat.size, status=FileStatus.PENDING, signature=""
            )
            session.add(photo)
        else:
            session.execute(delete(FindingRow).where(FindingRow.photo_id == photo.id))
            session.execute(delete(DetectorRunRow).where(DetectorRunRow.photo_id == photo.id))
        photo.format, photo.width, photo.height = result.format, result.width, result.height
        photo.status = FileStatus.ERROR if result.error else FileStatus.INDEXED
        photo.error, photo.signature, photo.analysed_at = result.error, result.signature, utcnow()
        _denormalise(photo, result.findings)
        for run in result.runs:
            photo.runs.append(
                DetectorRunRow(
                    detector=run.detector,
                    version=run.version,
                    seconds=run.seconds,
                    error=run.error,
                    timings=run.timings or None,
                )
            )
            for finding in run.findings:
                row = _finding_row(finding, run.detector, run.version)
                payload = finding.embedding_payload()
                if payload is not None:
                    engine, dim, vector = payload
                    row.face = Face(
                        photo=photo, engine=engine, dim=dim, embedding=vector, confidence=row.confidence
                    )
                photo.findings.append(row)
        return photo

    def remove_files(self, paths: Iterable[str], keep_content: bool = False) -> int:
        """Forget deleted files. Photos no file points at any more go too, unless ``keep_content``
        (then they are marked orphaned and ``forget_orphans`` removes them after a grace period)."""
        with self.transaction() as session:
            return remove_files(session, list(paths), keep_content)

    def remove_tree(self, folder: str, keep_content: bool = False) -> int:
        """Forget every file under a deleted folder."""
        with self.transaction() as session:
            query = select(File.path).where(beneath(File.path, folder))
            return remove_files(session, list(session.scalars(query)), keep_content)

    def forget_orphans(self, older_than: timedelta) -> int:
        cutoff = utcnow() - older_than
        with self.transaction() as session:
            outcome = session.execute(
                delete(Photo).where(Photo.orphaned_at.is_not(None), Photo.orphaned_at <= cutoff)
            )
            return cast(CursorResult[Any], outcome).rowcount or 0

    def move_file(self, source: str, target: str) -> bool:
        """A rename inside the library: the file keeps its photo and analysis. False if unknown."""
        with self.transaction() as session:
            file = session.scalar(select(File).where(File.path == source))
            if file is None:
                return False
            remove_files(session, [target])
            file.path = target
            return True

    def move_tree(self, source: str, target: str) -> int:
        """A folder renamed inside the library: every file under it keeps its analysis."""
        src, dst = source.rstrip(os.sep) + os.sep, target.rstrip(os.sep) + os.sep
        with self.transaction() as session:
            files = list(session.scalars(select(File).where(beneath(File.path, source))))
            remove_files(session, [dst + f.path[len(src) :] for f in files])
            for file in files:
                file.path = dst + file.path[len(src) :]
            return len(files)

    def file_state(self, path: str) -> KnownFile | None:
        with self.reading() as session:
            row = session.execute(_known_query().where(File.path == path)).first()
        return _known(row) if row else None

    def record_scan_error(self, path: str, stage: str, message: str) -> None:
        with self.transaction() as session:
            existing = session.scalar(
                select(ScanError).where(ScanError.path == path, ScanError.stage == stage)
            )
            if existing:
                existing.message, existing.at = message, utcnow()
            else:
                session.add(ScanError(path=path, stage=stage, message=message))

    def clear_scan_errors(self, roots: Iterable[Path]) -> None:
        with self.transaction() as session:
            for root in roots:
                session.execute(delete(ScanError).where(at_or_beneath(ScanError.path, str(root))))


def beneath(column: InstrumentedAttribute[str], folder: str) -> ColumnElement[bool]:
    """Paths strictly inside ``folder``, as a range of the path's index: stored paths keep their
    prefixes (``fsnames.index_text``), and unlike LIKE, which SQLite folds to lower case, a range
    never mixes up ``/Photos`` and ``/photos``."""
    prefix = folder.rstrip(os.sep) + os.sep
    # Every path that starts with "<folder>/" sorts before "<folder>0" ("0" follows "/").
    return and_(column >= prefix, column < prefix[:-1] + chr(ord(os.sep) + 1))


def at_or_beneath(column: InstrumentedAttribute[str], root: str) -> ColumnElement[bool]:
    """``root`` itself (a file given to scan) or any path inside it (a folder)."""
    return or_(column == root, beneath(column, root))


def _known_query() -> Any:
    return select(
        File.path, File.size, File.mtime_ns, File.inode, File.device, File.status, Photo.signature
    ).outerjoin(Photo, File.photo_id == Photo.id)


def _known(row: Any) -> KnownFile:
    values = (row.size, row.mtime_ns, row.inode, row.device)
    stat = FileStat(*(-1 if v is None else v for v in values))
    return KnownFile(row.path, stat, FileStatus(row.status), row.signature)


def _mark_if_orphaned(session: Session, photo_id: int) -> None:
    """The file now holds other content; the old content's analysis waits for forget_orphans."""
    session.flush()
    if session.scalar(select(File.id).where(File.photo_id == photo_id).limit(1)) is None:
        session.execute(update(Photo).where(Photo.id == photo_id).values(orphaned_at=utcnow()))


def remove_files(session: Session, paths: list[str], keep_content: bool = False) -> int:
    """Delete file rows, then every photo (with its findings) that no file points at any more."""
    removed = 0
    for chunk in _chunks(paths, 500):
        outcome = cast(CursorResult[Any], session.execute(delete(File).where(File.path.in_(chunk))))
        removed += outcome.rowcount or 0
    if removed:
        orphans = select(Photo.id).outerjoin(File, File.photo_id == Photo.id).where(File.id.is_(None))
        if keep_content:
            session.execute(
                update(Photo)
                .where(Photo.id.in_(orphans), Photo.orphaned_at.is_(None))
                .values(orphaned_at=utcnow())
            )
        else:
            session.execute(delete(Photo).where(Photo.id.in_(orphans)))
    return removed


def _finding_row(finding: Finding, detector: str, version: str) -> FindingRow:
    return FindingRow(
        kind=finding.kind,
        label=finding.label,
        confidence=float(finding.confidence),
        bbox=[round(float(v), 2) for v in finding.bbox] if finding.bbox else None,
        attrs=finding.attrs(),
        detector=detector,
        detector_version=version,
    )


def _denormalise(photo: Photo, findings: list[Finding]) -> None:
    gps, time = first_of(findings, GpsFinding), first_of(findings, TimeFinding)
    device, place = first_of(findings, DeviceFinding), first_of(findings, PlaceFinding)
    photo.lat, photo.lon = (gps.lat, gps.lon) if gps else (None, None)
    photo.taken_at = time.label if time else None
    photo.taken_utc = time.utc if time else None
    photo.device_make = device.make if device else None
    photo.device_model = device.model if device else None
    photo.city = place.city if place else None
    photo.admin = place.admin if place else None
    photo.country_code = place.country_code if place else None
    # The sort keys (index/sort_keys.py): the old faces went with the old findings, and the new
    # ones have no person until the profile groups them.
    photo.person_faces = 0
    photo.first_brand = first_brand(findings)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
