"""The dispatcher's worker pool over time: launched when there is work, proven before it takes
jobs, ended after ``idle_seconds`` without any.

The daemon's workers hold every model, hundreds of MB each, and photos arrive in bursts hours
apart, so an idle daemon ends them and starts new ones with the next job. A ``WorkerPool`` is
launched in the background: the dispatcher asks ``wait_started`` in slices, so its caller's loop
(heartbeats, watchdog pings, stop signals) goes on while the workers import and build their
detectors, and no job reaches a pool before one of its workers has proven that it starts (a
crash after that is a file's fault, not a setup problem).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, wait

from shadowlens.daemon import clock
from shadowlens.daemon.analysis.pool import (
    InlinePool,
    WorkerPool,
    WorkerStartError,
    end_pool,
    release_resource_tracker,
)
from shadowlens.daemon.analysis.signature import DetectorVersion
from shadowlens.models.sessions import release_heap

log = logging.getLogger(__name__)
# (what the started workers run, seconds they took to start)
Started = Callable[[list[DetectorVersion], float], None]


class PoolKeeper:
    def __init__(
        self,
        start: Callable[[], Executor],
        workers: int,
        idle_seconds: float | None = None,
        on_started: Started | None = None,
    ) -> None:
        """``start`` makes the pool (``launch_pool``, ``start_pool`` or an ``InlinePool``);
        ``idle_seconds`` (None: never) ends it after that long without a job; ``on_started``
        hears what each ``WorkerPool``'s workers run, once they are up."""
        self.start = start
        self.workers = workers
        self.idle_seconds = idle_seconds
        self.on_started = on_started or (lambda _detectors, _seconds: None)
        self.pool: Executor | None = None
        # Whether the pool's workers proved they start: only then may jobs go to it.
        self.ready = False
        self.limit = workers * 2
        self.launched_at = self.active_at = clock.monotonic()  # active: the pool's last job

    @property
    def starting(self) -> bool:
        """A pool was launched and its workers are not up yet."""
        return self.pool is not None and not self.ready

    def launch(self) -> Executor:
        """The pool, launched now if none runs (a ``WorkerPool``'s workers may still be starting)."""
        if self.pool is None:
            self.pool, self.ready = self.start(), False
            # One job at a time in process: results are recorded as soon as they exist.
            self.limit = 1 if isinstance(self.pool, InlinePool) else self.workers * 2
            self.launched_at = clock.monotonic()
        return self.pool

    def wait_started(self, timeout: float) -> bool:
        """Whether the pool may take jobs, after waiting up to ``timeout`` for its workers.
        Raises WorkerStartError, with the pool ended, if they cannot start."""
        pool = self.pool
        if self.ready or pool is None:
            return self.ready
        if isinstance(pool, WorkerPool):
            if not wait([pool.described], timeout).done:
                return False
            try:
                detectors = pool.detectors()
            except WorkerStartError:
                self.pool = None
                pool.shutdown(cancel_futures=True)
                raise
            self.on_started(detectors, clock.monotonic() - self.launched_at)
        self.ready = True
        self.busy()
        return True

    def busy(self) -> None:
        """The pool has work now: its idle time starts again from here."""
        self.active_at = clock.monotonic()

    def stop_if_idle(self) -> None:
        """End the workers once the pool has had no job for ``idle_seconds``. The caller has
        nothing in flight, so terminating them loses nothing, and a worker that hangs on exit
        cannot hold the caller up."""
        if self.pool is None or not self.ready or self.idle_seconds is None:
            return
        idle = clock.monotonic() - self.active_at
        if idle < self.idle_seconds:
            return
        self.close()
        # The tracker is a process of its own (13 MB); with the workers gone nothing needs it.
        kept = "" if release_resource_tracker() else " (multiprocessing's resource tracker kept)"
        release_heap()
        log.info(
            "worker processes stopped after %.0f s without work%s; the next photo starts them", idle, kept
        )

    def discard(self) -> None:
        """Forget a pool whose worker died: its other workers finish nothing more of ours."""
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        self.pool, self.ready = None, False

    def close(self) -> None:
        if self.pool is not None:
            # Workers still busy on released jobs are ended, not waited for.
            end_pool(self.pool)
        self.pool, self.ready = None, False
