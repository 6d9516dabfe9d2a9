"""A free change signal for readers: SQLite's ``data_version`` moves whenever another
connection (the daemon, a scan, a second TUI) commits to the index.

The TUI polls it once a second and reloads the visible screen only when it moved, so an idle
library costs one pragma a second, not one set of queries.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class DataVersion:
    """One private read-only connection, kept open: ``data_version`` only tells the commits of
    *other* connections apart, so it must be asked on the same connection every time."""

    def __init__(self, index_path: Path) -> None:
        self.index_path = index_path
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # asked from the UI thread and from workers

    def current(self) -> int | None:
        """The current version, or None while there is no index."""
        if not self.index_path.exists():
            return None
        with self._lock:
            if self._connection is None:
                self._connection = sqlite3.connect(
                    f"file:{self.index_path}?mode=ro", uri=True, check_same_thread=False
                )
            return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
