"""Reading every face embedding at daemon start, measured in a new interpreter.

``rows_people``'s synthetic faces go into a real index (the Store's schema, one photo per three
faces, a face finding each); then a child process opens it and loads the matrices, once as the
daemon does (``ProfileUpdater.load()``) and once through ``face_matrix.load_matrices`` alone.
A new process, because RSS is the point: in the harness's own process freed memory of earlier
rows would be reused and hide what a load costs. RSS added is the child's VmRSS after the load
minus before it, with the index open in both; the peak is its VmHWM minus the same start.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import numpy as np
from harness import run_child, xdg_env

ANALYSED_AT = "2025-01-01 00:00:00.000000"
MARKER = "FACE-LOAD "
ROWS = 20_000  # inserted per executemany

# Its arguments: the loader ("daemon" or "direct") and the index.
CHILD = """
import gc, json, sys, time
from pathlib import Path
from shadowlens.daemon.config import Config
from shadowlens.daemon.index.profile_writes import persons_generation
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.profile.face_matrix import load_matrices
from shadowlens.daemon.profile.updater import ProfileUpdater

def status():
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}

loader, path = sys.argv[1], Path(sys.argv[2])
store = Store.open(path)
with store.transaction() as session:  # the connection and SQLite's caches exist before the start
    persons_generation(session)
gc.collect()
before = status()
started, cpu = time.perf_counter(), time.process_time()
if loader == "daemon":
    updater = ProfileUpdater(store, Config())
    updater.load()
    matrices = updater.matrices
else:
    with store.transaction() as session:
        matrices = load_matrices(session)
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
gc.collect()
after = status()
print(sys.argv[3] + json.dumps({
    "s": seconds,
    "cpu_s": cpu,
    "faces": sum(len(m) for m in matrices.values()),
    "rss_added_mb": after["VmRSS"] - before["VmRSS"],
    "peak_added_mb": after["VmHWM"] - before["VmRSS"],
}), flush=True)
"""


def build_index(path: Path, vectors: Any, persons: Any, engine: str) -> Path:
    """An index holding ``vectors`` as faces; ``persons`` -1 are unassigned (person ids from 1)."""
    from shadowlens.daemon.index.writer import Store

    Store.open(path).close()  # the schema, as the daemon creates it
    n, per_photo = len(vectors), 3
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous = OFF")
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO photos (id, sha256, size, status, signature, analysed_at) VALUES (?,?,1,'indexed','bench',?)",
            ((p, f"{p:064x}", ANALYSED_AT) for p in range(1, n // per_photo + 2)),
        )
        for at in range(0, n, ROWS):
            ids = range(at + 1, min(at + ROWS, n) + 1)
            con.executemany(
                "INSERT INTO findings (id, photo_id, kind, label, confidence, attrs, detector, detector_version) "
                "VALUES (?,?,'face','face',0.9,'{}','faces','1')",
                ((i, (i - 1) // per_photo + 1) for i in ids),
            )
            con.executemany(
                "INSERT INTO faces (id, photo_id, finding_id, engine, dim, embedding, person_id, confidence) "
                "VALUES (?,?,?,?,?,?,?,0.9)",
                (
                    (
                        i,
                        (i - 1) // per_photo + 1,
                        i,
                        engine,
                        vectors.shape[1],
                        vectors[i - 1].tobytes(),
                        _person(persons[i - 1]),
                    )
                    for i in ids
                ),
            )
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return path


def _person(truth: np.int64) -> int | None:
    return int(truth) + 1 if truth >= 0 else None


def load_in_child(loader: str, index: Path, home: Path) -> dict[str, Any]:
    """One load in a new interpreter: seconds (wall and CPU), faces loaded, RSS added and peak
    added (MB)."""
    child = run_child([sys.executable, "-c", CHILD, loader, str(index), MARKER], xdg_env(home), timeout=600)
    lines = [line for line in child.stdout.splitlines() if line.startswith(MARKER)]
    if child.returncode != 0 or not lines:
        raise RuntimeError(f"the {loader} load exited {child.returncode}: {child.stderr.strip()[-400:]}")
    result: dict[str, Any] = json.loads(lines[-1].removeprefix(MARKER))
    return result
