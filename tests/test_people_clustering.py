"""People clustering: incremental assignment and the nightly DBSCAN, on synthetic and real faces."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest
from numpy.typing import NDArray
from shadowlens.daemon.api import FaceFinding
from shadowlens.daemon.profile import people
from shadowlens.daemon.profile import recluster as recluster_module
from shadowlens.daemon.profile.people import (
    ClusterParams,
    FaceMatrix,
    assign_incremental,
    carry_over,
    default_params,
)
from shadowlens.daemon.profile.recluster import EXACT_LIMIT, recluster
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_rand_score

from tests.conftest import corpus_or_skip

DLIB, ARCFACE = "dlib-resnet-128", "insightface-buffalo_l"
# Typical cosine distances of each engine: between two photos of one person, between persons.
SPREAD = {DLIB: (0.03, 0.16), ARCFACE: (0.25, 0.9)}
DIM = {DLIB: 128, ARCFACE: 512}


def unit(rows: NDArray[np.floating]) -> NDArray[np.float32]:
    scaled: NDArray[np.float32] = (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)
    return scaled


def identities(
    engine: str, persons: int, faces_each: int, singletons: int = 0, seed: int = 0
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Noisy unit vectors around person centres, shuffled; labels are the persons (singletons
    each their own). Centres share a common direction, as real embeddings of faces do, so that
    persons are as close to each other as the engine's typical impostor distance."""
    within, between = SPREAD[engine]
    dim, rng = DIM[engine], np.random.default_rng(seed)
    common = unit(rng.standard_normal(dim))
    offsets = unit(rng.standard_normal((persons + singletons, dim)))
    # |offset| = a puts centres 1 - 1/(1 + a^2) apart; per-axis noise s puts faces d*s^2/(1+d*s^2).
    centres = unit(common + np.sqrt(between / (1 - between)) * offsets)
    labels = np.concatenate([np.repeat(np.arange(persons), faces_each), persons + np.arange(singletons)])
    noise = np.sqrt(within / (1 - within) / dim) * rng.standard_normal((len(labels), dim))
    order = rng.permutation(len(labels))
    return unit(centres[labels] + noise)[order], labels[order]


def ari(truth: NDArray[np.int64], labels: NDArray[np.int64]) -> float:
    """Adjusted rand index with every noise face (-1) counted as a person of its own."""
    alone = np.where(labels >= 0, labels, labels.max(initial=0) + 1 + np.arange(len(labels)))
    return float(adjusted_rand_score(truth, alone))


@dataclass
class Library:
    """The caller's side of incremental assignment: it creates a person for each new group."""

    matrix: FaceMatrix
    params: ClusterParams
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))

    def arrive(self, face_ids: list[int], vectors: NDArray[np.float32]) -> people.Assignment:
        outcome = assign_incremental(self.matrix, face_ids, vectors, self.params)
        for group in outcome.new_persons:
            self.matrix.set_persons(group, next(self.ids))
        return outcome

    def persons(self, face_ids: list[int]) -> NDArray[np.int64]:
        return np.array([self.matrix.person_of(face) for face in face_ids], dtype=np.int64)


@pytest.mark.parametrize("engine", [DLIB, ARCFACE])
def test_recluster_recovers_fifty_persons(engine: str) -> None:
    vectors, truth = identities(engine, persons=50, faces_each=20)
    labels = recluster(vectors, default_params(engine))
    assert ari(truth, labels) > 0.95
    assert labels.max() + 1 == 50 and (labels >= 0).all()


@pytest.mark.parametrize("engine", [DLIB, ARCFACE])
@pytest.mark.parametrize("per_call", [1, 3])
def test_faces_arriving_in_random_order_form_the_same_persons(engine: str, per_call: int) -> None:
    vectors, truth = identities(engine, persons=50, faces_each=20, seed=1)
    library = Library(FaceMatrix(engine, DIM[engine]), default_params(engine))
    face_ids = list(range(len(truth)))  # already shuffled by identities()
    for start in range(0, len(face_ids), per_call):
        library.arrive(face_ids[start : start + per_call], vectors[start : start + per_call])
    persons = library.persons(face_ids)
    assert (persons >= 0).all(), "every face has 19 others of its person"
    assert adjusted_rand_score(truth, persons) == 1.0
    nightly = recluster(vectors, default_params(engine))
    assert adjusted_rand_score(nightly, persons) == 1.0


