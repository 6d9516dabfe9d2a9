"""The watch daemon: watcher -> durable queue -> worker pool -> index, crash-safe.

Start-up puts jobs a crash left running back in the queue, reconciles the folders with the
index, then watches. It runs until SIGTERM/SIGINT (Ctrl-C), when in-flight photos get a few
seconds to finish and the rest are queued again for the next start; a second signal stops
without waiting.

The daemon never builds a detector or loads a model: its workers do, and say which they built
(the analysis signature). They stop after ``watch.pool_idle_seconds`` without a job and start
again with the next one (``library/pool_keeper.py``), so an idle daemon is one small process.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TextIO

from apscheduler.schedulers.background import BackgroundScheduler
from shadowlens.daemon import clock
from shadowlens.daemon.analysis.plugins import discover
from shadowlens.daemon.analysis.pool import launch_pool
from shadowlens.daemon.analysis.results import AnalysisResult
from shadowlens.daemon.analysis.signature import DetectorVersion, analysis_signature
from shadowlens.daemon.analysis.states import DetectorState
from shadowlens.daemon.config import Config
from shadowlens.daemon.index.queue import Claimed, JobQueue
from shadowlens.daemon.index.reads.queries import signature_source
from shadowlens.daemon.index.schema import Job, JobReason, JobState
from shadowlens.daemon.index.state import DaemonLock, is_paused
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.library.changes import current_stat, plan, unchanged
from shadowlens.daemon.library.dispatcher import Dispatcher
from shadowlens.daemon.library.regions import with_library_regions
from shadowlens.daemon.library.walk import looks_like_photo
from shadowlens.daemon.paths import app_paths
from shadowlens.daemon.profile import apart
from shadowlens.daemon.scrub.job import safe_copy_work
from shadowlens.daemon.scrub.twin import SafeCopies
from shadowlens.daemon.service.announce import detector_states, say, start_lines
from shadowlens.daemon.service.catchup import CatchUp
from shadowlens.daemon.service.cluster_link import ClusterLink
from shadowlens.daemon.service.power import on_battery
from shadowlens.daemon.service.schedule import ProfileJobs
from shadowlens.daemon.service.sdnotify import Notifier
from shadowlens.daemon.service.watcher import FolderWatcher, Settler
from sqlalchemy import select

log = logging.getLogger(__name__)
TICK = 0.25
HEARTBEAT_EVERY = 1.0
FORGET_EVERY = 5.0


class _Interrupted(BaseException):
    """A stop signal during start-up, which has no point of its own at which to check for one."""


class Daemon:
    def __init__(
        self,
        config: Config,
        index_path: Path,
        state_dir: Path,
        folders: Sequence[Path],
        workers: int | None = None,
        bar_stream: TextIO | None = None,
    ) -> None:
        """``bar_stream`` is a terminal to draw the catch-up bar on; without one, status lines."""
        # the library's countries for phone numbers without GPS (library/regions.py)
        config = with_library_regions(config, index_path, set(discover()))
        self.config = config
        self.index_path = index_path
        self.folders = [Path(os.path.abspath(f)) for f in folders]
        self.store = Store.open(index_path)
        self.queue = JobQueue(self.store, config.watch.max_attempts)
        self.workers = workers or config.scan.effective_workers()
        self.lock = DaemonLock(state_dir)
        self.notifier = Notifier()
        self.settler = Settler(config.watch.settle_seconds)
        # Both come from the pool's workers when they start (``_pool_started``), before the first walk.
        self.signature = ""
        self.detector_states: list[DetectorState] = []
        self.safe_copies = SafeCopies(config)
        self.dispatcher = Dispatcher(
            self.queue,
            functools.partial(launch_pool, config, signature_source(index_path), self.workers),
            self.workers,
            on_finished=self._finished,
            # Always: copies queued before a twin folder was removed from the config end as no-ops.
            safe_copies=safe_copy_work(self.queue, index_path),
            idle_seconds=config.watch.pool_idle_seconds,
            on_started=self._pool_started,
        )
        self.stop_event = threading.Event()
        # Set by a second stop signal: photos in progress are requeued without waiting for them.
        self.hurry = threading.Event()
        self._starting = True
        self.catch_up = CatchUp(say, config.watch.progress_seconds, bar_stream)
        # Set when work arrives, so an idle loop starts it at once rather than at its next tick.
        self.wake = threading.Event()
        self.reconcile_event = threading.Event()
        self.recheck: set[str] = set()  # see ``settled``
        self.done_times: deque[float] = deque(maxlen=200)
        self.last_photo: str | None = None
        self.paused = False
        self.watch_modes: dict[str, str] = {}
        self.profile = ProfileJobs(self.store, config)
        self.cluster = ClusterLink(config, app_paths(), lambda: self.signature)

    def _pool_started(self, detectors: list[DetectorVersion], seconds: float) -> None:
        log.info("worker processes started in %.1f s", seconds)
        signature = analysis_signature(detectors)
        if self.signature and signature != self.signature:
            # A model fetched or removed while the pool was stopped: the workers store the new
            # signature, so a walk now re-analyses what the old detectors did.
            log.warning("the detectors changed (%s); photos they analysed are queued again", signature)
            self.reconcile_event.set()
        self.signature = signature
        self.detector_states = detector_states(detectors)

    # -- WatchSink: called from observer threads ---------------------------------------------

    def settled(self, paths: Sequence[str], reason: str) -> None:
        wanted = [p for p in paths if looks_like_photo(p) and not self._unchanged(p)]
        # A walk and the watcher often both see one arrival. A file a worker is reading now is
        # looked at again when its job ends (``_finished``), and queued only if it changed since.
        running = self._running() if wanted else set()
        self.recheck.update(p for p in wanted if p in running)
        wanted = [p for p in wanted if p not in running]
        if wanted:
            self.queue.enqueue(wanted, JobReason(reason))
            self.wake.set()

    def moved(self, source: str, target: str, is_dir: bool) -> None:
        if is_dir:
            moved = self.store.move_tree(source, target)
            log.info("folder moved: %s -> %s (%d photos keep their analysis)", source, target, moved)
            self.folder_appeared(target)
        elif self.store.move_file(source, target):
            # Known content: the job only confirms the hash, it does not decode.
            self.queue.enqueue([target], JobReason.MOVED)
            self.wake.set()
        else:
            self.settled([target], JobReason.NEW)

    def deleted(self, path: str, is_dir: bool) -> None:
        if is_dir:
            self.store.remove_tree(path, keep_content=True)
        else:
            self.queue.cancel([path])
            self.store.remove_files([path], keep_content=True)

    def folder_appeared(self, path: str) -> None:
        # Files created before the new folder's watch was added send no events of their own.
        self.reconcile_event.set()

    def overflowed(self) -> None:
        log.warning("file-system events were lost; reconciling the folders with the index")
        self.reconcile_event.set()

    # -- the loop -------------------------------------------------------------------------------

    def _unchanged(self, path: str) -> bool:
        return unchanged(self.store.file_state(path), current_stat(path), self.signature)

    def _running(self) -> set[str]:
        """The files this daemon's workers have now (a few per worker)."""
        with self.store.reading() as session:
            mine = (Job.state == JobState.RUNNING) & (Job.worker == self.queue.owner)
            return set(session.scalars(select(Job.path).where(mine)))

    def reconcile(self, initial: bool = False) -> None:
        """Walk the folders: queue what is new or changed, forget what is gone."""
        # Jobs of a scan that died since are nobody's: back to the queue with them.
        self.queue.recover()
        planned = plan(self.config.library, self.store, self.folders, self.signature)
        gone = planned.gone
        if gone:
            self.queue.cancel(gone)
            self.store.remove_files(gone, keep_content=True)
        queued = self.queue.enqueue(planned.todo, JobReason.RECONCILE)
        for path, _stage, message in planned.walked.errors:
            log.warning("%s: %s", path, message)
        log.info("reconciled %d folder(s): %d queued, %d removed", len(self.folders), queued, len(gone))
        if initial:
            # Safe copies missed while the daemon was down; photos to analyse get theirs after.
            todo = set(planned.todo)
            self._queue_safe_copies(self.safe_copies.stale(p for p in planned.walked.files if p not in todo))
            # Later walks find a few files the watcher missed; only the first is a catch-up to show.
            counts = self.queue.counts()
            self.catch_up.start(counts[JobState.QUEUED] + counts[JobState.RUNNING], time.monotonic())

    def _queue_safe_copies(self, paths: list[str]) -> None:
        wanted = [p for p in paths if self.safe_copies.twin_of(Path(p)) is not None]
        if wanted:
            self.queue.enqueue(wanted, JobReason.SAFE_COPY)
            self.wake.set()

    def _finished(self, job: Claimed, outcome: object, state: JobState, error: str | None) -> None:
        if not job.reason.analyses:
            if error:  # the worker died or failed; a verification's verdict is logged by its record
                log.warning("no safe copy of %s: %s (%s)", job.path, error, state)
            return
        if job.path in self.recheck:
            self.recheck.discard(job.path)
            self.settled([job.path], JobReason.NEW)  # queued again if it differs from what was read
        result = outcome if isinstance(outcome, AnalysisResult) else None
        if state == JobState.DONE:
            self.done_times.append(time.monotonic())
            self.last_photo = job.path
        problem = result.problem if result else error
        if state in (JobState.DONE, JobState.PARKED):
            self.catch_up.photo_done(error=state == JobState.PARKED or bool(problem))
        if problem:
            log.info("%s: %s", job.path, problem)
        if state == JobState.DONE:
            self.profile.photo_done(result)
            if result is not None and not result.problem:
                self._queue_safe_copies([job.path])

    def rate_per_minute(self) -> float:
        now = time.monotonic()
        recent = [t for t in self.done_times if now - t <= 60]
        return float(len(recent))

    def heartbeat(self) -> None:
        counts = self.queue.counts()
        state = {
            "pid": os.getpid(),
            "at": clock.now().isoformat(),
            "queued": counts[JobState.QUEUED],
            "running": counts[JobState.RUNNING],
            "parked": counts[JobState.PARKED],
            "rate_per_minute": self.rate_per_minute(),
            "last_photo": self.last_photo,
            "paused": self.paused,
            "workers": self.workers,
            "folders": self.watch_modes,
            "cluster": self.cluster.workers(),
        }
        self.queue.set_state("heartbeat", state)
        self.catch_up.tick(counts[JobState.QUEUED] + counts[JobState.RUNNING], time.monotonic(), self.paused)
        paused = " (paused)" if self.paused else ""
        self.notifier.status(
            f"queue {counts[JobState.QUEUED]}, {state['rate_per_minute']:.0f} photos/min{paused}"
        )

    def request_stop(self, signum: int, _frame: FrameType | None) -> None:
        log.debug("received signal %d", signum)
        if self.stop_event.is_set():  # a second Ctrl-C: do not wait for the photos in progress
            self.hurry.set()
        self.stop_event.set()
        self.wake.set()
        if self._starting:
            self._starting = False
            raise _Interrupted

    def run(self) -> int:
        self.lock.acquire()
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        scheduler = BackgroundScheduler(timezone="UTC")
        watcher = FolderWatcher(
            self, self.settler, self.config.library.exclusions, self.config.watch.poll_interval_seconds
        )
        try:
            self._start(watcher, scheduler)
            self._starting = False
            self._loop()
        except _Interrupted:
            pass
        finally:
            self._starting = False
            self.catch_up.close()
            self.notifier.stopping("finishing photos in progress")
            watcher.stop()
            if scheduler.running:
                scheduler.shutdown(wait=False)
            finished, requeued = self.dispatcher.drain(self.config.watch.stop_timeout_seconds, self.hurry)
            self.dispatcher.close()
            self.cluster.stop()
            self.profile.stop()
            self.queue.set_state("heartbeat", {"pid": None, "at": clock.now().isoformat(), "stopped": True})
            log.debug("%d photo(s) finished during shutdown", finished)
            say(f"stopping; {requeued} job{'' if requeued == 1 else 's'} requeued")
            self.store.close()
            self.lock.release()
        return 0

    def _start(self, watcher: FolderWatcher, scheduler: BackgroundScheduler) -> None:
        # The profile's clustering libraries run in child processes from now on.
        apart.keep_heavy_libraries_out()
        # Started now, for the detectors it runs: the walk below compares every file with them.
        # With nothing to do, it stops again after pool_idle_seconds.
        self.dispatcher.start_now()
        self.dispatcher.remote = self.cluster.start()
        self.dispatcher.local_while_joined = self.config.cluster.local_pool_while_joined
        recovered = self.queue.recover()
        if recovered:
            log.info("%d photo(s) interrupted by the last shutdown are queued again", recovered)
        polls = {str(f.path): f.poll for f in self.config.library.folders}
        for folder in self.folders:
            self.watch_modes[str(folder)] = watcher.watch(folder, polls.get(str(folder)))
        for line in start_lines(self.watch_modes, self.workers, self.detector_states):
            say(line)
        self.reconcile(initial=True)
        scheduler.add_job(
            self.reconcile_event.set,
            "interval",
            minutes=self.config.watch.reconcile_minutes,
            id="reconcile",
        )
        scheduler.add_job(self.queue.prune, "interval", hours=6, args=[timedelta(days=7)], id="prune")
        self.profile.start(scheduler)
        scheduler.start()
        self.heartbeat()
        self.notifier.ready(f"watching {len(self.folders)} folder(s)")

    def _loop(self) -> None:
        last_beat = last_ping = last_forget = 0.0
        while not self.stop_event.is_set():
            now = time.monotonic()
            if now - last_beat >= HEARTBEAT_EVERY:
                self.paused = is_paused(self.queue.store) or (
                    self.config.watch.pause_on_battery and on_battery()
                )
                self.heartbeat()
                last_beat = now
            interval = self.notifier.watchdog_interval
            if interval is not None and now - last_ping >= interval:
                self.notifier.ping()
                last_ping = now
            if now - last_forget >= FORGET_EVERY:
                self.store.forget_orphans(timedelta(seconds=self.config.watch.forget_after_seconds))
                last_forget = now
            if self.reconcile_event.is_set():
                self.reconcile_event.clear()
                self.reconcile()
            self.profile.tick()
            due = self.settler.due()
            if due:
                self.settled(due, JobReason.NEW)
            finished = self.dispatcher.pump(TICK, accept_new=not self.paused)
            # While the pool starts, pump itself waited for it.
            if finished == 0 and not self.dispatcher.busy and not self.dispatcher.starting:
                self.wake.wait(TICK)
                self.wake.clear()
