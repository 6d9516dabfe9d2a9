"""The one read an analysis worker makes: which analysis the index holds for a content (sha256).

A worker asks it for every photo, from its first, so the same bytes under a new name are linked,
not analysed again. It reads SQLite directly, as a reader engine of ``db.make_engine`` would (a
connection per lookup, in autocommit, with the same busy timeout), so that a new worker does not
import SQLAlchemy and the ORM schema for this one query: they delayed the start of every worker
by 0.3 s (bench: daemon.pool_restart_s). tests/test_worker_start.py checks that it answers as
``Reader.signature_for`` does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000  # as db.BUSY_TIMEOUT_MS (db imports SQLAlchemy; the test checks they agree)
QUERY = "SELECT signature FROM photos WHERE sha256 = ?"


def signature_lookup(index_path: str) -> Callable[[str], str | None]:
    """For a worker process: the analysis signature stored for a sha256, or None when it is new."""
    path = Path(index_path)

    def signature_for(sha256: str) -> str | None:
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            row = connection.execute(QUERY, (sha256,)).fetchone()
        finally:
            connection.close()
        return None if row is None else str(row[0])

    return signature_for
