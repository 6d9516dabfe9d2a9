"""The profile at library scale, on the synthetic index of ``synthetic_index`` (100,000 photos,
300,000 faces, ~1M findings, a stored profile that knows home, the owner and the children).

Rows (in this order; each uses the one ``ProfileUpdater``, ``load()``-ed once, as the daemon does):

* ``profile.incremental_update_ms``: one new photo (3 faces of known persons, a brand, GPS)
  inserted with sqlite3, then ``photo_indexed`` timed; median of 30 photos. Goal: < 100 ms.
* ``profile.refresh_s``: ``refresh(force=True)``: every fact loaded, profile built, every photo
  rescored.
* ``profile.recluster_s``: ``recluster()`` of every face, persons written back (and reloaded).
* ``profile.load_s``: ``load()``: every embedding read into memory; median of 3.

``--quick``: 10,000 photos, 300 identities, 30,000 faces; 10 new photos; one load.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from harness import Context, Measurement, goal_note, median, over_goal, row, spread
from synthetic_index import Built, add_new_photo, build
from synthetic_world import HOME

GOAL_MS = 100.0
NEW_PHOTOS, QUICK_NEW_PHOTOS = 30, 10
LOADS, QUICK_LOADS = 3, 1
BIG_PERSON = 3_000  # faces (600 with --quick): the owner, a partner, children


@dataclass
class Live:
    """The daemon's side: one Store and one ProfileUpdater on the built index."""

    store: Any  # Store
    updater: Any  # ProfileUpdater
    first_load_s: float


# -- shared state ---------------------------------------------------------------------------------


def _built(ctx: Context) -> Built:
    return ctx.memo("profile.index", lambda: build(ctx.tempdir("profile-index") / "index.db", ctx.quick))


def _live(ctx: Context) -> Live:
    def start() -> Live:
        from shadowlens.daemon.config import Config
        from shadowlens.daemon.index.writer import Store
        from shadowlens.daemon.profile.updater import ProfileUpdater

        built = _built(ctx)
        store = Store.open(built.path)
        updater = ProfileUpdater(store, Config())
        started = time.perf_counter()
        updater.load()
        return Live(store, updater, time.perf_counter() - started)

    return ctx.memo("profile.live", start)


def _quiet() -> tuple[logging.Logger, int]:
    """The updater logs a warning per alert; thirty of them would bury the table."""
    logger = logging.getLogger("shadowlens.daemon.profile.updater")
    level = logger.level
    logger.setLevel(logging.ERROR)
    return logger, level


# -- rows -----------------------------------------------------------------------------------------


@row("profile.incremental_update_ms", unit="ms")
def incremental_update_ms(ctx: Context) -> Measurement:
    built, live = _built(ctx), _live(ctx)
    rng = np.random.default_rng(11)
    photos = QUICK_NEW_PHOTOS if ctx.quick else NEW_PHOTOS
    big_person = BIG_PERSON // 5 if ctx.quick else BIG_PERSON
    samples: list[float] = []
    big: list[float] = []
    small: list[float] = []
    problems: list[str] = []
    alerts = 0
    logger, level = _quiet()
    con = sqlite3.connect(built.path)
    try:
        con.execute("PRAGMA busy_timeout = 10000")
        for n in range(photos):
            # Who is in a new photo follows the library: the owner and the regulars most often.
            who = [int(i) for i in rng.choice(len(built.centres), 3, replace=False, p=built.popularity)]
            photo_id = add_new_photo(con, built, rng, who, n)
            started = time.perf_counter()
            raised = live.updater.photo_indexed(photo_id)
            samples.append((time.perf_counter() - started) * 1000)
            alerts += raised is not None
            got = [
                r[0]
                for r in con.execute(
                    "SELECT person_id FROM faces WHERE photo_id = ? ORDER BY id", (photo_id,)
                )
            ]
            want = [
                con.execute(
                    "SELECT person_id FROM faces WHERE id = ?", (int(built.sample_face[i]),)
                ).fetchone()[0]
                for i in who
            ]
            if got != want:
                problems.append(f"photo {photo_id}: persons {got}, expected {want}")
            # The persons a photo joins are recounted from all their faces: big ones cost more.
            marks = ",".join("?" * len(want))
            (largest,) = con.execute(
                f"SELECT max(face_count) FROM persons WHERE id IN ({marks})", want
            ).fetchone()
            (big if (largest or 0) >= big_person else small).append(samples[-1])
    finally:
        con.close()
        logger.setLevel(level)
    value = median(samples)
    notes = (
        f"{built.size}; 3 faces of known persons + brand + GPS per photo, {photos} photos, "
        f"{alerts} alerts raised; {goal_note(value, GOAL_MS)}; median {_median_of(big)} of "
        f"{len(big)} photos with a person of >= {big_person:,} faces, {_median_of(small)} of the "
        f"{len(small)} others; ms sorted {spread(sorted(samples), '{:.0f}')}"
    )
    wrong = f"{len(problems)} photos assigned wrongly, first: {problems[0]}" if problems else None
    failed = wrong or over_goal(value, GOAL_MS)
    extra = {"ms": samples, "alerts": alerts, "ms_big_person": big, "ms_others": small}
    return Measurement(value, notes, extra=extra, check_failed=failed)


