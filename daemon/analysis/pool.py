"""Running the pipeline on many files: in this process, or in a pool of worker processes.

Workers only read the index (to skip content that is already analysed); results come back
to the caller, whose Store is the one writer. A file that crashes a worker (a decoder bug on
a hostile file) is isolated and reported as that file's error; the others go on.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing.context import SpawnContext, SpawnProcess

from shadowlens.daemon.analysis.pipeline import KnownLookup, KnownSource, Pipeline
from shadowlens.daemon.analysis.plugins import build_detectors
from shadowlens.daemon.analysis.results import AnalysisResult
from shadowlens.daemon.config import Config
from shadowlens.models.sessions import WORKERS_ENV

_pipeline: Pipeline | None = None
PR_SET_PDEATHSIG = 1
CRASH_MESSAGE = "crashed the decoder (the worker process died); the file is probably malformed"


def build_pipeline(config: Config, known: KnownLookup | None) -> Pipeline:
    return Pipeline(config, build_detectors(config), known)


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive a daemon killed with SIGKILL (or by the OOM killer)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request above took effect
        os._exit(1)


class _QuietProcess(SpawnProcess):
    """A worker that a Ctrl-C in the terminal cannot interrupt.

    The terminal sends SIGINT to the whole foreground process group, workers included, but the
    daemon decides when they stop. The signal is blocked while the child is spawned (the mask
    survives fork and exec), so it cannot land while the child is still importing; the
    initializer then ignores it for good.
    """

    def start(self) -> None:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            super().start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _QuietContext(SpawnContext):
    Process = _QuietProcess


def _init_worker(config: Config, known_source: KnownSource | None, parent: int) -> None:
    global _pipeline
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Ignored now, so a Ctrl-C that arrived during start-up is dropped here, not delivered.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _die_with_parent(parent)
    from shadowlens.models.sessions import start_idle_reaper

    # Models unload after their idle TTL, so an idle daemon's workers stay small.
    start_idle_reaper()
    _pipeline = build_pipeline(config, known_source() if known_source else None)


class WorkerStartError(RuntimeError):
    """The worker processes cannot start at all: a setup problem, not a problem with any photo."""


def _ping() -> bool:
    return _pipeline is not None


def start_pool(config: Config, known_source: KnownSource | None, workers: int) -> ProcessPoolExecutor:
    """A pool whose workers are proven to start, so a later crash can be blamed on a file."""
    # Spawned workers inherit this and size their onnxruntime thread pools to share the cores.
    os.environ[WORKERS_ENV] = str(workers)
    try:
        pool = ProcessPoolExecutor(
            workers,
            mp_context=_QuietContext(),
            initializer=_init_worker,
            initargs=(config, known_source, os.getpid()),
        )
    except OSError as exc:  # semaphores or the resource tracker unavailable
        raise WorkerStartError(f"worker processes could not start: {exc}") from None
    try:
        pool.submit(_ping).result()
    except (BrokenProcessPool, OSError) as exc:
        pool.shutdown(cancel_futures=True)
        raise WorkerStartError(
            f"worker processes could not start ({exc}); see any error printed above"
        ) from None
    except BaseException:
        end_pool(pool)
        raise
    return pool


def end_pool(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now, whatever they are doing; their jobs are the caller's to account for."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    # Waiting (the workers are already ended, so it is quick) lets the pool's manager thread
    # close its wake-up pipe before interpreter exit; otherwise CPython 3.11's exit hook can
    # race it and print an EBADF traceback as the process stops.
    pool.shutdown(wait=True, cancel_futures=True)


def _work(paths: list[str], force: bool) -> list[AnalysisResult]:
    assert _pipeline is not None, "worker not initialised"
    return _pipeline.analyse(paths, force=force)


@contextmanager
def _ended_on_error(pool: ProcessPoolExecutor) -> Iterator[ProcessPoolExecutor]:
    """Shut down normally, but end the workers at once on Ctrl-C or when the caller stops early:
    they ignore SIGINT and would otherwise finish their batches first."""
    try:
        yield pool
    except BaseException:
        end_pool(pool)
        raise
    pool.shutdown(wait=True)


def _batches(paths: Sequence[str], size: int) -> list[list[str]]:
    return [list(paths[i : i + size]) for i in range(0, len(paths), size)]


def analyse_paths(
    paths: Sequence[str],
    config: Config,
    *,
    known: KnownLookup | None,
    known_source: KnownSource | None,
    workers: int,
    force: bool = False,
) -> Iterator[AnalysisResult]:
    """Yield a result for every path, in completion order."""
    batch_size = config.scan.batch_size
    batches = _batches(paths, batch_size)
    workers = max(1, min(workers, len(batches)))
    if workers == 1:
        pipeline = build_pipeline(config, known)
        try:
            for batch in batches:
                yield from pipeline.analyse(batch, force=force)
        finally:
            pipeline.close()
        return
    yield from _pooled(batches, config, known_source, workers, force)


def _pooled(
    batches: list[list[str]], config: Config, known_source: KnownSource | None, workers: int, force: bool
) -> Iterator[AnalysisResult]:
    pending = list(reversed(batches))
    suspects: list[str] = []  # paths whose batch was in flight when a worker died
    while pending or suspects:
        # After a crash, suspects run one at a time, alone, so only the culprit is blamed.
        isolate = bool(suspects)
        queue = [[p] for p in reversed(suspects)] if isolate else pending
        suspects = []
        limit = 1 if isolate else workers * 2
        with _ended_on_error(start_pool(config, known_source, 1 if isolate else workers)) as pool:
            in_flight: dict[Future[list[AnalysisResult]], list[str]] = {}
            broken = False
            while (queue or in_flight) and not broken:
                # Back-pressure: a bounded number of batches in flight, whatever the queue length.
                while queue and len(in_flight) < limit and not broken:
                    batch = queue.pop()
                    try:
                        in_flight[pool.submit(_work, batch, force)] = batch
                    except BrokenProcessPool:
                        queue.append(batch)
                        broken = True
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    batch = in_flight.pop(future)
                    try:
                        results = future.result()
                    except BrokenProcessPool:
                        broken = True
                        if isolate:
                            yield AnalysisResult(path=batch[0], file_error=CRASH_MESSAGE)
                        else:
                            suspects.extend(batch)
                        continue
                    except Exception as exc:  # a bug, not the file: report it and go on
                        message = f"internal error during analysis: {type(exc).__name__}: {exc}"
                        yield from (AnalysisResult(path=p, file_error=message[:300]) for p in batch)
                        continue
                    yield from results
            for batch in in_flight.values():
                suspects.extend(batch)
            if isolate:
                # Whatever was not reached yet keeps its place for the next round.
                suspects.extend(p for batch in reversed(queue) for p in batch)
