"""Feeding queued jobs to the worker processes, with back-pressure and crash isolation.

At most two jobs per worker are in flight, whatever the length of the queue: the rest wait
as rows in SQLite, so a 5,000-photo sync dump costs disk, not memory. When a worker dies,
every job then in flight is re-run alone, so only the file that kills a worker is blamed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from shadowlens.daemon.analysis.pool import CRASH_MESSAGE, _work, end_pool, start_pool
from shadowlens.daemon.analysis.results import AnalysisResult
from shadowlens.daemon.config import Config
from shadowlens.daemon.index.queue import Claimed, JobQueue
from shadowlens.daemon.index.reads.queries import signature_source

log = logging.getLogger(__name__)
Finished = Callable[[Claimed, AnalysisResult | None, str], None]
DRAIN_SLICE = 0.1


class Dispatcher:
    def __init__(
        self,
        config: Config,
        queue: JobQueue,
        index_path: Path,
        workers: int,
        on_finished: Finished | None = None,
    ) -> None:
        self.config = config
        self.queue = queue
        self.index_path = index_path
        self.workers = workers
        self.on_finished = on_finished or (lambda _job, _result, _state: None)
        self.name = f"pid{os.getpid()}"
        self.pool: ProcessPoolExecutor | None = None
        self.in_flight: dict[Future[list[AnalysisResult]], Claimed] = {}
        self.suspects: deque[Claimed] = deque()
        self.isolating: Claimed | None = None

    @property
    def busy(self) -> int:
        return len(self.in_flight) + len(self.suspects)

    def pump(self, timeout: float, accept_new: bool = True) -> int:
        """Submit what fits, wait up to ``timeout`` for results, and record them. Returns jobs finished."""
        self._submit(accept_new)
        if not self.in_flight:
            return 0
        done, _ = wait(self.in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
        finished, broken = 0, False
        for future in done:
            job = self.in_flight.pop(future)
            try:
                results = future.result()
            except BrokenProcessPool:
                broken = True
                if job is self.isolating:
                    self._record(job, None, self.queue.fail(job, CRASH_MESSAGE))
                    finished += 1
                else:
                    self.suspects.append(job)
                continue
            except Exception as exc:  # a bug in shadowlens, not in the photo: retry, then park
                self._record(job, None, self.queue.fail(job, f"internal error: {type(exc).__name__}: {exc}"))
                finished += 1
                continue
            if job is self.isolating:
                self.isolating = None
            self._record(job, results[0], self.queue.finish(job, results[0]))
            finished += 1
        if broken:
            self._restart_after_crash()
        return finished

    def _submit(self, accept_new: bool) -> None:
        if self.pool is None:
            self.pool = start_pool(self.config, signature_source(self.index_path), self.workers)
            # Starting took seconds: the caller checks for a stop or a pause before work is claimed.
            return
        if self.suspects or self.isolating:
            if not self.in_flight and self.suspects:
                self.isolating = self.suspects.popleft()
                self._send(self.isolating)
            return
        if not accept_new:
            return
        for job in self.queue.claim(self.workers * 2 - len(self.in_flight), self.name):
            self._send(job)

    def _send(self, job: Claimed) -> None:
        assert self.pool is not None
        try:
            self.in_flight[self.pool.submit(_work, [job.path], False)] = job
        except BrokenProcessPool:
            self.suspects.append(job)

    def _restart_after_crash(self) -> None:
        # Every job still in flight died with the pool; each is re-run alone.
        self.suspects.extend(self.in_flight.values())
        self.in_flight.clear()
        self.isolating = None
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool = None
        log.warning(
            "a worker process died; re-running %d photo(s) one at a time to find the cause",
            len(self.suspects),
        )

    def _record(self, job: Claimed, result: AnalysisResult | None, state: str) -> None:
        self.on_finished(job, result, state)

    def drain(self, timeout: float, hurry: threading.Event | None = None) -> tuple[int, int]:
        """On shutdown: let in-flight jobs finish within ``timeout``, or until ``hurry`` is set;
        the rest go back to the queue. Returns how many finished and how many were requeued."""
        finished, unfinished = 0, list(self.suspects)
        deadline = time.monotonic() + timeout
        while self.in_flight and not (hurry is not None and hurry.is_set()):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            # Short waits, so that a second Ctrl-C is honoured at once rather than after the timeout.
            done, _ = wait(self.in_flight, timeout=min(left, DRAIN_SLICE), return_when=FIRST_COMPLETED)
            for future in done:
                job = self.in_flight.pop(future)
                try:
                    result = future.result()[0]
                except Exception:
                    unfinished.append(job)
                    continue
                self._record(job, result, self.queue.finish(job, result))
                finished += 1
        requeued = [*self.in_flight.values(), *unfinished]
        self.queue.release(requeued)
        self.in_flight.clear()
        self.suspects.clear()
        self.isolating = None
        return finished, len(requeued)

    def close(self) -> None:
        if self.pool is not None:
            # Workers still busy on released jobs are ended, not waited for.
            end_pool(self.pool)
            self.pool = None
