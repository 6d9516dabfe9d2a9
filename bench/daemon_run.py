"""Running the real ``shadowlens watch`` daemon for the watch benchmarks, and observing it.

The daemon is started as a service manager would start it: its own process, its own XDG dirs
and a systemd-style notify socket on which it says READY=1 once it is watching. The benchmark
reads the index the way any other reader does, read-only SQLite while the daemon writes, and
reads memory from /proc, so nothing in the daemon is instrumented for the benchmark.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from harness import xdg_env

STOP_TIMEOUT = 30.0


@dataclass
class Exit:
    returncode: int
    # wait4's ru_maxrss: the main process, or a child it reaped if that was larger (not a sum).
    max_rss_mb: float


class WatchDaemon:
    """``shadowlens -v watch FOLDER`` with XDG dirs under ``base``; a context manager that
    always ends the process, so a failing row never leaves a daemon running."""

    def __init__(self, cli: list[str], base: Path, folder: Path, config: str = "") -> None:
        env = xdg_env(base, {"NOTIFY_SOCKET": str(base / "notify.sock")})
        env.pop("WATCHDOG_USEC", None)  # no watchdog pings: nothing here would answer them
        self.index_path = base / "data" / "shadowlens" / "index.sqlite3"
        if config:
            (base / "config" / "shadowlens").mkdir(parents=True, exist_ok=True)
            (base / "config" / "shadowlens" / "config.toml").write_text(config, encoding="utf-8")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(env["NOTIFY_SOCKET"])
        self.log_path = base / "watch.log"
        # A file, not a pipe: -v logs every photo and a full pipe would stall the daemon.
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*cli, "-v", "watch", str(folder)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.pid = self.proc.pid
        self.exit: Exit | None = None

    def __enter__(self) -> WatchDaemon:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.exit is None:
            self.proc.kill()
            self._reap(time.monotonic() + STOP_TIMEOUT)
        self.sock.close()

    def _reap(self, deadline: float) -> Exit | None:
        # wait4 rather than Popen.wait: it also returns the process's own rusage (peak RSS).
        while self.exit is None:
            pid, status, rusage = os.wait4(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                self.exit = Exit(self.proc.returncode, rusage.ru_maxrss / 1024)
            elif time.monotonic() >= deadline:
                return None
            else:
                time.sleep(0.01)
        return self.exit

    def check_alive(self) -> None:
        if self._reap(0.0) is not None:
            raise RuntimeError(f"the daemon exited {self.proc.returncode}:\n{self.log_tail()}")

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds until READY=1 arrived on the notify socket."""
        started = time.monotonic()
        self.sock.settimeout(0.2)
        while time.monotonic() - started < timeout:
            try:
                if "READY=1" in self.sock.recv(4096).decode().splitlines():
                    return time.monotonic() - started
            except TimeoutError:
                self.check_alive()
        raise TimeoutError(f"no READY=1 from the daemon in {timeout} s:\n{self.log_tail()}")

    def stop(self) -> Exit:
        """SIGTERM, as systemd stops it; killed if it does not exit in time."""
        if self.exit is None:
            self.proc.send_signal(signal.SIGTERM)
            if self._reap(time.monotonic() + STOP_TIMEOUT) is None:
                self.proc.kill()
                self._reap(time.monotonic() + STOP_TIMEOUT)
        assert self.exit is not None
        return self.exit

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]

    def wait_until(self, predicate: Callable[[], bool], timeout: float, interval: float, what: str) -> float:
        """``perf_counter()`` at the first poll where ``predicate`` held."""
        deadline = time.perf_counter() + timeout
        while True:
            try:
                if predicate():
                    return time.perf_counter()
            except sqlite3.OperationalError:
                pass  # the index is being created, or briefly busy: look again at the next poll
            self.check_alive()
            if time.perf_counter() > deadline:
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}:\n{self.log_tail()}")
            time.sleep(interval)


class Index:
    """A read-only view of the daemon's index. Autocommit, so every query sees the latest commit."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10, isolation_level=None)

    def value(self, sql: str, *params: Any) -> Any:
        found = self.conn.execute(sql, params).fetchone()
        return found[0] if found else None

    def status(self, path: Path) -> str | None:
        return self.value("SELECT status FROM files WHERE path = ?", str(path))  # type: ignore[no-any-return]

    def ended(self, path: Path) -> bool:
        """Whether the file's analysis is over, well or not."""
        return self.status(path) in ("indexed", "error")

    def finished(self) -> int:
        """Files whose analysis ended, well or not (a queued file is already listed as pending)."""
        return int(self.value("SELECT count(*) FROM files WHERE status != 'pending'"))

    def statuses(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT status, count(*) FROM files GROUP BY status").fetchall())

    def close(self) -> None:
        self.conn.close()
