"""`shadowlens worker`: a helper machine's side of the cluster, a thin wrapper around `dask worker`.

It enrols once (a one-time token from the daemon's machine buys this machine its certificate),
then runs `dask worker` against the daemon's scheduler over mutual TLS, one single-threaded
worker process per core: a job runs one photo at a time, as in the local pool, and each
process keeps its own models loaded (``preload.py``, ``jobs.py``).
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType

from shadowlens.daemon.cluster.files import ClusterFiles, ClusterSetupError, tls_options
from shadowlens.models.sessions import WORKERS_ENV

SCHEDULER_PORT = 8786
PRELOAD = "shadowlens.daemon.cluster.preload"
# For the preload: the pid of `shadowlens worker` (the `dask worker` process ends with it), and -v.
LAUNCHER_ENV = "SHADOWLENS_WORKER_LAUNCHER"
VERBOSE_ENV = "SHADOWLENS_WORKER_VERBOSE"
# onnxruntime's providers that mean a GPU this machine can run models on.
GPU_PROVIDERS = frozenset({"CUDAExecutionProvider", "ROCMExecutionProvider", "DmlExecutionProvider"})


def parse_join(value: str) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT``, ``[IPV6]:PORT`` or a bare IPv6 address -> (host, port)."""
    text = value.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else (rest or None)
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    if not host or (port is not None and not (port.isdigit() and 0 < int(port) < 65536)):
        raise ValueError(f"expected HOST or HOST:PORT, like nas.local or nas.local:8786, not {value!r}")
    return host, int(port) if port else SCHEDULER_PORT


def tls_address(host: str, port: int) -> str:
    return f"tls://[{host}]:{port}" if ":" in host else f"tls://{host}:{port}"


def has_gpu(providers: Sequence[str]) -> bool:
    return not GPU_PROVIDERS.isdisjoint(providers)


def available_providers() -> list[str]:
    """What onnxruntime can run on here; nothing (so no GPU) when it cannot even be imported."""
    try:
        import onnxruntime
    except ImportError:
        return []
    return list(onnxruntime.get_available_providers())


DEATH_TIMEOUT_S = 15
# `dask worker` failing this soon after a scheduler answered the TLS check is a setup problem.
QUICK_FAILURE_S = 5.0


def worker_argv(
    host: str,
    port: int,
    files: ClusterFiles,
    nworkers: int,
    name: str,
    providers: Sequence[str],
) -> list[str]:
    """The `dask worker` command line `shadowlens worker` runs."""
    argv = [
        sys.executable,
        "-m",
        "distributed.cli.dask_worker",
        tls_address(host, port),
        # One job at a time per process, as in the local pool: the parallelism is the processes,
        # and each detector's models run single-photo.
        "--nthreads",
        "1",
        "--nworkers",
        str(nworkers),
        "--name",
        name,
        "--preload",
        PRELOAD,
        "--preload-nanny",
        PRELOAD,
        *tls_options(files),
        "--no-dashboard",
        # Dask's memory manager would pause, then kill, a process at 80 % and 95 % of its share
        # of RAM: a worker's models alone are most of a GB, while the data Dask holds for it
        # (a batch's results) is small. Memory is the kernel's to police, as for the local pool.
        "--memory-limit",
        "0",
        # Without its scheduler this long, `dask worker` ends, and `serve` waits for the daemon
        # to come back: otherwise when it notices the loss depends on Dask's retries and load.
        "--death-timeout",
        str(DEATH_TIMEOUT_S),
    ]
    if has_gpu(providers):
        argv += ["--resources", "GPU=1"]
    return argv


