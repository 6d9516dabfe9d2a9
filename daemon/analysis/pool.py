"""The worker processes that run jobs: one pool for the daemon, `shadowlens scan` and the
daemon's safe copies.

Each worker builds the detectors once and keeps their models for every job it runs, whatever
the job's kind. Jobs run on the worker's main thread, where each detector's time limit (SIGALRM)
can stop it. Workers only read the index (to skip content that is already analysed); results go
back to the caller, whose Store is the one writer. Feeding jobs to a pool, back-pressure, crash
isolation and stopping an idle pool are the dispatcher's (``library/dispatcher.py``).

The daemon imports this module but must stay small while idle, so nothing here imports the
pipeline, the detectors or their libraries until a worker (or an ``InlinePool``) needs them.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import resource_tracker, synchronize
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from shadowlens.daemon.analysis.results import AnalysisResult
from shadowlens.daemon.analysis.signature import DetectorVersion
from shadowlens.daemon.config import Config
from shadowlens.models.sessions import WORKERS_ENV

if TYPE_CHECKING:
    from shadowlens.daemon.analysis.pipeline import KnownLookup, KnownSource, Pipeline

PR_SET_PDEATHSIG = 1
CRASH_MESSAGE = "crashed the decoder (the worker process died); the file is probably malformed"
P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Worker:
    """What a worker holds between jobs: its config and its pipeline (with the loaded models)."""

    config: Config
    pipeline: Pipeline


_worker: Worker | None = None


def this_worker() -> Worker:
    """The worker this job runs in, for job kinds that use its models (the safe copies)."""
    assert _worker is not None, "not in a worker: start_pool or start_inline first"
    return _worker


def analyse(paths: list[str]) -> list[AnalysisResult]:
    """The analysis job: a result for each path, in order."""
    from shadowlens.models.sessions import release_heap

    try:
        return this_worker().pipeline.analyse(paths)
    finally:
        # A photo's buffers (decodes at several sizes, the HOG pyramid, OCR crops) are freed in
        # a scattered heap that glibc keeps; trimmed after each job, a worker's peak is one
        # photo's worth above its models, not that plus every earlier photo's leftovers (a few
        # ms a job, against about 300 ms of analysis).
        release_heap()


def build_pipeline(config: Config, known: KnownLookup | None) -> Pipeline:
    from shadowlens.daemon.analysis.pipeline import Pipeline
    from shadowlens.daemon.analysis.plugins import build_detectors

    return Pipeline(config, build_detectors(config), known)


def die_with_parent(parent: int) -> None:
    """A child must not outlive a daemon killed with SIGKILL (or by the OOM killer)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request above took effect
        os._exit(1)


class _QuietProcess(SpawnProcess):
    """A child that a Ctrl-C in the terminal cannot interrupt.

    The terminal sends SIGINT to the whole foreground process group, workers included, but the
    daemon (or the scan) decides when they stop. The signal is blocked while the child is
    spawned (the mask survives fork and exec), so it cannot land while the child is still
    importing; ``ignore_ctrl_c`` then ignores it for good.
    """

    def start(self) -> None:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            super().start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class QuietContext(SpawnContext):
    """Spawned children that ignore the terminal's Ctrl-C (with ``ignore_ctrl_c`` first thing)."""

    Process = _QuietProcess


def ignore_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Ignored now, so a Ctrl-C that arrived during start-up is dropped here, not delivered.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _init_worker(config: Config, known_source: KnownSource | None, parent: int) -> None:
    global _worker
    ignore_ctrl_c()
    die_with_parent(parent)
    from shadowlens.models.sessions import start_idle_reaper

    # Models unload after their idle TTL, so a worker kept busy by rare photos stays small.
    start_idle_reaper()
    _worker = Worker(config, build_pipeline(config, known_source() if known_source else None))


class WorkerStartError(RuntimeError):
    """The worker processes cannot start at all: a setup problem, not a problem with any photo."""


def _describe() -> list[DetectorVersion]:
    """The first job of a pool: proves a worker starts, and says which detectors it built."""
    return [DetectorVersion(d.name, d.version) for d in this_worker().pipeline.detectors]


