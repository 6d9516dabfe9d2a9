"""Feeding queued jobs to the worker pool, with back-pressure and crash isolation.

The daemon and `shadowlens scan` both run their jobs through a Dispatcher. At most two batches
per worker are in flight, whatever the length of the queue: the rest wait as rows in SQLite,
so a 5,000-photo sync dump costs disk, not memory. When a worker dies, every job then in flight
is re-run alone, so only the file that kills a worker is blamed, and that job runs alone on its
later attempts too, until the queue parks it.

The pool starts when there is work and may stop when idle (``pool_keeper.py``). Jobs stay rows
in the queue until a started pool takes them, so one queued while the pool stops or starts is
taken by the next pool; which jobs killed a worker is remembered here, across pools.

With a cluster (``remote``, daemon/cluster/remote.py), analysis batches also go to the joined
workers, two for each of their threads, before the local pool takes the rest. A batch the
cluster could not finish (its workers all left, or died on it, or cannot read it) goes to the
local pool's backlog, never back to the cluster: the local pool runs it, and blames the file
that kills a worker as it does for its own crashes.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import Any

from shadowlens.daemon import clock
from shadowlens.daemon.analysis.pool import CRASH_MESSAGE, analyse
from shadowlens.daemon.cluster.remote import NotOnWorker, OtherModels, RemoteCrash, RemoteWorkers, WorkersGone
from shadowlens.daemon.index.queue import EVERY_JOB, Claimed, JobQueue, Scope
from shadowlens.daemon.index.schema import JobState
from shadowlens.daemon.library.pool_keeper import PoolKeeper, Started

log = logging.getLogger(__name__)
# (job, its outcome or None when it failed in the pool, the job's new state, why it failed)
Finished = Callable[[Claimed, Any, JobState, str | None], None]
Batch = list[Claimed]
DRAIN_SLICE = 0.1


@dataclass(frozen=True)
class Work:
    """One kind of job. ``run`` takes a batch of paths in a worker and returns one outcome per
    path; it is pickled by reference (a module-level function, or a partial of one). ``record``
    stores an outcome in the caller's process and returns the job's new state."""

    run: Callable[[list[str]], list[Any]]
    record: Callable[[Claimed, Any], JobState]


class Dispatcher:
    def __init__(
        self,
        queue: JobQueue,
        start: Callable[[], Executor],
        workers: int,
        *,
        on_finished: Finished | None = None,
        safe_copies: Work | None = None,
        scope: Scope = EVERY_JOB,
        batch_size: int = 1,
        idle_seconds: float | None = None,
        on_started: Started | None = None,
        remote: RemoteWorkers | None = None,
    ) -> None:
        """``start`` makes the pool when there is work; ``idle_seconds`` and ``on_started`` are
        the ``PoolKeeper``'s; ``remote``, the cluster's workers, may also be set later."""
        self.queue = queue
        self.keeper = PoolKeeper(start, workers, idle_seconds, on_started)
        self.on_finished = on_finished or (lambda _job, _outcome, _state, _error: None)
        self.analysis = Work(analyse, queue.finish)
        self.safe_copies = safe_copies
        self.scope = scope if safe_copies else replace(scope, safe_copies=False)
        self.batch_size = batch_size
        self.in_flight: dict[Future[list[Any]], Batch] = {}
        self.suspects: deque[Claimed] = deque()
        self.isolating: Claimed | None = None
        # Jobs that killed a worker when they ran alone: on a later attempt they run alone again.
        self.crashed: set[int] = set()
        self.unrecorded: Batch = []
        self.remote = remote
        # False: while any cluster worker is joined, the local pool takes no new jobs.
        self.local_while_joined = True
        self.remote_flight: set[Future[list[Any]]] = set()
        # Claimed jobs the cluster handed back: only the local pool runs them.
        self.local_backlog: deque[Claimed] = deque()

    @property
    def busy(self) -> int:
        return sum(len(batch) for batch in self.in_flight.values()) + len(self.suspects)

    @property
    def starting(self) -> bool:
        return self.keeper.starting

    def pump(self, timeout: float, accept_new: bool = True) -> int:
        """Submit what fits, wait up to ``timeout`` for results, and record them. Returns jobs
        finished. While the pool starts, it waits up to ``timeout`` for its workers instead."""
        self._submit_remote(accept_new)
        if self.keeper.starting and not self.keeper.wait_started(0 if self.remote_flight else timeout):
            if not self.in_flight:
                return 0
        else:
            self._submit(accept_new)
        if not self.in_flight:
            if not (self.suspects or self.unrecorded or self.local_backlog):
                self.keeper.stop_if_idle()
            return 0
        self.keeper.busy()
        alone = self.isolating
        done, _ = wait(self.in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
        finished, broken = self._collect(done)
        for batch in broken:
            if alone is not None and batch == [alone]:
                # It killed a worker with nothing else in flight: the crash is this file's.
                self.crashed.add(alone.id)
                self._failed(alone, CRASH_MESSAGE)
                finished += 1
            else:
                self.suspects.extend(batch)
        if broken:
            self._restart_after_crash()
        return finished

    def start_now(self) -> None:
        """Launch the pool and wait until its workers are up (the daemon, at start-up)."""
        self.keeper.launch()
        while not self.keeper.wait_started(1.0):
            pass

    def _submit(self, accept_new: bool) -> None:
        if not self.local_while_joined and self.remote is not None and self.remote.threads:
            accept_new = False  # the joined workers take the queue; the pool keeps what is its own
        if self.keeper.pool is None:
            # Jobs to retry alone, or (unless paused) queued jobs: only then is a pool worth its start.
            if not (self.suspects or self.local_backlog or (accept_new and self.queue.waiting(self.scope))):
                return
            self.keeper.launch()
        if not self.keeper.wait_started(0):
            return  # the next pumps wait for its workers
        if self.suspects or self.isolating:
            # Alone, with nothing else in flight, so that a crash can only be this job's.
            if len(self.in_flight) == len(self.remote_flight) and self.suspects:
                self.isolating = self.suspects.popleft()
                self._send_all([[self.isolating]])
            return
        free = self.keeper.limit - (len(self.in_flight) - len(self.remote_flight))
        if self.local_backlog and free > 0:
            taken = [
                self.local_backlog.popleft()
                for _ in range(min(len(self.local_backlog), free * self.batch_size))
            ]
            batches = list(self._batches(taken))
            self._send_all(batches)
            free -= len(batches)
        if not accept_new or free <= 0:
            return
        jobs = self.queue.claim(free * self.batch_size, self.scope)
        self.suspects.extend(job for job in jobs if job.id in self.crashed)
        self._send_all(list(self._batches([job for job in jobs if job.id not in self.crashed])))

    def _submit_remote(self, accept_new: bool) -> None:
        """Analysis batches to the cluster's free threads; never a job that runs alone."""
        if self.remote is None:
            return
        self.remote.refresh()
        free = self.remote.free()
        if not accept_new or free <= 0 or self.suspects or self.isolating:
            return
        jobs = self.queue.claim(free * self.batch_size, replace(self.scope, safe_copies=False))
        self.suspects.extend(job for job in jobs if job.id in self.crashed)
        for batch in self._batches([job for job in jobs if job.id not in self.crashed]):
            try:
                future = self.remote.submit([job.path for job in batch])
            except Exception as exc:  # the scheduler went away between refresh and submit
                log.warning("the cluster took no work (%s); the local pool will", exc)
                self.queue.release(batch)
                continue
            self.in_flight[future] = batch
            self.remote_flight.add(future)

    def _batches(self, jobs: list[Claimed]) -> Iterator[Batch]:
        # A batch is of one kind: one worker call runs it.
        for kind in (True, False):
            same = [job for job in jobs if job.reason.analyses is kind]
            for start in range(0, len(same), self.batch_size):
                yield same[start : start + self.batch_size]

    def _work(self, job: Claimed) -> Work:
        if job.reason.analyses:
            return self.analysis
        assert self.safe_copies is not None, "claimed a safe copy without a way to make it"
        return self.safe_copies

    def _send_all(self, batches: list[Batch]) -> None:
        pool = self.keeper.pool
        assert pool is not None
        pending = deque(batches)
        try:
            while pending:
                try:
                    future = pool.submit(self._work(pending[0][0]).run, [job.path for job in pending[0]])
                except BrokenProcessPool:  # a worker died since the last results came in
                    self.suspects.extend(job for batch in pending for job in batch)
                    pending.clear()
                    self._restart_after_crash()
                    return
                self.in_flight[future] = pending.popleft()
        except BaseException:
            # Ctrl-C during an in-process job: what was not sent goes back to the queue.
            self.queue.release(job for batch in pending for job in batch)
            raise

    def _collect(self, done: set[Future[list[Any]]]) -> tuple[int, list[Batch]]:
        """Record the results of finished futures; returns how many jobs finished, and the
        batches whose worker died."""
        finished, broken = 0, list[Batch]()
        for future in done:
            batch = self.in_flight.pop(future)
            self.remote_flight.discard(future)
            if self.isolating is not None and batch == [self.isolating]:
                self.isolating = None
            try:
                finished += self._record(future, batch, broken)
            except BaseException:
                # Ctrl-C meanwhile: what is not recorded goes back to the queue (release leaves
                # the jobs already closed alone).
                self.unrecorded += batch
                raise
        return finished, broken

    def _record(self, future: Future[list[Any]], batch: Batch, broken: list[Batch]) -> int:
        try:
            outcomes = future.result()
        except BrokenProcessPool:
            broken.append(batch)
            return 0
        except (RemoteCrash, NotOnWorker, WorkersGone, OtherModels) as exc:
            log.warning("the cluster did not analyse %d photo(s) (%s); the local pool will", len(batch), exc)
            self.local_backlog.extend(batch)
            return 0
        except Exception as exc:  # a bug in shadowlens, not in the photo: retry, then park
            for job in batch:
                self._failed(job, f"internal error: {type(exc).__name__}: {exc}"[:300])
            return len(batch)
        for job, outcome in zip(batch, outcomes, strict=True):
            self.on_finished(job, outcome, self._work(job).record(job, outcome), None)
        return len(batch)

    def _failed(self, job: Claimed, error: str) -> None:
        self.on_finished(job, None, self.queue.fail(job, error), error)

    def _restart_after_crash(self) -> None:
        # Every job still in flight in the pool died with it; each is re-run alone. The cluster's
        # batches are not the pool's: they go on.
        for future, batch in list(self.in_flight.items()):
            if future not in self.remote_flight:
                self.suspects.extend(batch)
                del self.in_flight[future]
        self.isolating = None
        self.keeper.discard()
        if self.suspects:
            log.warning(
                "a worker process died; re-running %d job(s) one at a time to find the cause",
                len(self.suspects),
            )

    def drain(self, timeout: float, hurry: threading.Event | None = None) -> tuple[int, int]:
        """On a stop: record what is already done, let in-flight jobs finish within ``timeout``
        (or until ``hurry`` is set), and put the rest back in the queue. Returns how many
        finished and how many were requeued."""
        finished, unfinished = 0, [*self.suspects, *self.unrecorded, *self.local_backlog]
        deadline = clock.monotonic() + timeout
        while self.in_flight:
            left = max(0.0, deadline - clock.monotonic())
            # Short waits, so that a second Ctrl-C is honoured at once rather than after the timeout.
            done, _ = wait(self.in_flight, timeout=min(left, DRAIN_SLICE), return_when=FIRST_COMPLETED)
            count, broken = self._collect(done)
            finished += count
            unfinished += [job for batch in broken for job in batch]
            if left <= 0 or (hurry is not None and hurry.is_set()):
                break
        requeued = [*(job for batch in self.in_flight.values() for job in batch), *unfinished]
        self.queue.release(requeued)
        self.in_flight.clear()
        self.remote_flight.clear()
        self.suspects.clear()
        self.unrecorded.clear()
        self.local_backlog.clear()
        self.isolating = None
        return finished, len(requeued)

    def close(self) -> None:
        self.keeper.close()
        if self.remote is not None:
            self.remote.close()
