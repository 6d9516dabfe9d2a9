"""People clustering at library scale: 300,000 dlib faces as if from 100,000 photos.

Synthetic faces (no corpus needed): 3,000 persons of 90 faces each plus 30,000 faces seen once
(10%), 128-d unit vectors. Distances match what dlib-resnet-128 gives on the corpus's labelled
faces (see ``default_params`` in ``daemon/profile/people.py``): about 0.04 between two photos
of one person, persons about 0.16 apart. Clustered with ``default_params("dlib-resnet-128")``.

Rows:

* ``profile.faces.matrix_mb``: memory the ``FaceMatrix`` holds (vectors, ids, persons and the id
  index) after loading every face in chunks of 10,000, as from an index cursor; traced with
  tracemalloc, which numpy reports to.
* ``profile.faces.incremental_ms``: with that matrix loaded, ``assign_incremental`` of one new
  photo's 3 faces (two faces of known persons and a stranger), median of 50 photos; the faces
  are removed again after each, so every photo meets the same matrix. Goal: < 100 ms.
* ``profile.faces.recluster_s``: one full ``recluster`` of all faces (faiss path), checked
  against the persons the faces were made from.
* ``profile.faces.load_300k_s``: the same faces in an index, read into memory at daemon start
  (``ProfileUpdater.load()``) in a new interpreter, median of 3 (``people_load``). Goal: < 3 s.
* ``profile.faces.load_300k_mb``: the RSS that load adds. Goal: at most 1.5 x the float32
  vectors (the vectors themselves are the floor). Both rows also give, in the notes, the same
  load through ``face_matrix.load_matrices`` alone.

``--quick``: 30,000 faces (300 persons, still above the exact-search limit), 10 photos.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

import numpy as np
from harness import Context, Measurement, goal_note, median, over_goal, row, spread

ENGINE, DIM = "dlib-resnet-128", 128
FACES_EACH, SINGLETON_SHARE = 90, 0.1
WITHIN, BETWEEN = 0.04, 0.16  # typical cosine distances: one person, two persons
LOAD_CHUNK = 10_000
GOAL_MS = 100.0
LOAD_GOAL_S, LOAD_GOAL_VECTORS = 3.0, 1.5  # seconds; RSS added, as a multiple of the vectors
LOADS = 3


@dataclass
class Library:
    vectors: Any  # NDArray[np.float32], n x DIM, unit rows
    persons: Any  # NDArray[np.int64], the person each face was made from; -1 for singletons
    centres: Any  # NDArray[np.float32], one unit row per person
    common: Any  # the direction all centres share

    @property
    def described(self) -> str:
        people = len(self.centres)
        return f"{len(self.vectors):,} faces: {people:,} persons x {FACES_EACH} + {int((self.persons < 0).sum()):,} singletons"


def _unit(rows: Any) -> Any:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def _make_library(quick: bool) -> Library:
    rng = np.random.default_rng(2024)
    persons = 300 if quick else 3_000
    singletons = round(persons * FACES_EACH * SINGLETON_SHARE / (1 - SINGLETON_SHARE))
    common = _unit(rng.standard_normal(DIM))
    # Centres share a direction so that persons are BETWEEN apart, not orthogonal; per-axis noise
    # s puts two faces of one person d*s^2 / (1 + d*s^2) = WITHIN apart.
    spread_ = np.sqrt(BETWEEN / (1 - BETWEEN))
    centres = _unit(common + spread_ * _unit(rng.standard_normal((persons + singletons, DIM))))
    labels = np.concatenate([np.repeat(np.arange(persons), FACES_EACH), persons + np.arange(singletons)])
    noise = np.float32(np.sqrt(WITHIN / (1 - WITHIN) / DIM))
    vectors = _unit(centres[labels] + noise * rng.standard_normal((len(labels), DIM), dtype=np.float32))
    truth = np.where(labels < persons, labels, -1).astype(np.int64)
    return Library(vectors, truth, centres[:persons], common)


def _library(ctx: Context) -> Library:
    return ctx.memo("people.library", lambda: _make_library(ctx.quick))


@dataclass
class Loaded:
    matrix: Any  # FaceMatrix
    traced_mb: float
    peak_mb: float
    seconds: float


def _load(ctx: Context) -> Loaded:
    from shadowlens.daemon.profile.people import FaceMatrix

    library = _library(ctx)
    ids = np.arange(len(library.vectors), dtype=np.int64)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        matrix = FaceMatrix(ENGINE, DIM)
        for at in range(0, len(ids), LOAD_CHUNK):
            part = slice(at, at + LOAD_CHUNK)
            matrix.add(ids[part], library.vectors[part], library.persons[part])
        seconds = time.perf_counter() - started
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Loaded(matrix, current / 2**20, peak / 2**20, seconds)


def _loaded(ctx: Context) -> Loaded:
    return ctx.memo("people.matrix", lambda: _load(ctx))


@row("profile.faces.matrix_mb", unit="MB")
def matrix_mb(ctx: Context) -> Measurement:
    library, loaded = _library(ctx), _loaded(ctx)
    vectors_mb = library.vectors.nbytes / 2**20
    notes = (
        f"{library.described}; float32 vectors alone {vectors_mb:.0f} MB; peak while loading "
        f"{loaded.peak_mb:.0f} MB (capacity doubling copies); loaded in {loaded.seconds:.1f} s"
    )
    extra = {"vectors_mb": vectors_mb, "peak_mb": loaded.peak_mb, "load_seconds": loaded.seconds}
    return Measurement(loaded.traced_mb, notes, extra=extra)


@row("profile.faces.incremental_ms", unit="ms")
def incremental_ms(ctx: Context) -> Measurement:
    from shadowlens.daemon.profile.people import assign_incremental, default_params

    library, matrix = _library(ctx), _loaded(ctx).matrix
    params, rng = default_params(ENGINE), np.random.default_rng(7)
    photos = 10 if ctx.quick else 50
    noise = np.sqrt(WITHIN / (1 - WITHIN) / DIM)
    samples, problems = [], []
    for photo in range(photos):
        known = rng.choice(len(library.centres), 2, replace=False)
        stranger = _unit(library.common + np.sqrt(BETWEEN / (1 - BETWEEN)) * _unit(rng.standard_normal(DIM)))
        faces = _unit(np.vstack([library.centres[known], stranger]) + noise * rng.standard_normal((3, DIM)))
        ids = [10**9 + 3 * photo + i for i in range(3)]
        started = time.perf_counter()
        outcome = assign_incremental(matrix, ids, faces, params)
        samples.append((time.perf_counter() - started) * 1000)
        if outcome.joined != {ids[0]: int(known[0]), ids[1]: int(known[1])} or outcome.unassigned != [ids[2]]:
            problems.append(f"photo {photo}: {outcome}")
        matrix.remove(ids)
    value = median(samples)
    notes = (
        f"3 faces (2 known persons, 1 stranger) against {len(matrix):,} faces; goal < {GOAL_MS:.0f} ms "
        f"({'met' if value < GOAL_MS else 'MISSED'}); ms {spread(sorted(samples)[:: max(1, photos // 10)], '{:.1f}')}"
    )
    failed = f"{len(problems)} photos assigned wrongly, first: {problems[0]}" if problems else None
    return Measurement(value, notes, extra={"ms": samples}, check_failed=failed)


@row("profile.faces.recluster_s", unit="s")
def recluster_s(ctx: Context) -> Measurement:
    from shadowlens.daemon.profile.people import default_params
    from shadowlens.daemon.profile.recluster import recluster
    from sklearn.metrics import adjusted_rand_score

    library = _library(ctx)
    started = time.perf_counter()
    labels = recluster(library.vectors, default_params(ENGINE))
    seconds = time.perf_counter() - started
    noise_as_own = np.where(labels >= 0, labels, labels.max() + 1 + np.arange(len(labels)))
    truth = np.where(library.persons >= 0, library.persons, -1 - np.arange(len(labels)))
    ari = float(adjusted_rand_score(truth, noise_as_own))
    clusters, noise = int(labels.max()) + 1, int((labels < 0).sum())
    notes = f"{library.described}; {clusters:,} persons found, {noise:,} faces left alone; ARI {ari:.4f}"
    failed = None if ari >= 0.99 else f"ARI {ari:.4f} < 0.99 against the persons the faces came from"
    extra = {"ari": ari, "persons": clusters, "noise": noise}
    return Measurement(seconds, notes, extra=extra, check_failed=failed)


@dataclass
class Loads:
    daemon: list[dict[str, Any]]  # ProfileUpdater.load()
    direct: list[dict[str, Any]]  # face_matrix.load_matrices alone
    vectors_mb: float
    faces: int


def _loads(ctx: Context) -> Loads:
    def measure() -> Loads:
        from people_load import build_index, load_in_child

        library = _library(ctx)
        index = build_index(
            ctx.tempdir("people-index") / "index.db", library.vectors, library.persons, ENGINE
        )
        home = ctx.tempdir("people-load-home")
        runs = {
            loader: [load_in_child(loader, index, home) for _ in range(LOADS)]
            for loader in ("daemon", "direct")
        }
        return Loads(runs["daemon"], runs["direct"], library.vectors.nbytes / 2**20, len(library.vectors))

    return ctx.memo("people.loads", measure)


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return median(r[key] for r in runs)


def _wrong_count(loads: Loads) -> str | None:
    counts = {r["faces"] for r in loads.daemon + loads.direct}
    return None if counts == {loads.faces} else f"loaded {sorted(counts)} faces, not {loads.faces:,}"


@row("profile.faces.load_300k_s", unit="s")
def load_300k_s(ctx: Context) -> Measurement:
    library, loads = _library(ctx), _loads(ctx)
    value = _median(loads.daemon, "s")
    notes = (
        f"{library.described}, from an index, in a new interpreter: ProfileUpdater.load(), "
        f"{goal_note(value, LOAD_GOAL_S, 's')}; s {spread([r['s'] for r in loads.daemon])}, CPU s "
        f"{spread([r['cpu_s'] for r in loads.daemon])} (the difference is waiting: a busy machine); "
        f"load_matrices alone {_median(loads.direct, 's'):.2f} s, CPU {_median(loads.direct, 'cpu_s'):.2f} s; "
        f"load avg {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    failed = _wrong_count(loads) or over_goal(value, LOAD_GOAL_S, "s", digits=2)
    return Measurement(
        value, notes, extra={"daemon": loads.daemon, "direct": loads.direct}, check_failed=failed
    )


@row("profile.faces.load_300k_mb", unit="MB")
def load_300k_mb(ctx: Context) -> Measurement:
    library, loads = _library(ctx), _loads(ctx)
    value, goal = _median(loads.daemon, "rss_added_mb"), LOAD_GOAL_VECTORS * loads.vectors_mb
    notes = (
        f"{library.described}: RSS added by ProfileUpdater.load() in a new interpreter, goal <= "
        f"{LOAD_GOAL_VECTORS} x the float32 vectors ({loads.vectors_mb:.0f} MB) = {goal:.0f} MB "
        f"({'met' if value <= goal else 'MISSED'}); peak added {_median(loads.daemon, 'peak_added_mb'):.0f} MB; "
        f"load_matrices alone adds {_median(loads.direct, 'rss_added_mb'):.0f} MB "
        f"(peak {_median(loads.direct, 'peak_added_mb'):.0f} MB)"
    )
    failed = _wrong_count(loads) or (
        None
        if value <= goal
        else f"RSS added {value:.0f} MB > {LOAD_GOAL_VECTORS} x the vectors ({goal:.0f} MB)"
    )
    return Measurement(value, notes, extra={"vectors_mb": loads.vectors_mb}, check_failed=failed)
