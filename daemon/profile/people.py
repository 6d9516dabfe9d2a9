"""People: grouping embedded faces into persons, as photos arrive and in a nightly re-cluster.

The rules follow Immich. A new face joins the person of its nearest already-assigned face within
``max_distance``; a face with no such neighbour waits until ``min_faces`` mutually close faces
exist (DBSCAN's core-point rule) and they become a new person together. The nightly
``recluster`` is DBSCAN with the same parameters over all faces of one engine, and
``carry_over`` maps its clusters (``recluster`` lives in recluster.py) back onto the old person ids so that names given by the user
survive. Vectors of different engines live in different spaces, hence one ``FaceMatrix`` (face_matrix.py) each.

Everything here is pure: the caller reads faces from the index and writes persons back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Re-exported: the matrix moved to face_matrix.py, its callers still import it from here.
from shadowlens.daemon.profile.face_matrix import BLOCK_FLOATS as BLOCK_FLOATS
from shadowlens.daemon.profile.face_matrix import UNASSIGNED as UNASSIGNED
from shadowlens.daemon.profile.face_matrix import FaceMatrix as FaceMatrix


@dataclass(frozen=True)
class ClusterParams:
    max_distance: float  # cosine distance (1 - dot) on L2-normalised vectors
    min_faces: int

    def __post_init__(self) -> None:
        if not 0.0 < self.max_distance < 2.0 or self.min_faces < 1:
            raise ValueError(f"unusable clustering parameters: {self}")


# dlib-resnet-128, calibrated on the corpus's labelled faces (bald_guys.jpg: 4 actors x 6
# photos; Obama x5, Biden x2, Hopper x2 in face_recognition/ and pillow/; 44 PASCAL faces of
# other people as distractors), embedded through the faces detector with each of dlib-hog, SCRFD
# and YuNet boxes. Same-person distances: median 0.040, p90 0.064, max 0.093 (Bruce Willis in a
# dark film still); different persons: min 0.054-0.061, p1 0.083, median 0.162. Under DBSCAN
# with min_faces 3: 0.055 drops a Willis face; 0.06 recovers all five persons of >= 5 faces
# exactly with no distractor in any cluster (ARI 0.986, all three detectors); 0.065 merges 3-4
# different elderly people of one PASCAL photo (37 px faces) and 0.08 chains 9-14 strangers.
# dlib's usual 0.6 euclidean (0.18 here) is a pairwise verification threshold: far too loose
# once DBSCAN chains neighbours.
DLIB_PARAMS = ClusterParams(max_distance=0.06, min_faces=3)
# ArcFace (InsightFace packs) as Immich ships it. SFace's own verification threshold is cosine
# 0.363 (distance 0.637); 0.5 is stricter, which chaining needs. Neither model is available
# here to calibrate against.
ARCFACE_PARAMS = ClusterParams(max_distance=0.5, min_faces=3)


def default_params(engine: str) -> ClusterParams:
    """Parameters for an embedder id; unknown ids get ArcFace's, the family of every other one."""
    return DLIB_PARAMS if engine.startswith("dlib") else ARCFACE_PARAMS


@dataclass
class Assignment:
    joined: dict[int, int]  # face_id -> existing person_id
    # groups of face ids (new faces and previously unassigned ones) that now form a person each
    new_persons: list[list[int]]
    unassigned: list[int]  # new faces left waiting


