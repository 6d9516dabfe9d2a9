"""Running the real `shadowlens watch` process in tests, with a real systemd notify socket."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import SHADOWLENS, Env


class WatchProcess:
    """`shadowlens watch` in its own process; READY/STATUS/WATCHDOG arrive on our socket."""

    def __init__(
        self,
        env: Env,
        folder: Path,
        *args: str,
        extra_env: dict[str, str] | None = None,
        watchdog_usec: int | None = None,
    ) -> None:
        self.env, self.folder = env, folder
        self.socket_path = env.root / f"notify-{time.monotonic_ns()}.sock"
        env.root.mkdir(parents=True, exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.socket_path))
        self.messages: list[dict[str, str]] = []
        variables = {**os.environ, **env.vars, "NOTIFY_SOCKET": str(self.socket_path), **(extra_env or {})}
        if watchdog_usec:
            variables["WATCHDOG_USEC"] = str(watchdog_usec)
        self.log_path = env.root / f"watch-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(SHADOWLENS), "-v", "watch", *args, str(folder)],
            env=variables,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def read_messages(self, timeout: float) -> list[dict[str, str]]:
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(4096).decode()
                self.messages.append(dict(line.split("=", 1) for line in data.splitlines() if "=" in line))
                self.sock.settimeout(0.01)
        except (TimeoutError, BlockingIOError):
            pass
        return self.messages

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(m.get("READY") == "1" for m in self.read_messages(0.5)):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"the daemon exited {self.proc.returncode}:\n{self.output()}")
        raise AssertionError(f"the daemon did not report READY=1 in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def terminate(self, timeout: float = 15) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self.sock.close()
        self.socket_path.unlink(missing_ok=True)
        self.log.close()


def query(index: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{index}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(sql, params).fetchall()


def wait_for(
    predicate: Callable[[], bool], timeout: float, what: str, proc: WatchProcess | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except sqlite3.OperationalError:
            pass  # the index is still being created
        time.sleep(0.1)
    extra = f"\n--- daemon output ---\n{proc.output()}" if proc else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{extra}")


def status_of(index: Path, path: Path) -> str | None:
    rows = query(index, "SELECT status FROM files WHERE path = ?", str(path))
    return rows[0][0] if rows else None


def done_jobs(index: Path, path: Path) -> int:
    return int(query(index, "SELECT count(*) FROM jobs WHERE path = ? AND state = 'done'", str(path))[0][0])
