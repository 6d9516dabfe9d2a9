"""``shadowlens tui`` end to end in a real terminal: photos indexed by the real ``shadowlens
scan``, then the installed command in a detached tmux pane of 100x30, driven by keys and read
back with ``capture-pane``. (The other TUI tests read a seeded index; this one keeps the whole
path covered: scan, profile, alerts, the TUI reading what they wrote.)

Each run has a private tmux server (``-L`` with a socket name of its own, no config file), so
it never touches the user's sessions, and that server is killed whatever happens.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import SHADOWLENS, Env
from tests.tui_support import scan_library

pytestmark = [pytest.mark.corpus, pytest.mark.slow]

WIDTH, HEIGHT = 100, 30
START_TIMEOUT = 60.0  # the first paint imports Textual and textual-image and opens the index
SCREEN_TIMEOUT = 15.0


class Tmux:
    """A tmux server of its own, with one session ``t``."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.socket = f"shadowlens-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.socket_path: Path | None = None
        self.last_screen = ""

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.executable, "-L", self.socket, "-f", "/dev/null", "-u", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=check,
        )

    def start(self, command: str) -> None:
        self.run("new-session", "-d", "-s", "t", "-x", str(WIDTH), "-y", str(HEIGHT), command)
        self.socket_path = Path(self.run("display-message", "-p", "#{socket_path}").stdout.strip())

    def alive(self) -> bool:
        return self.run("has-session", "-t", "t", check=False).returncode == 0

    def pane_pid(self) -> int:
        return int(self.run("display-message", "-p", "-t", "t", "#{pane_pid}").stdout.strip())

    def screen(self) -> str:
        proc = self.run("capture-pane", "-p", "-t", "t", check=False)
        if proc.returncode == 0:
            self.last_screen = proc.stdout
        return self.last_screen

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "t", *keys)

    def kill_server(self) -> None:
        """Stop the server if it still runs, and remove its socket (tmux leaves it behind)."""
        self.run("kill-server", check=False)
        if self.socket_path is not None and self.socket_path.is_socket():
            self.socket_path.unlink()

    def wait_for(self, what: str, condition: Callable[[], bool], timeout: float = SCREEN_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; the pane showed:\n{self.screen()}")

    def wait_for_text(self, text: str, timeout: float = SCREEN_TIMEOUT) -> None:
        self.wait_for(repr(text), lambda: text in self.screen(), timeout)


def process_gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody has reaped yet (a container's init may not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:
        return not _signalable(pid)
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def _signalable(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # the pid was reused by another user's process
        return False
    return True


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Env, Path]:
    return scan_library(tmp_path_factory.mktemp("tui-tmux"))


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    executable = shutil.which("tmux")
    if executable is None:
        pytest.skip("tmux is not installed: this test runs `shadowlens tui` in a tmux pane")
    server = Tmux(executable)
    try:
        yield server
    finally:
        server.kill_server()


def test_the_tui_runs_in_a_terminal_switches_screens_and_quits(indexed: tuple[Env, Path], tmux: Tmux) -> None:
    env, _ = indexed
    assert SHADOWLENS.exists(), (
        f"the shadowlens command is not installed next to the interpreter: {SHADOWLENS}"
    )
    variables = {**env.vars, "TERM": "xterm-256color", "LANG": "C.UTF-8", "HOME": str(env.root)}
    command = shlex.join(["env", *(f"{k}={v}" for k, v in variables.items()), str(SHADOWLENS), "tui"])
    tmux.start(command)
    pid = tmux.pane_pid()

    tmux.wait_for_text("What your", timeout=START_TIMEOUT)
    assert "photos tell a marketer" in tmux.screen()

    tmux.keys("2")
    tmux.wait_for_text("sort exposure")
    assert "risky.jpg" in tmux.screen(), "the riskiest photo is listed first"

    tmux.keys("6")
    tmux.wait_for_text("Why this photo is risky")
    assert "payment card" in tmux.screen()

    tmux.keys("q")
    tmux.wait_for("the session to end", lambda: not tmux.alive())
    tmux.wait_for(f"the TUI's process {pid} to exit", lambda: process_gone(pid))