def worker_env(nworkers: int, verbose: int, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the `dask worker` process (and, through it, of its workers)."""
    env = dict(os.environ if base is None else base)
    env[WORKERS_ENV] = str(nworkers)
    env[LAUNCHER_ENV] = str(os.getpid())
    # Every connection is TLS with a certificate of the cluster's CA, never plain TCP.
    env["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] = "True"
    env["DASK_LOGGING__DISTRIBUTED"] = "info" if verbose else "warning"
    if verbose:
        env[VERBOSE_ENV] = "1"
    return env


def require_identity(files: ClusterFiles, host: str) -> None:
    """One line when this machine holds no certificate of the cluster yet."""
    missing = next((p for p in (files.ca_cert, files.cert, files.key) if not p.is_file()), None)
    if missing is not None:
        raise ClusterSetupError(
            f"this machine has not joined the cluster ({missing} is missing): get a token with "
            f"`shadowlens cluster token` on the daemon's machine, then run "
            f"`shadowlens worker --join {host} --token TOKEN`"
        )


def enrol(host: str, enrol_port: int, token: str, files: ClusterFiles, name: str) -> None:
    """Trade the one-time token for this machine's certificate, stored in ``files``."""
    from shadowlens.daemon.cluster.enrol import enrol_worker

    enrol_worker(host, enrol_port, token, files, name)


class SchedulerUnreachable(Exception):
    """Nothing answers at the scheduler's address yet: the daemon is down, or still starting."""


def check_scheduler(host: str, port: int, files: ClusterFiles, timeout: float = 5.0) -> None:
    """A TLS handshake with the scheduler, as the workers will make it: SchedulerUnreachable
    while nothing answers, one line (ClusterSetupError) when the certificates do not match,
    instead of `dask worker`'s 30 s of retries and a traceback."""
    where = tls_address(host, port).removeprefix("tls://")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # as Dask: the private CA, which signs only members, is the check
    context.load_verify_locations(files.ca_cert)
    context.load_cert_chain(files.cert, files.key)
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise SchedulerUnreachable(exc.strerror or str(exc) or type(exc).__name__) from None
    hint = "enrol again, with a new token from `shadowlens cluster token` on the daemon's machine"
    try:
        with context.wrap_socket(raw) as tls:
            # The scheduler speaks first; under TLS 1.3 a refused certificate arrives as an alert here.
            tls.recv(1)
    except TimeoutError:
        return
    except ssl.SSLCertVerificationError as exc:
        raise ClusterSetupError(
            f"the scheduler at {where} has a certificate this machine's CA did not sign "
            f"({exc.verify_message}): {hint}"
        ) from None
    except ssl.SSLError as exc:
        raise ClusterSetupError(
            f"the scheduler at {where} refused this machine's certificate ({exc.reason or exc}): {hint}"
        ) from None
    except OSError as exc:
        raise SchedulerUnreachable(exc.strerror or str(exc) or type(exc).__name__) from None
    finally:
        raw.close()


def wait_for_scheduler(
    host: str, port: int, files: ClusterFiles, say: Callable[[str], None], retry_seconds: float = 2.0
) -> None:
    """Return once the scheduler answers; a helper may well start before the daemon."""
    waiting = False
    while True:
        try:
            check_scheduler(host, port, files)
        except SchedulerUnreachable as exc:
            if not waiting:
                say(
                    f"waiting for the daemon's scheduler at {tls_address(host, port)} ({exc}): is [cluster] "
                    "listen set in the daemon's config, and the daemon running?"
                )
                waiting = True
            time.sleep(retry_seconds)
            continue
        if waiting:
            say("the daemon's scheduler answers: joining")
        return


def serve(
    host: str,
    port: int,
    files: ClusterFiles,
    argv: list[str],
    env: dict[str, str],
    say: Callable[[str], None],
) -> int:
    """Run the workers as long as this command runs, through restarts of the daemon: `dask
    worker` ends by itself when its scheduler goes away, and joins again once it is back."""
    while True:
        wait_for_scheduler(host, port, files, say)
        started = time.monotonic()
        code, stopped = run_worker(argv, env)
        if stopped:
            return code
        if code != 0 and time.monotonic() - started < QUICK_FAILURE_S:
            # It could not even start against a scheduler that answers: not a restart to wait out.
            return code
        # A scheduler that stops while a worker registers makes `dask worker` fail rather than end:
        # either way the daemon went away, and the workers join its next scheduler.
        say("the daemon's scheduler went away (the daemon stopped?); waiting for it to come back")


def run_worker(argv: list[str], env: dict[str, str]) -> tuple[int, bool]:
    """Run `dask worker` until it ends: its exit status, and whether a signal stopped it.

    It gets its own session, so a Ctrl-C in the terminal reaches only this process, which
    passes it on: `dask worker` then closes its workers (the scheduler gives their tasks to
    other workers), instead of every process printing a traceback.
    """
    proc: subprocess.Popen[bytes] | None = None
    stopping = False

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if proc is not None and proc.poll() is None:
            proc.send_signal(signum)

    # Handled from before the start, so that no signal finds this process without its child.
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        proc = subprocess.Popen(argv, env=env, start_new_session=True, stdin=subprocess.DEVNULL)
        if stopping:
            proc.terminate()
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc is not None and proc.poll() is None:  # failing for its own reasons: take it along
            proc.kill()
            proc.wait()
    if stopping and code in (0, -signal.SIGINT, -signal.SIGTERM):
        code = 0
    return code, stopping
