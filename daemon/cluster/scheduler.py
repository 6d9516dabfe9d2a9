"""The daemon's Dask scheduler: a `dask scheduler` process of its own, over TLS only, and the
client through which the dispatcher sends it work.

A separate process rather than one in the daemon's own event loop: the daemon is threaded, not
asyncio, and a scheduler that crashes or hangs must not take the index's only writer with it.
It lives as long as the daemon, not as long as the local worker pool: joined workers keep
their models loaded while the daemon's own pool sleeps.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from shadowlens.daemon.cluster.files import ClusterFiles, security, tls_options

log = logging.getLogger(__name__)
START_TIMEOUT = 30.0
# A worker death is forgiven this often per task before the task counts as the killer
# (KilledWorker): a photo that kills one worker in a hundred photos is not blamed at once.
ALLOWED_FAILURES = 3


class SchedulerError(Exception):
    """The scheduler could not start."""


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def connect_host(host: str) -> str:
    """Where the daemon itself reaches a scheduler listening on ``host``."""
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host


def scheduler_argv(files: ClusterFiles, host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "shadowlens.daemon.cluster.scheduler_main",
        str(os.getpid()),  # it ends with this process (scheduler_main.py)
        "--host",
        host,
        "--port",
        str(port),
        "--protocol",
        "tls",
        *tls_options(files),
        "--no-dashboard",
        "--no-show",
    ]


class SchedulerProcess:
    def __init__(self, files: ClusterFiles, listen: str, log_file: Path) -> None:
        self.files = files
        self.host, self.port = split_listen(listen)
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: Any = None

    @property
    def address(self) -> str:
        return f"tls://{connect_host(self.host)}:{self.port}"

    def start(self, timeout: float = START_TIMEOUT) -> Any:
        """Start the scheduler and return a connected ``distributed.Client``."""
        from distributed import Client

        env = dict(os.environ)
        env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = str(ALLOWED_FAILURES)
        env["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] = "True"
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as output:
            self.proc = subprocess.Popen(
                scheduler_argv(self.files, self.host, self.port),
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while not _listening(connect_host(self.host), self.port):
            if self.proc.poll() is not None:
                raise SchedulerError(
                    f"the Dask scheduler exited with {self.proc.returncode} on {self.host}:{self.port} "
                    f"(is the port in use? see {self.log_file})"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise SchedulerError(
                    f"the Dask scheduler did not listen on {self.host}:{self.port} in {timeout:g} s"
                )
            time.sleep(0.1)
        self.client = Client(  # type: ignore[no-untyped-call]
            self.address, security=security(self.files), timeout=timeout, set_as_default=False
        )
        log.info("cluster scheduler listening on %s:%d (TLS, certificates required)", self.host, self.port)
        return self.client

    def stop(self) -> None:
        if self.client is not None:
            try:
                self.client.close(timeout=5)
            except Exception as exc:  # closing a client of a dead scheduler may raise; nothing to keep
                log.debug("closing the cluster client: %s", exc)
            self.client = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
