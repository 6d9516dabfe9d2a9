"""The face matrix: every embedded face of one engine in memory, and how it is read from the index.

The daemon holds one ``FaceMatrix`` per engine (profile/updater.py) to give each new face its
person within the per-photo budget; people.py decides who is who with it.

Loading: at 300,000 faces the vectors are 150 MB of float32, and that is all the loaded matrices
should cost. Read as ORM rows, each face was a Row holding its own 512-byte bytes object, then a
numpy view of it, then a row of a stacked copy, then a row of the matrix: about four times the
matrix at the peak, and the allocator kept much of it after. ``load_matrices`` counts the faces
first, allocates each matrix once, and copies the blobs into it straight from the sqlite3
cursor, CHUNK rows at a time: the per-face Python objects live for one chunk only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

UNASSIGNED = -1
# Similarity scores held in memory at once while searching (floats): bounds peak memory.
BLOCK_FLOATS = 8_000_000

# Faces per fetch: ~4 MB of blobs at 128-d, so the transient objects stay small and the
# per-chunk overhead (one join, one copy) stays negligible.
CHUNK = 8192
# Room for the faces the daemon adds next, so that its first new face does not copy the whole
# matrix into one twice its size. Rows never written cost no memory: the arrays are large enough
# to be mapped lazily, page by page.
HEADROOM = 0.25
_COUNTS = "SELECT engine, dim, count(*) FROM faces GROUP BY engine, dim ORDER BY engine, dim"
_FACES = "SELECT id, coalesce(person_id, ?), embedding FROM faces WHERE engine = ? AND dim = ?"


class FaceMatrix:
    """All embedded faces of one engine, in memory, for nearest-neighbour queries."""

    def __init__(self, engine: str, dim: int, capacity: int = 0) -> None:
        self.engine, self.dim = engine, dim
        # A load that knows its count allocates once: doubling would copy 150 MB on the way.
        self._ids = np.empty(capacity, dtype=np.int64)
        self._vectors = np.empty((capacity, dim), dtype=np.float32)
        self._persons = np.empty(capacity, dtype=np.int64)
        self._size = 0
        self._row_of: dict[int, int] = {}

    def __len__(self) -> int:
        return self._size

    def add(
        self, face_ids: NDArray[np.int64], vectors: NDArray[np.float32], person_ids: NDArray[np.int64]
    ) -> None:
        ids = np.asarray(face_ids, dtype=np.int64).reshape(-1)
        rows = np.asarray(vectors, dtype=np.float32)
        persons = np.asarray(person_ids, dtype=np.int64).reshape(-1)
        if rows.ndim != 2 or rows.shape != (len(ids), self.dim) or len(persons) != len(ids):
            raise ValueError(f"{self.engine} takes {self.dim}-d rows, one per face id and person id")
        new = ids.tolist()
        if len(set(new)) != len(new) or any(face in self._row_of for face in new):
            raise ValueError("face ids must be new to the matrix")
        end = self._size + len(ids)
        if end > len(self._ids):
            self._grow(max(end, 2 * len(self._ids), 16))
        self._ids[self._size : end] = ids
        self._vectors[self._size : end] = rows
        self._persons[self._size : end] = persons
        self._row_of.update(zip(new, range(self._size, end), strict=True))
        self._size = end

    def _grow(self, capacity: int) -> None:
        # Doubling keeps appends amortised O(1): the nightly load adds faces in chunks, the
        # daemon a few at a time, and neither should copy 150 MB per photo.
        n = self._size
        ids, vectors, persons = self._ids, self._vectors, self._persons
        self._ids = np.empty(capacity, dtype=np.int64)
        self._vectors = np.empty((capacity, self.dim), dtype=np.float32)
        self._persons = np.empty(capacity, dtype=np.int64)
        self._ids[:n], self._vectors[:n], self._persons[:n] = ids[:n], vectors[:n], persons[:n]

    def snapshot(self) -> tuple[NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]]:
        """Copies of the face ids, vectors and persons (-1 unassigned), for a full re-cluster."""
        n = self._size
        return self._ids[:n].copy(), self._vectors[:n].copy(), self._persons[:n].copy()

    def set_persons(self, face_ids: Sequence[int], person_id: int) -> None:
        self._persons[self._rows(face_ids)] = person_id

    def remove(self, face_ids: Sequence[int]) -> None:
        """Forget faces (ids not held are ignored); the last row moves into each hole."""
        for face in face_ids:
            row = self._row_of.pop(int(face), None)
            if row is None:
                continue
            last = self._size - 1
            if row != last:
                self._ids[row], self._vectors[row], self._persons[row] = (
                    self._ids[last],
                    self._vectors[last],
                    self._persons[last],
                )
                self._row_of[int(self._ids[row])] = row
            self._size = last

    def person_of(self, face_id: int) -> int:
        return int(self._persons[self._row_of[int(face_id)]])

    def within(
        self, vector: NDArray[np.float32], max_distance: float, exclude: Sequence[int] = ()
    ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Face ids within ``max_distance`` of ``vector`` and their distances, nearest first."""
        ((rows, distances),) = self._near_rows(
            np.asarray(vector, dtype=np.float32).reshape(1, -1), max_distance
        )
        ids = self._ids[rows]
        keep = ~np.isin(ids, np.asarray(exclude, dtype=np.int64))
        return ids[keep], distances[keep]

    # Row-level access for the clustering below; rows are stable until the next remove().
    def _rows(self, face_ids: Sequence[int] | NDArray[np.int64]) -> NDArray[np.int64]:
        return np.fromiter((self._row_of[int(f)] for f in face_ids), dtype=np.int64)

    def _face_at(self, row: int) -> int:
        return int(self._ids[row])

    def _person_at(self, row: int) -> int:
        return int(self._persons[row])

    def _vector_at(self, row: int) -> NDArray[np.float32]:
        return self._vectors[row : row + 1]  # 1 x dim: a query block of one

    def _near_rows(
        self, queries: NDArray[np.float32], max_distance: float
    ) -> list[tuple[NDArray[np.int64], NDArray[np.float32]]]:
        """For each query row: matrix rows within ``max_distance`` and their distances, nearest
        first. One pass over the matrix per block of queries: memory bandwidth is the cost."""
        held = self._vectors[: self._size]
        block = max(1, BLOCK_FLOATS // max(1, self._size))
        found: list[tuple[NDArray[np.int64], NDArray[np.float32]]] = []
        for start in range(0, len(queries), block):
            distances = 1.0 - queries[start : start + block] @ held.T
            for line in distances:
                rows = np.flatnonzero(line <= max_distance)
                order = np.argsort(line[rows], kind="stable")
                found.append((rows[order].astype(np.int64), line[rows[order]].astype(np.float32)))
        return found


def load_matrices(session: Session) -> dict[str, FaceMatrix]:
    """Every embedded face by engine, with its person (-1 unassigned), as the session's
    transaction sees them: read on the session's own connection, so a caller that reads the
    persons generation in the same transaction knows exactly which decisions the faces show."""
    cursor = session.connection().connection.cursor()
    try:
        counts = cursor.execute(_COUNTS).fetchall()
        engines = [engine for engine, _dim, _n in counts]
        if len(set(engines)) != len(engines):
            raise ValueError(f"an engine stores embeddings of two sizes: {sorted(engines)}")
        return {engine: _read(cursor, engine, int(dim), int(n)) for engine, dim, n in counts}
    finally:
        cursor.close()


def _read(cursor: Any, engine: str, dim: int, count: int) -> FaceMatrix:
    matrix = FaceMatrix(engine, dim, capacity=count + int(count * HEADROOM))
    cursor.execute(_FACES, (UNASSIGNED, engine, dim))
    while rows := cursor.fetchmany(CHUNK):
        ids, persons, blobs = zip(*rows, strict=True)
        joined = b"".join(blobs)
        if len(joined) != len(rows) * dim * 4:
            raise ValueError(f"{engine}: a stored embedding is not {dim} float32 values")
        matrix.add(
            np.array(ids, dtype=np.int64),
            np.frombuffer(joined, dtype=np.float32).reshape(len(rows), dim),
            np.array(persons, dtype=np.int64),
        )
    return matrix