def test_faces_wait_until_the_third_similar_face_arrives() -> None:
    vectors, truth = identities(DLIB, persons=2, faces_each=5, seed=2)
    first = [i for i in range(len(truth)) if truth[i] == truth[0]]
    library = Library(FaceMatrix(DLIB, 128), default_params(DLIB))
    for face in first[:2]:
        outcome = library.arrive([face], vectors[[face]])
        assert outcome.unassigned == [face] and not outcome.joined and not outcome.new_persons
        assert library.matrix.person_of(face) == -1
    third = library.arrive([first[2]], vectors[[first[2]]])
    assert not third.joined and not third.unassigned
    assert [sorted(group) for group in third.new_persons] == [sorted(first[:3])]
    person = library.matrix.person_of(first[0])
    assert person >= 0 and set(library.persons(first[:3]).tolist()) == {person}
    fourth = library.arrive([first[3]], vectors[[first[3]]])
    assert fourth.joined == {first[3]: person} and library.matrix.person_of(first[3]) == person


def test_a_face_that_makes_a_waiting_neighbour_a_core_face_starts_a_person() -> None:
    """Z - Y - X on an arc, each next one within max_distance, X and Z not: X alone is no core
    face (two faces within reach), but it gives the waiting Y three, so all three form a person."""
    step = np.arccos(1 - 0.04)  # cosine distance 0.04 per step, 0.157 across two
    angles = {"z": 0.0, "y": step, "x": 2 * step}
    arc = {k: np.array([np.cos(a), np.sin(a)] + [0.0] * 126, dtype=np.float32) for k, a in angles.items()}
    library = Library(FaceMatrix(DLIB, 128), default_params(DLIB))
    library.arrive([1], arc["z"][None])
    assert library.arrive([2], arc["y"][None]).unassigned == [2]
    outcome = library.arrive([3], arc["x"][None])
    assert [sorted(g) for g in outcome.new_persons] == [[1, 2, 3]] and not outcome.unassigned


def test_engines_never_mix() -> None:
    dlib_vectors, _ = identities(DLIB, persons=1, faces_each=4, seed=3)
    arc_vectors, _ = identities(ARCFACE, persons=1, faces_each=4, seed=3)
    dlib = Library(FaceMatrix(DLIB, 128), default_params(DLIB))
    arcface = Library(FaceMatrix(ARCFACE, 512), default_params(ARCFACE))
    dlib.arrive([1, 2, 3], dlib_vectors[:3])
    with pytest.raises(ValueError):
        dlib.matrix.add(np.array([9]), arc_vectors[:1], np.array([-1]))
    # The same person's first two faces by the other engine: the dlib person is not theirs.
    outcome = arcface.arrive([11, 12], arc_vectors[:2])
    assert outcome.unassigned == [11, 12] and not outcome.joined
    assert len(dlib.matrix) == 3 and len(arcface.matrix) == 2
    with pytest.raises(KeyError):
        dlib.matrix.person_of(11)
    ids, _ = arcface.matrix.within(arc_vectors[0], 0.5)
    assert sorted(ids.tolist()) == [11, 12]


def test_matrix_grows_by_doubling_finds_nearest_first_and_removes() -> None:
    vectors, _ = identities(DLIB, persons=10, faces_each=30, seed=4)
    matrix = FaceMatrix(DLIB, 128)
    capacities = set()
    for face, row in enumerate(vectors):
        matrix.add(np.array([face]), row[None], np.array([face % 7]))
        capacities.add(len(matrix._vectors))
    assert len(matrix) == 300 and capacities == {16, 32, 64, 128, 256, 512}
    ids, distances = matrix.within(vectors[5], 0.06, exclude=[5])
    assert 5 not in ids and len(ids) > 0 and (np.diff(distances) >= 0).all()
    assert np.allclose(distances, 1 - vectors[ids] @ vectors[5], atol=1e-5)
    matrix.set_persons([5, 6], 42)
    matrix.remove([0, 5, 12345])
    assert len(matrix) == 298 and matrix.person_of(6) == 42 and matrix.person_of(299) == 299 % 7
    assert 5 not in matrix.within(vectors[5], 0.06)[0]
    with pytest.raises(ValueError):
        matrix.add(np.array([6]), vectors[:1], np.array([-1]))


