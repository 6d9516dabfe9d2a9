"""Talking to a running daemon: is it running (a lock file), is it paused (a row in the index)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, Any

from shadowlens.daemon.index.schema import DaemonState
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.paths import ensure_private_dir
from sqlalchemy import select
from sqlalchemy.orm import Session

POWER_SUPPLY = Path("/sys/class/power_supply")


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


def on_battery(root: Path = POWER_SUPPLY) -> bool:
    """True when a battery is discharging and no mains adapter is online."""
    try:
        supplies = list(root.iterdir())
    except OSError:
        return False
    mains_online, discharging = False, False
    for supply in supplies:
        try:
            kind = (supply / "type").read_text().strip()
            if kind == "Mains" and (supply / "online").read_text().strip() == "1":
                mains_online = True
            elif kind == "Battery" and (supply / "status").read_text().strip() == "Discharging":
                discharging = True
        except OSError:
            continue
    return discharging and not mains_online
