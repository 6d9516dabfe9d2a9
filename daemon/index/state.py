"""The daemon's state as its clients see it: is it running (the lock that keeps it the index's
single writer), is it paused, how far has it got (rows of ``daemon_state``)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, Any

from shadowlens.daemon.index.reads.queries import Reader
from shadowlens.daemon.index.schema import DaemonState
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.paths import ensure_private_dir
from sqlalchemy import select
from sqlalchemy.orm import Session


class AlreadyRunning(Exception):
    """Another shadowlens daemon holds the lock."""


class DaemonLock:
    """An advisory lock held for the daemon's lifetime; the kernel drops it if the process dies."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "daemon.lock"
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        ensure_private_dir(self.path.parent)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            handle.close()
            raise AlreadyRunning(
                f"shadowlens is already watching (pid {pid}); see `shadowlens status`"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def holder(self) -> int | None:
        """The pid of the running daemon, or None when nobody holds the lock."""
        if not self.path.exists():
            return None
        with open(self.path, "a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                text = handle.read().strip()
                return int(text) if text.isdigit() else -1
            fcntl.flock(handle, fcntl.LOCK_UN)
        return None


def set_paused(store: Store, paused: bool, by: str = "user") -> None:
    from shadowlens.daemon.index.queue import JobQueue

    JobQueue(store).set_state("paused", {"paused": paused, "by": by})


def read_state(session: Session, key: str) -> dict[str, Any] | None:
    row = session.scalar(select(DaemonState).where(DaemonState.key == key))
    return dict(row.value) if row else None


def is_paused(store: Store) -> bool:
    with Session(store.engine) as session:
        state = read_state(session, "paused")
    return bool(state and state.get("paused"))


def daemon_status(state_dir: Path, index_path: Path) -> dict[str, Any]:
    """Running?, counts, queue, rate: what `shadowlens status` and the TUI's status screen show."""
    pid = DaemonLock(state_dir).holder()
    status: dict[str, Any] = {"running": pid is not None, "pid": pid, "index": str(index_path)}
    if not index_path.exists():
        return {**status, "indexed": 0, "errors": 0, "pending": 0, "queued": 0, "paused": False}
    reader = Reader.open(index_path)
    try:
        counts = reader.counts()
        with Session(reader.engine) as session:
            beat = read_state(session, "heartbeat") or {}
            paused = read_state(session, "paused") or {}
        queue = reader.job_counts()
    finally:
        reader.close()
    status.update(
        indexed=counts["indexed"],
        errors=counts["error"],
        pending=counts["pending"],
        queued=queue.get("queued", 0),
        running_jobs=queue.get("running", 0),
        parked=queue.get("parked", 0),
        paused=bool(paused.get("paused")),
        rate_per_minute=beat.get("rate_per_minute") if pid else None,
        last_photo=beat.get("last_photo"),
        heartbeat_at=beat.get("at"),
        folders=beat.get("folders"),
        cluster_workers=beat.get("cluster") if pid else None,
    )
    return status
