"""Keeps the profile current: incremental work per new photo, full rebuilds on a schedule.

Per new photo (the fast path, goal < 100 ms on 100,000 photos): its faces join persons through
an in-memory matrix of embeddings per engine, its exposure is scored against what the profile
knows (home, owner, children), and an alert is raised when the score reaches the threshold.
The matrix is read once, and again only after a user's decision changed persons in another
process (a merge or split in the TUI, a new owner, a child mark): ``sync`` compares the persons
generation it last saw with the stored one, a single row read per photo.
The whole profile (places, brands, segments...) is rebuilt by ``refresh`` when photos changed,
and all faces are re-clustered by ``recluster`` (nightly).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from shadowlens.daemon import clock
from shadowlens.daemon.config import Config
from shadowlens.daemon.index.profile_writes import PROFILE_KEY, persons_generation
from shadowlens.daemon.index.schema import Alert, DaemonState, Face, Person, Photo
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.profile import apart
from shadowlens.daemon.profile.builder import PersonRecord, build_profile
from shadowlens.daemon.profile.exposure import ExposureContext, Reason, score
from shadowlens.daemon.profile.face_matrix import load_matrices
from shadowlens.daemon.profile.facts import PhotoFacts
from shadowlens.daemon.profile.load import load_facts
from shadowlens.daemon.profile.people import (
    FaceMatrix,
    assign_incremental,
    carry_over,
    default_params,
)
from shadowlens.daemon.profile.recluster import recluster
from sqlalchemy import select

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RaisedAlert:
    alert_id: int
    photo_id: int
    path: str
    score: int
    reasons: list[Reason]


class ProfileUpdater:
    def __init__(
        self, store: Store, config: Config, on_alert: Callable[[RaisedAlert], None] | None = None
    ) -> None:
        self.store, self.config = store, config
        self.on_alert = on_alert or (lambda _alert: None)
        self.matrices: dict[str, FaceMatrix] = {}
        self.context = ExposureContext()
        self.dirty = True
        self._loaded = False
        self._generation: int | None = None  # the persons generation last seen (see sync)

    # -- state ----------------------------------------------------------------------------------

    def load(self) -> None:
        """Reads every embedding into memory, and the context from the stored profile."""
        self.matrices = {}  # the old matrices go before the new ones are read
        with self.store.transaction() as session:
            # In the transaction that reads the faces: a decision committed after it bumps the
            # generation past this one, so the next sync() reloads.
            generation = persons_generation(session)
            # Straight into one preallocated matrix per engine, no Python object per face kept.
            self.matrices = load_matrices(session)
            snapshot = session.get(DaemonState, PROFILE_KEY)
        self.context = ExposureContext.from_profile(snapshot.value if snapshot else None)
        self._loaded, self._generation = True, generation

    def sync(self) -> bool:
        """Notices decisions about persons made since the matrices were read (by the TUI or the
        CLI, through Store.profile): True when there were. The matrices are then read again
        before the next face is assigned, and the profile is rebuilt at the next refresh (the
        owner and the children are part of it). One row read: cheap enough for every photo."""
        with self.store.transaction() as session:
            generation = persons_generation(session)
        if generation == self._generation:
            return False
        # Remembered even when nothing is loaded yet, so one decision makes one rebuild.
        self._generation, self._loaded, self.dirty = generation, False, True
        return True

    def _current(self) -> None:
        """The matrices as the index holds them now: read on first use and after a decision."""
        self.sync()
        if not self._loaded:
            self.load()

    # -- the fast path ----------------------------------------------------------------------------

    def photo_indexed(self, photo_id: int, alert: bool = True) -> RaisedAlert | None:
        self._current()
        self._assign_faces(photo_id)
        self.dirty = True
        return self._score(photo_id, alert)

    def _assign_faces(self, photo_id: int) -> None:
        with self.store.transaction() as session:
            rows = session.execute(
                select(Face.id, Face.engine, Face.dim, Face.embedding).where(
                    Face.photo_id == photo_id, Face.person_id.is_(None)
                )
            ).all()
        by_engine: dict[str, list[Any]] = {}
        for row in rows:
            by_engine.setdefault(row.engine, []).append(row)
        for engine, group in by_engine.items():
            matrix = self.matrices.setdefault(engine, FaceMatrix(engine, group[0].dim))
            ids = np.array([r.id for r in group], dtype=np.int64)
            known = [int(i) for i in ids if _contains(matrix, int(i))]
            if known:
                matrix.remove(known)
            vectors = np.stack([np.frombuffer(r.embedding, dtype=np.float32) for r in group])
            outcome = assign_incremental(matrix, ids, vectors, default_params(engine))
            created = self.store.profile.assign_faces(engine, outcome.joined, outcome.new_persons)
            for group_ids, person_id in zip(outcome.new_persons, created, strict=True):
                matrix.set_persons(group_ids, person_id)

    def _score(self, photo_id: int, alert: bool) -> RaisedAlert | None:
        with self.store.transaction() as session:
            facts = load_facts(session, [photo_id])
            safe = session.scalar(select(Photo.marked_safe).where(Photo.id == photo_id))
            alerted = session.scalar(select(Alert.id).where(Alert.photo_id == photo_id).limit(1))
        if not facts:
            return None
        value, reasons = score(facts[0], self.context, self.config.alerts.points)
        stored = [r.as_dict() for r in reasons]
        self.store.profile.set_exposures([(photo_id, value, stored)])
        if not alert or safe or alerted is not None or value < self.config.alerts.threshold:
            return None
        alert_id = self.store.profile.add_alert(photo_id, value, stored)
        raised = RaisedAlert(alert_id, photo_id, facts[0].path, value, reasons)
        log.warning("alert: %s exposure %d: %s", facts[0].path, value, "; ".join(str(r) for r in reasons))
        self.on_alert(raised)
        return raised

    def catch_up(self, alert: bool = True) -> list[RaisedAlert]:
        """Photos analysed but never scored (by ``scan``, or while the daemon was down): faces
        first, then the profile, then scores and alerts, so that the first scores already know
        home, the owner and the children."""
        with self.store.transaction() as session:
            todo = list(
                session.scalars(select(Photo.id).where(Photo.status == "indexed", Photo.exposure.is_(None)))
            )
        if not todo:
            return []
        self._current()
        for photo_id in todo:
            self._assign_faces(photo_id)
        self.dirty = True
        self.refresh(force=True)
        raised = [self._score(photo_id, alert) for photo_id in todo]
        return [r for r in raised if r is not None]

    # -- the slow paths -----------------------------------------------------------------------------

    def refresh(self, force: bool = False, now: datetime | None = None) -> dict[str, Any] | None:
        """Rebuilds the profile when photos changed; rescores every photo when home, the owner
        or the children changed (scores depend on them)."""
        if not (self.dirty or force):
            return None
        started = time.perf_counter()
        self.store.profile.refresh_persons()
        with self.store.transaction() as session:
            facts = load_facts(session)
            persons = [_record(p) for p in session.scalars(select(Person))]
        snapshot = build_profile(facts, persons, self.config.profile, now or clock.local_now())
        self.store.profile.save_profile(snapshot)
        context = ExposureContext.from_profile(snapshot)
        if context != self.context or force:
            self.context = context
            self.rescore(facts)
        self.dirty = False
        log.info("profile rebuilt from %d photos in %.1f s", len(facts), time.perf_counter() - started)
        return snapshot

    def rescore(self, facts: Sequence[PhotoFacts]) -> None:
        points = self.config.alerts.points
        scores = []
        for photo in facts:
            value, reasons = score(photo, self.context, points)
            scores.append((photo.photo_id, value, [r.as_dict() for r in reasons]))
        self.store.profile.set_exposures(scores)

    def recluster(self) -> None:
        """Clusters every engine's faces from scratch; persons keep their ids (and names) where
        most of their faces stay together."""
        # A stale matrix would carry old person ids over: a merged-away person would come back.
        self._current()
        for engine, matrix in self.matrices.items():
            face_ids, vectors, old = matrix.snapshot()
            if len(face_ids) == 0:
                continue
            # In a child process in the daemon: SciPy and FAISS must not stay in its memory.
            labels = apart.run(recluster, vectors, default_params(engine))
            keep = carry_over(old, labels)
            with self.store.transaction() as session:
                next_id = (session.scalar(select(Person.id).order_by(Person.id.desc()).limit(1)) or 0) + 1
            fresh: dict[int, int] = {}
            for label, previous in sorted(keep.items()):
                if previous is None:
                    fresh[label], next_id = next_id, next_id + 1
            person_of = [
                None if label < 0 else (keep.get(int(label)) or fresh[int(label)])
                for label in labels.tolist()
            ]
            self.store.profile.replace_clusters(engine, face_ids.tolist(), person_of)
        self.load()
        self.dirty = True


def _contains(matrix: FaceMatrix, face_id: int) -> bool:
    try:
        matrix.person_of(face_id)
    except KeyError:
        return False
    return True


def _record(person: Person) -> PersonRecord:
    return PersonRecord(
        id=person.id,
        name=person.name,
        is_owner=person.is_owner,
        is_child=person.is_child,
        child_override=person.child_override,
        photo_count=person.photo_count,
        face_count=person.face_count,
        engine=person.engine,
    )
