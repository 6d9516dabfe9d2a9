"""Writes of the profile and of user decisions: persons, exposure scores, alerts, safe marks.

Part of the single write path: Store.profile returns this view over the Store's own engine, so
the daemon, ``scan`` and the TUI all change persons and alerts the same way, in short
transactions.

The persons generation (a ``daemon_state`` row) counts the writes that change persons behind a
running updater's back (user decisions, re-clusters): the daemon holds every face and its person
in memory, and reads them again when the stored generation is no longer the one it saw
(profile/updater.py).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from shadowlens.daemon.analysis.findings import CHILD_AGE
from shadowlens.daemon.index import sort_keys
from shadowlens.daemon.index.schema import Alert, DaemonState, Face, FindingRow, Person, Photo, utcnow
from sqlalchemy import func, select, update
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from shadowlens.daemon.index.writer import Store

ALERT_STATES = ("new", "seen", "dismissed")
PROFILE_KEY = "profile"
PERSONS_GENERATION_KEY = "persons_generation"


class ProfileWrites:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- persons ------------------------------------------------------------------------------

    def assign_faces(
        self, engine: str, joined: dict[int, int], new_groups: Sequence[Sequence[int]]
    ) -> list[int]:
        """Faces joining existing persons, and groups that become new persons; returns their ids."""
        created: list[int] = []
        with self.store.transaction() as session:
            for face_id, person_id in joined.items():
                session.execute(update(Face).where(Face.id == face_id).values(person_id=person_id))
            for group in new_groups:
                person = Person(engine=engine)
                session.add(person)
                session.flush()
                session.execute(update(Face).where(Face.id.in_(list(group))).values(person_id=person.id))
                created.append(person.id)
            sort_keys.refresh_photos_of_faces(session, [*joined, *(i for group in new_groups for i in group)])
            _count_faces(session, set(joined.values()))
            _refresh_persons(session, set(created))
        return created

    def refresh_persons(self, engine: str | None = None) -> None:
        """Counts, child estimates and cover faces of every person (the incremental path only
        keeps counts current: a person with 15,000 faces must not cost a photo 100 ms)."""
        with self.store.transaction() as session:
            query = select(Person.id) if engine is None else select(Person.id).where(Person.engine == engine)
            _refresh_persons(session, set(session.scalars(query)))

    def replace_clusters(self, engine: str, face_ids: Sequence[int], person_of: Sequence[int | None]) -> None:
        """A full re-cluster's outcome: every face of ``engine`` gets its person (None = unassigned);
        persons left without faces are removed unless the user named them."""
        with self.store.transaction() as session:
            wanted = {p for p in person_of if p is not None}
            existing = set(session.scalars(select(Person.id).where(Person.id.in_(wanted))))
            for missing in sorted(wanted - existing):
                session.add(Person(id=missing, engine=engine))
            session.flush()
            by_person: dict[int | None, list[int]] = {}
            for face_id, person_id in zip(face_ids, person_of, strict=True):
                by_person.setdefault(person_id, []).append(int(face_id))
            for person_id, ids in by_person.items():
                for start in range(0, len(ids), 900):
                    chunk = ids[start : start + 900]
                    session.execute(update(Face).where(Face.id.in_(chunk)).values(person_id=person_id))
            sort_keys.refresh_engine(session, engine)
            all_ids = set(session.scalars(select(Person.id).where(Person.engine == engine)))
            _refresh_persons(session, all_ids)
            # The updater that re-clustered reads its matrix again anyway; any other one must too.
            _bump_persons_generation(session)

    # Every decision below but a rename bumps the persons generation in its own transaction: a
    # merge or split moves faces between persons (what the daemon's matrix holds), the owner and
    # the children change what scores depend on. Names are only read when the profile is built.

    def rename_person(self, person_id: int, name: str | None) -> None:
        with self.store.transaction() as session:
            _person(session, person_id).name = (name or "").strip() or None

    def set_owner(self, person_id: int | None) -> None:
        """Marks the user ("this is me"); None returns the choice to the profile."""
        with self.store.transaction() as session:
            session.execute(update(Person).values(is_owner=None))
            if person_id is not None:
                _person(session, person_id).is_owner = True
            _bump_persons_generation(session)

    def set_child(self, person_id: int, is_child: bool | None) -> None:
        with self.store.transaction() as session:
            _person(session, person_id).child_override = is_child
            _bump_persons_generation(session)

    def merge_persons(self, into: int, others: Iterable[int]) -> None:
        with self.store.transaction() as session:
            target = _person(session, into)
            for other_id in others:
                other = _person(session, other_id)
                if other.engine != target.engine:
                    raise ValueError("cannot merge persons of different face engines")
                session.execute(update(Face).where(Face.person_id == other.id).values(person_id=into))
                target.name = target.name or other.name
                target.is_owner = target.is_owner or other.is_owner
                session.delete(other)
            session.flush()
            # Faces move from person to person, never to or from none, so no count changes
            # today; recounted anyway, so the stored key never depends on that reasoning.
            sort_keys.refresh_photos_of_persons(session, {into})
            _refresh_persons(session, {into})
            _bump_persons_generation(session)

    def split_face(self, face_id: int) -> int:
        """Takes one face out of its person into a new person of its own; returns the new id."""
        with self.store.transaction() as session:
            face = session.get(Face, face_id)
            if face is None:
                raise ValueError(f"no face {face_id}")
            previous = face.person_id
            person = Person(engine=face.engine)
            session.add(person)
            session.flush()
            face.person_id = person.id
            session.flush()
            sort_keys.refresh_photos_of_faces(session, [face_id])
            _refresh_persons(session, {person.id} | ({previous} if previous else set()))
            _bump_persons_generation(session)
            return person.id

    # -- exposure, alerts, safe marks ----------------------------------------------------------

    def set_exposures(self, scores: Iterable[tuple[int, int, list[dict[str, Any]]]]) -> None:
        rows = [{"id": i, "exposure": value, "exposure_reasons": reasons} for i, value, reasons in scores]
        with self.store.transaction() as session:
            for start in range(0, len(rows), 5000):
                # An UPDATE by primary key with a list of rows: one executemany, not one per photo.
                session.execute(update(Photo), rows[start : start + 5000])

    def add_alert(self, photo_id: int, score: int, reasons: list[dict[str, Any]]) -> int:
        with self.store.transaction() as session:
            alert = Alert(photo_id=photo_id, score=score, reasons=reasons, state="new")
            session.add(alert)
            session.flush()
            return alert.id

    def set_alert_state(self, alert_ids: Iterable[int], state: str) -> int:
        if state not in ALERT_STATES:
            raise ValueError(f"alert state must be one of {', '.join(ALERT_STATES)}, not {state!r}")
        with self.store.transaction() as session:
            result = session.execute(update(Alert).where(Alert.id.in_(list(alert_ids))).values(state=state))
            return int(getattr(result, "rowcount", 0) or 0)

    def mark_notified(self, alert_ids: Iterable[int]) -> None:
        with self.store.transaction() as session:
            session.execute(update(Alert).where(Alert.id.in_(list(alert_ids))).values(notified_at=utcnow()))

    def mark_safe(self, photo_id: int, safe: bool = True) -> None:
        with self.store.transaction() as session:
            session.execute(update(Photo).where(Photo.id == photo_id).values(marked_safe=safe))
            if safe:
                session.execute(
                    update(Alert)
                    .where(Alert.photo_id == photo_id, Alert.state == "new")
                    .values(state="dismissed")
                )

    def save_profile(self, snapshot: dict[str, Any]) -> None:
        self.save_profile_part(PROFILE_KEY, snapshot)

    def save_profile_part(self, key: str, snapshot: dict[str, Any]) -> None:
        with self.store.transaction() as session:
            _put_state(session, key, snapshot)


def persons_generation(session: Session) -> int:
    """How many times persons were changed by decisions and re-clusters (0: never)."""
    value = session.scalar(select(DaemonState.value).where(DaemonState.key == PERSONS_GENERATION_KEY))
    return int((value or {}).get("generation", 0))


def _bump_persons_generation(session: Session) -> None:
    # Read and written in the caller's transaction, which the writer engine begins IMMEDIATE:
    # no other writer can bump in between, and a reader sees the decision and the bump together.
    _put_state(session, PERSONS_GENERATION_KEY, {"generation": persons_generation(session) + 1})


def _put_state(session: Session, key: str, value: dict[str, Any]) -> None:
    statement = insert(DaemonState).values(key=key, value=value, updated_at=utcnow())
    session.execute(
        statement.on_conflict_do_update(index_elements=["key"], set_={"value": value, "updated_at": utcnow()})
    )


def _person(session: Any, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise ValueError(f"no person {person_id}")
    return person  # type: ignore[no-any-return]


def _count_faces(session: Any, person_ids: Iterable[int]) -> None:
    for person_id in person_ids:
        faces, photos = session.execute(
            select(func.count(), func.count(func.distinct(Face.photo_id))).where(Face.person_id == person_id)
        ).one()
        session.execute(
            update(Person).where(Person.id == person_id).values(face_count=faces, photo_count=photos)
        )


def _refresh_persons(session: Any, person_ids: Iterable[int]) -> None:
    """Counts, child estimate and cover face of ``person_ids``; drops unnamed persons left empty.

    One query per 900 persons, not one per person: the nightly re-cluster touches thousands.
    """
    ids = sorted(set(person_ids))
    faces: dict[int, list[Any]] = {i: [] for i in ids}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        rows = session.execute(
            select(
                Face.person_id,
                Face.id,
                Face.photo_id,
                func.json_extract(FindingRow.attrs, "$.age"),
                FindingRow.confidence,
            )
            .join(FindingRow, FindingRow.id == Face.finding_id)
            .where(Face.person_id.in_(chunk))
        ).all()
        for row in rows:
            faces[row[0]].append(row)
    for start in range(0, len(ids), 900):
        for person in session.scalars(select(Person).where(Person.id.in_(ids[start : start + 900]))):
            rows = faces[person.id]
            if not rows and not person.name and not person.is_owner:
                session.delete(person)
                continue
            ages = [float(r[3]) for r in rows if r[3] is not None]
            person.face_count = len(rows)
            person.photo_count = len({r[2] for r in rows})
            person.is_child = bool(ages) and statistics.median(ages) < CHILD_AGE
            person.cover_face_id = max(rows, key=lambda r: r[4])[1] if rows else None
