"""The daemon's state as its clients see it, read from the lock and the index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shadowlens.daemon.index.reads.queries import Reader
from shadowlens.daemon.service.control import DaemonLock, read_state
from sqlalchemy.orm import Session


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
    )
    return status
