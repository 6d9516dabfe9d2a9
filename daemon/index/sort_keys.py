"""The photos screen's stored sort keys, ``photos.person_faces`` and ``photos.first_brand``.

Part of the single write path. Sorting a page by a value computed per row reads every photo's
faces or findings (~200 ms at 100,000 photos), so the keys are stored and indexed instead, and
kept where what they are computed from changes:

* ``first_brand`` depends on the findings only, which change only when the writer stores an
  analysis: ``Store._store_analysis`` sets it from the findings it stores.
* ``person_faces`` depends on which faces have a person. A new analysis starts at 0 (its faces
  wait for the profile); whatever then sets ``faces.person_id`` (``profile_writes``: new persons,
  re-clusters, merges, splits) refreshes the photos of those faces here, in the same
  transaction.

The third stored key, ``photos.first_path`` (the Path sort), is not kept here: file rows change
on every path the writer takes (saves, copies, moves, deletes, orphans), so triggers on files keep
it, as they keep the search (migration 0007, which also filled all three for older indexes).
"""

from __future__ import annotations

from collections.abc import Iterable

from shadowlens.daemon.analysis.findings import Finding
from shadowlens.daemon.index.schema import Face, FindingRow, Photo
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

CHUNK = 900  # ids per statement: under SQLite's historical limit of 999 bound parameters

# What the People sort has always sorted by: the faces that belong to a person (a face not yet
# grouped, or a stranger, counts 0). Both keys are correlated to the photos row being updated.
PERSON_FACES = select(func.count(Face.person_id)).where(Face.photo_id == Photo.id).scalar_subquery()
FIRST_BRAND = (
    select(func.min(FindingRow.label))
    .where(FindingRow.photo_id == Photo.id, FindingRow.kind == "brand")
    .scalar_subquery()
)


def first_brand(findings: Iterable[Finding]) -> str | None:
    """The Brand sort's key: the brand first in SQLite's ``min()`` order (by code point, which is
    also how Python compares strings), or None for a photo without brands."""
    return min((f.label for f in findings if f.kind == "brand"), default=None)


def refresh_photos(session: Session, photo_ids: Iterable[int]) -> None:
    """Both keys of these photos again, from their faces and findings (a bulk load uses it too)."""
    ids = sorted(set(photo_ids))
    for start in range(0, len(ids), CHUNK):
        _recount(session, Photo.id.in_(ids[start : start + CHUNK]))


def refresh_photos_of_faces(session: Session, face_ids: Iterable[int]) -> None:
    """Recount the photos that hold these faces (call it after their ``person_id`` changed)."""
    ids = sorted(set(face_ids))
    photo_ids: set[int] = set()
    for start in range(0, len(ids), CHUNK):
        photo_ids.update(
            session.scalars(select(Face.photo_id).where(Face.id.in_(ids[start : start + CHUNK])))
        )
    refresh_photos(session, photo_ids)


def refresh_photos_of_persons(session: Session, person_ids: Iterable[int]) -> None:
    """Recount the photos where these persons appear now (after faces moved to them)."""
    query = select(Face.photo_id).where(Face.person_id.in_(sorted(set(person_ids)))).distinct()
    refresh_photos(session, session.scalars(query))


def refresh_engine(session: Session, engine: str) -> None:
    """Recount every photo with a face of ``engine``: what a full re-cluster may have changed."""
    _recount(session, Photo.id.in_(select(Face.photo_id).where(Face.engine == engine)))


def _recount(session: Session, which: ColumnElement[bool]) -> None:
    # No ORM synchronisation: nothing here holds Photo objects, and "fetch" would read every id.
    # first_brand cannot have changed when faces did; recomputing it is an index lookup.
    statement = update(Photo).where(which).values(person_faces=PERSON_FACES, first_brand=FIRST_BRAND)
    session.execute(statement.execution_options(synchronize_session=False))
