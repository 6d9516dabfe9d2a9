"""The TUI's window on the index: reads through ``index.reads``, decisions through Store.

Nothing here runs a detector or touches the watcher, and the only SQL of its own is the read of
the stored profile (see ``stored_profile``). Reads are short and happen in Textual workers; each
user decision (a name, a merge, a safe mark, an alert state) is one short transaction through
``Store.profile``, the same path the daemon writes by. The index modules are imported on first
use: with SQLAlchemy they take ~0.5 s to import, which the start screen need not wait for.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shadowlens.daemon.config import AlertSettings
from shadowlens.daemon.index.reads.changes import DataVersion

if TYPE_CHECKING:
    from shadowlens.daemon.index.reads.browse import PhotoFilter, PhotoRow
    from shadowlens.daemon.index.reads.queries import Reader
    from shadowlens.daemon.index.writer import Store

# [alerts] threshold when no config is given (tests, benchmarks): the config's own default.
DEFAULT_THRESHOLD = AlertSettings().threshold
# daemon_state's key of the stored profile: profile_writes.PROFILE_KEY, which imports the ORM
# (tests/test_cli_imports.py checks that both reads agree).
PROFILE_KEY = "profile"
BUSY_TIMEOUT_MS = 10_000


def stored_profile(index_path: Path) -> dict[str, Any] | None:
    """The stored profile, as ``Reader.profile()`` reads it, with the sqlite3 module alone: the
    start screen shows nothing else, so the first paint does not wait for SQLAlchemy."""
    connection = sqlite3.connect(f"file:{index_path}?mode=ro", uri=True)
    try:
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        row = connection.execute("SELECT value FROM daemon_state WHERE key = ?", (PROFILE_KEY,)).fetchone()
    finally:
        connection.close()
    if not row or row[0] is None:
        return None
    # A large library's profile is tens of MB of JSON: millions of new lists and dicts, which the
    # cycle collector would walk again and again while they are made (a third of the parse).
    # Parsed JSON holds no cycles, so nothing is lost by pausing it.
    enabled = gc.isenabled()
    gc.disable()
    try:
        value = json.loads(row[0])
    finally:
        if enabled:
            gc.enable()
    return dict(value) if isinstance(value, dict) else None


def default_safe_copies_dir() -> Path:
    """Outside every photo folder a user is likely to watch: copies are not new photos."""
    import platformdirs

    return Path(platformdirs.user_documents_dir()) / "shadowlens safe copies"


class Library:
    def __init__(self, index_path: Path, state_dir: Path, alert_threshold: int = DEFAULT_THRESHOLD) -> None:
        self.index_path, self.state_dir = index_path, state_dir
        # The exposure at which the daemon raises an alert ([alerts] threshold): the screens
        # colour scores and pick "risky" photos by it, so they call risky what the alerts do.
        self.alert_threshold = alert_threshold
        self._reader: Reader | None = None
        self._store: Store | None = None
        self._version = DataVersion(index_path)
        self._profile: tuple[int | None, dict[str, Any] | None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.index_path.exists()

    @property
    def reader(self) -> Reader:
        if self._reader is None:
            from shadowlens.daemon.index.reads.queries import Reader

            self._reader = Reader.open(self.index_path)
        return self._reader

    @property
    def store(self) -> Store:
        """Opened on the first decision only: browsing never needs the writer."""
        if self._store is None:
            from shadowlens.daemon.index.writer import Store

            self._store = Store.open(self.index_path)
        return self._store

    def close(self) -> None:
        for closable in (self._reader, self._store, self._version):
            if closable is not None:
                closable.close()
        self._reader = self._store = None

    def data_version(self) -> int | None:
        """Changes whenever another connection (the daemon) commits: a free change signal."""
        return self._version.current()

    # -- reads ---------------------------------------------------------------------------------

    def profile(self) -> dict[str, Any] | None:
        """Parsed once per change of the index: the stored profile of a large library is a few
        MB of JSON, and every screen asks for it."""
        version = self.data_version()
        if self._profile is None or self._profile[0] != version:
            self._profile = (version, stored_profile(self.index_path))
        return self._profile[1]

    def photos(
        self,
        filters: PhotoFilter,
        sort: str = "exposure",
        descending: bool = True,
        limit: int = 200,
        offset: int = 0,
    ) -> list[PhotoRow]:
        from shadowlens.daemon.index.reads import browse

        return browse.photo_page(self.reader.engine, filters, sort, descending, limit, offset)

    def photo_count(self, filters: PhotoFilter) -> int:
        from shadowlens.daemon.index.reads import browse

        return browse.photo_count(self.reader.engine, filters)

    def photo(self, path: str) -> dict[str, Any] | None:
        return self.reader.photo(path)

    def persons(self) -> list[dict[str, Any]]:
        return self.reader.persons()

    def child_marks(self) -> dict[int, bool | None]:
        from shadowlens.daemon.index.reads import people

        return people.child_marks(self.reader.engine)

    def possible_children(self) -> frozenset[int]:
        from shadowlens.daemon.index.reads import people

        return people.possible_children(self.reader.engine)

    def person_faces(self, person_id: int, limit: int = 60) -> list[dict[str, Any]]:
        from shadowlens.daemon.index.reads import browse

        return browse.person_faces(self.reader.engine, person_id, limit)

    def photos_by_id(self, photo_ids: list[int]) -> list[PhotoRow]:
        from shadowlens.daemon.index.reads import browse

        return browse.photos_by_id(self.reader.engine, photo_ids)

    def photos_near(self, lat: float, lon: float, radius_m: float) -> list[PhotoRow]:
        from shadowlens.daemon.index.reads import browse

        return browse.photos_near(self.reader.engine, lat, lon, radius_m)

    def alerts(self, include_all: bool = False) -> list[dict[str, Any]]:
        return self.reader.alerts(include_all, limit=500)

    def detector_versions(self) -> dict[str, str]:
        """Each detector's version (with its models) as of the newest analysed photo."""
        from shadowlens.daemon.index.reads import status

        return status.detector_versions(self.reader.engine)

    def status(self) -> dict[str, Any]:
        from shadowlens.daemon.index.reads import status

        return status.status_report(self.reader, self.state_dir, self.index_path)

    # -- decisions -----------------------------------------------------------------------------

    def rename_person(self, person_id: int, name: str | None) -> None:
        self.store.profile.rename_person(person_id, name)

    def merge_persons(self, into: int, others: list[int]) -> None:
        self.store.profile.merge_persons(into, others)

    def split_face(self, face_id: int) -> int:
        return self.store.profile.split_face(face_id)

    def set_owner(self, person_id: int | None) -> None:
        self.store.profile.set_owner(person_id)

    def set_child(self, person_id: int, is_child: bool | None) -> None:
        self.store.profile.set_child(person_id, is_child)

    def mark_safe(self, photo_id: int, safe: bool = True) -> None:
        self.store.profile.mark_safe(photo_id, safe)

    def set_alert_state(self, alert_ids: list[int], state: str) -> None:
        self.store.profile.set_alert_state(alert_ids, state)

    def safe_copies(self, paths: list[str], out_dir: Path | None = None) -> list[dict[str, Any]]:
        """Scrubbed, verified copies through ``shadowlens scrub`` in a child process: the TUI
        itself never loads detectors. Raises RuntimeError with the command's one-line error."""
        out = out_dir or default_safe_copies_dir()
        command = [
            sys.executable,
            "-m",
            "shadowlens.daemon.cli",
            "scrub",
            "--json",
            "--out",
            str(out),
            *paths,
        ]
        child = subprocess.run(command, capture_output=True, text=True, check=False)
        if child.returncode not in (0, 1) or not child.stdout.strip():
            lines = child.stderr.strip().splitlines()
            raise RuntimeError(lines[-1] if lines else f"scrub exited {child.returncode}")
        reports: list[dict[str, Any]] = json.loads(child.stdout)
        return reports

    def set_paused(self, paused: bool) -> None:
        from shadowlens.daemon.index.state import set_paused

        set_paused(self.store, paused)