@pytest.mark.parametrize("block_floats", [people.BLOCK_FLOATS, 20_000])
def test_recluster_is_dbscan(block_floats: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Overlapping blobs, so that border faces, noise and chained clusters all occur; in one
    block, and in blocks of 10 faces whose links must carry over from block to block."""
    monkeypatch.setattr(recluster_module, "BLOCK_FLOATS", block_floats)
    rng = np.random.default_rng(5)
    points = unit(
        rng.standard_normal((40, 16))[rng.integers(0, 40, 2000)] + 0.35 * rng.standard_normal((2000, 16))
    )
    for max_distance, min_faces in [(0.15, 3), (0.2, 5)]:
        labels = recluster(points, ClusterParams(max_distance, min_faces))
        reference = DBSCAN(eps=max_distance, min_samples=min_faces, metric="cosine", algorithm="brute")
        expected = reference.fit_predict(points)
        core = np.zeros(len(points), dtype=bool)
        core[reference.core_sample_indices_] = True
        assert ((labels == -1) == (expected == -1)).all()
        assert adjusted_rand_score(expected[core], labels[core]) == 1.0
        # A border face may touch two clusters: ours takes its nearest core's.
        for face in np.flatnonzero(~core & (labels >= 0)):
            near_core = core & (1 - points @ points[face] <= max_distance)
            assert labels[face] == labels[near_core][np.argmax(points[near_core] @ points[face])]
        assert sorted(set(labels[labels >= 0].tolist())) == list(range(labels.max() + 1))


def test_recluster_uses_faiss_above_the_exact_limit() -> None:
    vectors, truth = identities(DLIB, persons=1000, faces_each=22, singletons=3000, seed=6)
    assert len(vectors) > EXACT_LIMIT
    started = time.perf_counter()
    labels = recluster(vectors, default_params(DLIB))
    assert time.perf_counter() - started < 20
    assert ari(truth, labels) > 0.95
    assert (labels[truth >= 1000] == -1).mean() > 0.99, "singletons stay unassigned"


def test_carry_over_keeps_old_person_ids() -> None:
    old = np.array([7] * 10 + [9] * 5 + [-1] * 5)
    labels = np.array([0] * 10 + [0, 0] + [1] * 3 + [2] * 5)
    assert carry_over(old, labels) == {0: 7, 1: 9, 2: None}
    # A person split in two keeps its id on the larger part; the other part is a new person.
    assert carry_over(np.array([7] * 10 + [-1]), np.array([1] * 4 + [0] * 6 + [-1])) == {0: 7, 1: None}
    # Nightly run over what incremental assignment made: every person keeps its id.
    vectors, _ = identities(DLIB, persons=20, faces_each=10, seed=7)
    library = Library(FaceMatrix(DLIB, 128), default_params(DLIB))
    for face in range(len(vectors)):
        library.arrive([face], vectors[[face]])
    before = library.persons(list(range(len(vectors))))
    mapping = carry_over(before, recluster(vectors, default_params(DLIB)))
    assert sorted(p for p in mapping.values() if p is not None) == sorted(set(before.tolist()))


# The labelled faces of the corpus (box centres in full-size pixels). bald_guys.jpg is a
# collage of four actors, six photos each; single-face photos are labelled whole.
BALD_GUYS = {
    "johnson": [(1161, 1393), (1516, 1410), (1888, 493), (1703, 754), (1608, 275), (1875, 1375)],
    "willis": [(1142, 853), (860, 908), (130, 1064), (443, 1348), (1192, 1145), (852, 1336)],
    "diesel": [(138, 467), (138, 158), (138, 1375), (640, 525), (377, 298), (620, 197)],
    "statham": [(138, 777), (490, 931), (949, 487), (404, 517), (391, 109), (951, 195)],
}
Label = str | list[tuple[tuple[int, int], str]]  # the whole photo's person, or box centres
LABELLED: dict[str, Label] = {
    "dlib-faces/bald_guys.jpg": [(xy, name) for name, centres in BALD_GUYS.items() for xy in centres],
    "face_recognition/obama_and_biden.jpg": [((1241, 495), "obama"), ((839, 529), "biden")],
    "face_recognition/two_people.jpg": [((326, 138), "obama"), ((874, 156), "biden")],
    "face_recognition/obama.jpg": "obama",
    "face_recognition/obama-240p.jpg": "obama",
    "face_recognition/obama_partial_face.jpg": "obama",
    "pillow/hopper.jpg": "hopper",
    "pillow/hopper_orientation_6.jpg": "hopper",
}
# Other people's faces, the hardest first: seven elderly people of one photo in 37 px faces.
DISTRACTORS = ["dlib-faces/2007_007763.jpg", "dlib-faces/2008_004176.jpg", "dlib-faces/2008_007676.jpg"]


@dataclass
class CorpusFaces:
    engine: str
    vectors: NDArray[np.float32]
    names: list[str]  # the person, or "other:<n>" for a face nobody labelled
    photos: list[int]  # index of the photo each face came from


@pytest.fixture(scope="module")
def corpus_faces(tmp_path_factory: pytest.TempPathFactory) -> CorpusFaces:
    corpus = corpus_or_skip()
    home = tmp_path_factory.mktemp("people-home")
    with pytest.MonkeyPatch.context() as patch:
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            patch.setenv(var, str(home / var.lower()))
        from shadowlens.daemon.analysis.pipeline import Pipeline
        from shadowlens.daemon.analysis.plugins import build_detectors
        from shadowlens.daemon.config import Config

        config = Config()
        pipeline = Pipeline(config, [d for d in build_detectors(config) if d.name == "faces"])
        paths = [*LABELLED, *DISTRACTORS]
        results = pipeline.analyse([corpus / p for p in paths], force=True)
    engines: set[str | None] = set()
    vectors: list[NDArray[np.float32]] = []
    names: list[str] = []
    photos: list[int] = []
    for photo, (path, result) in enumerate(zip(paths, results, strict=True)):
        for face in (f for f in result.findings if isinstance(f, FaceFinding)):
            if face.embedding is None or face.bbox is None:
                continue
            engines.add(face.embedder)
            vectors.append(np.frombuffer(face.embedding, dtype=np.float32))
            names.append(_name(LABELLED.get(path), face.bbox) or f"other:{len(names)}")
            photos.append(photo)
    assert len(engines) == 1, f"one embedder for all photos, got {engines}"
    return CorpusFaces(str(engines.pop()), np.stack(vectors), names, photos)


def _name(label: Label | None, box: tuple[float, ...]) -> str | None:
    if label is None or isinstance(label, str):
        return label
    x, y, w, h = box
    inside = [name for (cx, cy), name in label if x <= cx <= x + w and y <= cy <= y + h]
    return inside[0] if len(inside) == 1 else None


def _check_persons(faces: CorpusFaces, labels: NDArray[np.int64]) -> None:
    for label in set(labels.tolist()) - {-1}:
        members = {faces.names[i] for i in np.flatnonzero(labels == label)}
        assert len(members) == 1, f"one person mixes {sorted(members)}"
    counts = Counter(faces.names)
    for name in ("johnson", "willis", "diesel", "statham", "obama"):
        assert counts[name] >= 5, f"the detector found only {counts[name]} faces of {name}"
        found = labels[[i for i, n in enumerate(faces.names) if n == name]]
        assert len(set(found.tolist()) - {-1}) == 1 and (found >= 0).sum() >= counts[name] - 1, name
    for name in ("biden", "hopper"):  # two faces each: fewer than min_faces, so they wait
        assert (labels[[i for i, n in enumerate(faces.names) if n == name]] == -1).all(), name


@pytest.mark.corpus
def test_labelled_corpus_faces_cluster_into_their_persons(corpus_faces: CorpusFaces) -> None:
    labels = recluster(corpus_faces.vectors, default_params(corpus_faces.engine))
    _check_persons(corpus_faces, labels)


@pytest.mark.corpus
def test_labelled_corpus_faces_arriving_photo_by_photo(corpus_faces: CorpusFaces) -> None:
    faces = corpus_faces
    library = Library(FaceMatrix(faces.engine, faces.vectors.shape[1]), default_params(faces.engine))
    photos = np.array(faces.photos)
    for photo in np.unique(photos)[::-1]:  # distractors first, the labelled collage last
        rows = np.flatnonzero(photos == photo)
        library.arrive(rows.tolist(), faces.vectors[rows])
    _check_persons(faces, library.persons(list(range(len(faces.names)))))


def test_default_params_follow_the_engine() -> None:
    assert default_params(DLIB) == ClusterParams(0.06, 3)
    assert default_params(ARCFACE).max_distance == default_params("opencv-sface-2021dec").max_distance == 0.5
    with pytest.raises(ValueError):
        ClusterParams(0.0, 3)