class WorkerPool(ProcessPoolExecutor):
    """Worker processes that announce themselves: their first job (``described``) says which
    detectors (and models) they built, so the daemon's analysis signature always matches what
    its workers store. It is submitted at once; until it is answered, the pool is starting."""

    def __init__(self, config: Config, known_source: KnownSource | None, workers: int) -> None:
        super().__init__(
            workers,
            mp_context=QuietContext(),
            initializer=_init_worker,
            initargs=(config, known_source, os.getpid()),
        )
        try:
            self.described: Future[list[DetectorVersion]] = self.submit(_describe)
        except BaseException:  # the first worker's spawn failed (EAGAIN, Ctrl-C)
            self.shutdown(wait=False, cancel_futures=True)
            raise

    def detectors(self, timeout: float | None = None) -> list[DetectorVersion]:
        """What the workers run, once one has started; WorkerStartError if none can."""
        try:
            return self.described.result(timeout)
        except (BrokenProcessPool, OSError) as exc:
            raise WorkerStartError(
                f"worker processes could not start ({exc}); see any error printed above"
            ) from None


def launch_pool(config: Config, known_source: KnownSource | None, workers: int) -> WorkerPool:
    """A pool whose workers are starting: it returns at once (the daemon keeps its loop going
    meanwhile). Jobs should wait for ``described``, so that a later crash is a file's fault."""
    # Spawned workers inherit this and size their onnxruntime thread pools to share the cores.
    os.environ[WORKERS_ENV] = str(workers)
    try:
        return WorkerPool(config, known_source, workers)
    except OSError as exc:  # semaphores or the resource tracker unavailable
        raise WorkerStartError(f"worker processes could not start: {exc}") from None


def start_pool(config: Config, known_source: KnownSource | None, workers: int) -> WorkerPool:
    """A pool whose workers are proven to start, so a later crash can be blamed on a file."""
    pool = launch_pool(config, known_source, workers)
    try:
        pool.detectors()
    except WorkerStartError:
        pool.shutdown(cancel_futures=True)
        raise
    except BaseException:
        end_pool(pool)
        raise
    return pool


class InlinePool(Executor):
    """One worker without a process: each job runs at once, on the calling (main) thread, so
    the time limits still apply. It saves a process start where that dominates (one worker,
    tests), but a file that kills it kills the caller: the queue then counts the attempt when
    the caller's job is recovered."""

    def __init__(self, config: Config, known: KnownLookup | None) -> None:
        global _worker
        self._previous = _worker
        _worker = Worker(config, build_pipeline(config, known))

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # as a worker reports it; Ctrl-C still reaches the caller
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        global _worker
        if _worker is not None and _worker is not self._previous:
            _worker.pipeline.close()
            _worker = self._previous


def end_pool(pool: Executor) -> None:
    """Stop the workers now, whatever they are doing; their jobs are the caller's to account for."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    # Waiting (the workers are already ended, so it is quick) lets the pool's manager thread
    # close its wake-up pipe before interpreter exit; otherwise CPython 3.11's exit hook can
    # race it and print an EBADF traceback as the process stops.
    pool.shutdown(wait=True, cancel_futures=True)


def release_resource_tracker() -> bool:
    """Stop multiprocessing's resource tracker, a 13 MB process of its own, once nothing needs it.

    Every spawn starts the tracker, and it would otherwise run as long as the daemon. It only
    guards named semaphores, so it may go once no child runs and no semaphore is left: the
    pool's die with it (``end_pool`` then a collection). The next spawn starts it again.
    Returns whether it was stopped.
    """
    if multiprocessing.active_children():
        return False
    gc.collect()  # the ended pool's queues are in reference cycles
    if any(isinstance(thing, synchronize.SemLock) for thing in gc.get_objects()):
        return False
    # Private, but present from 3.8 on (and what the standard library's own tests call).
    stop = getattr(resource_tracker._resource_tracker, "_stop", None)
    if stop is None:
        return False
    stop()
    return True