class _Incremental:
    """One call of assign_incremental: who owns which row, including groups not yet persons."""

    def __init__(self, matrix: FaceMatrix, params: ClusterParams) -> None:
        self.matrix, self.params = matrix, params
        self.joined: dict[int, int] = {}
        self.groups: list[list[int]] = []
        self.group_of: dict[int, int] = {}  # row -> index in groups

    def owner(self, row: int) -> tuple[str, int] | None:
        person = self.matrix._person_at(row)
        if person != UNASSIGNED:
            return ("person", person)
        group = self.group_of.get(row)
        return None if group is None else ("group", group)

    def nearest_owner(self, rows: NDArray[np.int64]) -> tuple[str, int] | None:
        for row in rows.tolist():
            owner = self.owner(row)
            if owner is not None:
                return owner
        return None

    def give(self, row: int, owner: tuple[str, int]) -> None:
        kind, key = owner
        if kind == "person":
            self.joined[self.matrix._face_at(row)] = key
            self.matrix._persons[row] = key  # later faces of this call may join through it
        else:
            self.groups[key].append(self.matrix._face_at(row))
            self.group_of[row] = key

    def claim(self, core: int, neighbours: NDArray[np.int64]) -> None:
        """A core face and its waiting neighbours go together: to the nearest owner among the
        neighbours (they are one DBSCAN cluster with it), else to a new group."""
        owner = self.nearest_owner(neighbours)
        if owner is None:
            owner = ("group", len(self.groups))
            self.groups.append([])
        for row in [core, *neighbours.tolist()]:
            if self.owner(row) is None:
                self.give(row, owner)

    def neighbours(self, row: int) -> NDArray[np.int64]:
        ((rows, _),) = self.matrix._near_rows(self.matrix._vector_at(row), self.params.max_distance)
        others: NDArray[np.int64] = rows[rows != row]
        return others

    def place(self, row: int, neighbours: NDArray[np.int64]) -> None:
        if self.owner(row) is not None:  # pulled into a group by an earlier face of this call
            return
        if len(neighbours) + 1 >= self.params.min_faces:
            self.claim(row, neighbours)
            return
        owner = self.nearest_owner(neighbours)
        if owner is not None:
            self.give(row, owner)
            return
        # This face is no core point, but it may have made a waiting neighbour one.
        for waiting in neighbours.tolist():
            around = self.neighbours(waiting)
            if len(around) + 1 >= self.params.min_faces:
                self.claim(waiting, around)
                return


def assign_incremental(
    matrix: FaceMatrix,
    face_ids: Sequence[int] | NDArray[np.int64],
    vectors: NDArray[np.float32],
    params: ClusterParams,
) -> Assignment:
    """Add new faces (all unassigned) to ``matrix`` and decide who they are.

    Joined faces are recorded in the matrix at once. ``new_persons`` are not: the caller creates
    each person in the index and then calls ``matrix.set_persons(group, new_id)`` before the next
    call. ``joined`` may also hold earlier waiting faces that a new face made part of an existing
    person. Joining the nearest assigned face is Immich's rule and looser than DBSCAN (that face
    may be a border face); the nightly recluster settles such drift.
    """
    ids = np.asarray(face_ids, dtype=np.int64).reshape(-1)
    rows_in = np.asarray(vectors, dtype=np.float32).reshape(len(ids), matrix.dim)
    matrix.add(ids, rows_in, np.full(len(ids), UNASSIGNED, dtype=np.int64))
    state = _Incremental(matrix, params)
    rows = matrix._rows(ids)
    # One pass over the matrix for all the photo's faces; ownership is then decided in order.
    for row, (near, _) in zip(rows.tolist(), matrix._near_rows(rows_in, params.max_distance), strict=True):
        state.place(row, near[near != row])
    waiting = [
        face for face, row in zip(ids.tolist(), rows.tolist(), strict=True) if state.owner(row) is None
    ]
    return Assignment(joined=state.joined, new_persons=state.groups, unassigned=waiting)


def carry_over(old_person_ids: NDArray[np.int64], labels: NDArray[np.int64]) -> dict[int, int | None]:
    """For each new cluster label, the old person holding most of its faces, or None.

    Most means a plurality of the faces that had a person, so a cluster that grew from a named
    person keeps the name. Greedy by overlap: the largest (label, old person) overlap is settled first, so each old
    person (and its name) goes to the cluster that holds most of its faces and is reused at most
    once. Unassigned old faces (-1) count for nobody.
    """
    old = np.asarray(old_person_ids, dtype=np.int64).reshape(-1)
    new = np.asarray(labels, dtype=np.int64).reshape(-1)
    if old.shape != new.shape:
        raise ValueError("one old person id per label")
    result: dict[int, int | None] = {int(label): None for label in np.unique(new[new >= 0])}
    both = (new >= 0) & (old >= 0)
    if not both.any():
        return result
    pairs, counts = np.unique(np.stack([new[both], old[both]], axis=1), axis=0, return_counts=True)
    used: set[int] = set()
    # Largest overlap first; ties go to the lower label, then the lower person id (deterministic).
    for i in np.lexsort((pairs[:, 1], pairs[:, 0], -counts)).tolist():
        label, person = int(pairs[i, 0]), int(pairs[i, 1])
        if result[label] is None and person not in used:
            result[label] = person
            used.add(person)
    return result