def _median_of(samples: list[float]) -> str:
    return f"{median(samples):.0f} ms" if samples else "-"


@row("profile.refresh_s", unit="s")
def refresh_s(ctx: Context) -> Measurement:
    from shadowlens.daemon.profile.places import distance_m

    built, live = _built(ctx), _live(ctx)
    started = time.perf_counter()
    snapshot = live.updater.refresh(force=True)
    seconds = time.perf_counter() - started
    assert snapshot is not None
    home = snapshot.get("home")
    off = distance_m(home["lat"], home["lon"], HOME[3], HOME[4]) if home else None
    places = snapshot["places"]
    trips = sum(1 for p in places if p["label"] == "trip")
    owner = (snapshot.get("owner") or {}).get("person_id")
    notes = (
        f"{built.size}; {snapshot['photo_count']:,} photos rescored; {len(places) - trips} places, "
        f"{trips} trips, {len(snapshot['brands'])} brands, {len(snapshot['segments'])} segments, "
        f"owner person {owner}, home {f'{off:.0f} m from the true one' if off is not None else 'not found'}"
    )
    failed = None
    if off is None or off > 200:
        failed = "the profile did not find the synthetic home"
    return Measurement(
        seconds, notes, extra={"places": len(places) - trips, "trips": trips}, check_failed=failed
    )


@row("profile.recluster_s", unit="s")
def recluster_s(ctx: Context) -> Measurement:
    from sklearn.metrics import adjusted_rand_score

    built, live = _built(ctx), _live(ctx)
    started = time.perf_counter()
    live.updater.recluster()
    seconds = time.perf_counter() - started
    con = sqlite3.connect(built.path)
    try:
        stored = con.execute(
            "SELECT id, person_id FROM faces WHERE id <= ? ORDER BY id", (built.faces,)
        ).fetchall()
        persons = con.execute("SELECT count(*) FROM persons").fetchone()[0]
    finally:
        con.close()
    ids = np.array([r[0] for r in stored], dtype=np.int64)
    found = np.array([-1 if r[1] is None else r[1] for r in stored], dtype=np.int64)
    truth = built.truth[ids - 1]
    # Faces left alone (and strangers) count as clusters of their own.
    found_own = np.where(found >= 0, found, found.max() + 1 + np.arange(len(found)))
    truth_own = np.where(truth >= 0, truth, -1 - np.arange(len(truth)))
    ari = float(adjusted_rand_score(truth_own, found_own))
    unassigned = int((found < 0).sum())
    notes = (
        f"{built.size}; {persons:,} persons after ({len(built.centres):,} identities), {unassigned:,} faces "
        f"unassigned; ARI {ari:.4f} against the identities; includes the reload of the matrix"
    )
    failed = None if ari >= 0.99 else f"ARI {ari:.4f} < 0.99 against the identities the faces came from"
    return Measurement(seconds, notes, extra={"ari": ari, "persons": persons}, check_failed=failed)


@row("profile.load_s", unit="s")
def load_s(ctx: Context) -> Measurement:
    built, live = _built(ctx), _live(ctx)
    samples = []
    for _ in range(QUICK_LOADS if ctx.quick else LOADS):
        started = time.perf_counter()
        live.updater.load()
        samples.append(time.perf_counter() - started)
    held = sum(len(m) for m in live.updater.matrices.values())
    notes = (
        f"{built.size}; {held:,} embeddings in memory; s {spread(samples)}; the first load (before the "
        f"other rows) took {live.first_load_s:.2f} s; index built in {built.seconds:.1f} s"
    )
    return Measurement(median(samples), notes, extra={"s": samples, "build_s": built.seconds})
