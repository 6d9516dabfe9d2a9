"""`shadowlens watch` as a user runs it in a terminal: its own process group, Ctrl-C to the group.

A terminal sends SIGINT to every process of the foreground group, so the daemon's workers get
it too; `interrupt()` does the same with ``os.killpg``. Output goes to files, or to a pty when
the test needs a terminal.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import SHADOWLENS, Env


def children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def worker_children(parent: int) -> list[int]:
    """The parent's analysis workers: its children but multiprocessing's resource tracker, which
    is not a worker and ends by itself just after the parent (when its pipe closes)."""
    workers = []
    for pid in children(parent):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in command:
            workers.append(pid)
    return workers


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class ForegroundWatch:
    def __init__(
        self,
        env: Env,
        folder: Path,
        *args: str,
        extra_env: dict[str, str] | None = None,
        tty: bool = False,
    ) -> None:
        self.env = env
        stamp = time.monotonic_ns()
        env.root.mkdir(parents=True, exist_ok=True)
        self.socket_path = env.root / f"notify-{stamp}.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.socket_path))
        self.notices: list[str] = []
        variables = {**os.environ, **env.vars, "NOTIFY_SOCKET": str(self.socket_path), **(extra_env or {})}
        self.stdout_path, self.stderr_path = env.root / f"out-{stamp}.txt", env.root / f"err-{stamp}.txt"
        self.terminal = b""
        self.master: int | None = None
        command = [str(SHADOWLENS), *args, "watch", str(folder)]
        if tty:
            self.master, follower = pty.openpty()
            self.proc = subprocess.Popen(
                command,
                env=variables,
                stdin=follower,
                stdout=follower,
                stderr=follower,
                start_new_session=True,
            )
            os.close(follower)
        else:
            with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
                self.proc = subprocess.Popen(
                    command, env=variables, stdout=out, stderr=err, start_new_session=True
                )

    # -- output -------------------------------------------------------------------------------

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def stderr(self) -> str:
        if self.master is not None:
            self._read_terminal(0)
            return self.terminal.decode(errors="replace").replace("\r\n", "\n")
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def _read_terminal(self, timeout: float) -> None:
        assert self.master is not None
        while select.select([self.master], [], [], timeout)[0]:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # the other side closed: the process has exited
                return
            if not data:
                return
            self.terminal += data
            timeout = 0

    def notified(self, key: str) -> bool:
        self.sock.settimeout(0.05)
        try:
            while True:
                self.notices += self.sock.recv(4096).decode().splitlines()
        except (TimeoutError, BlockingIOError):
            pass
        return any(line.startswith(f"{key}=") for line in self.notices)

    def wait_until(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"the daemon exited {self.proc.returncode} before {what}:\n{self.stderr()}"
                )
            if self.master is not None:
                self._read_terminal(0.1)
            else:
                time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}:\n{self.stderr()}")

    # -- stopping -----------------------------------------------------------------------------

    def interrupt(self) -> None:
        """What Ctrl-C in the terminal does."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def wait(self, timeout: float) -> int:
        if self.master is None:
            return self.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read_terminal(0.1)
        code = self.proc.wait(max(0.0, deadline - time.monotonic()))
        self._read_terminal(0.1)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        if self.master is not None:
            os.close(self.master)
            self.master = None
        self.sock.close()
        self.socket_path.unlink(missing_ok=True)
