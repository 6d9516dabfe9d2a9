"""``shadowlens scan``: reconcile folders with the index (new, changed, moved, deleted).

The scan is the daemon's work done once, in the foreground: what the walk finds to analyse
becomes jobs of the index's durable queue, and the same Dispatcher as the daemon's drains them
through the worker pool (crash isolation, parking, back-pressure). Every photo is stored as its
job finishes, so a scan stopped by Ctrl-C or a crash leaves the rest queued, and the next scan
of those folders runs them first. A scan's jobs are reserved for it while it runs: a daemon
running at the same time never takes them, and the scan never takes the daemon's running ones.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from shadowlens.daemon.analysis.plugins import build_detectors, discover
from shadowlens.daemon.analysis.pool import InlinePool, start_pool
from shadowlens.daemon.analysis.results import AnalysisResult
from shadowlens.daemon.analysis.signature import analysis_signature
from shadowlens.daemon.config import Config
from shadowlens.daemon.index.queue import Claimed, JobQueue, Scope
from shadowlens.daemon.index.reads.queries import signature_source
from shadowlens.daemon.index.schema import FileStatus, JobReason, JobState
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.library.changes import Plan, plan
from shadowlens.daemon.library.dispatcher import Dispatcher
from shadowlens.daemon.library.regions import with_library_regions
from shadowlens.daemon.library.walk import WalkResult

log = logging.getLogger(__name__)
Progress = Callable[[AnalysisResult], None]
TICK = 0.5


@dataclass
class ScanSummary:
    found: int = 0
    indexed: int = 0
    unchanged: int = 0
    moved: int = 0
    errors: int = 0
    new_errors: int = 0
    deleted: int = 0
    skipped: int = 0
    new_skipped: int = 0
    alerts: int = 0
    seconds: float = 0.0
    problems: list[dict[str, str]] = field(default_factory=list)
    # Image-like files in formats nothing here reads, found by this scan (path and reason).
    skips: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Scanner:
    def __init__(self, config: Config, store: Store, index_path: Path | None = None) -> None:
        self.store = store
        self.index_path = index_path or store.path
        # the library's countries for phone numbers without GPS (library/regions.py)
        self.config = with_library_regions(config, self.index_path, set(discover()))
        self.signature = analysis_signature(build_detectors(self.config))

    def plan(self, roots: Sequence[Path], retry_errors: bool = False) -> Plan:
        return plan(self.config.library, self.store, roots, self.signature, retry_errors)

    def scan(
        self,
        roots: Sequence[Path],
        *,
        retry_errors: bool = False,
        workers: int | None = None,
        progress: Progress | None = None,
        on_plan: Callable[[int], None] | None = None,
    ) -> ScanSummary:
        started = time.monotonic()
        roots = [Path(os.path.abspath(r)) for r in roots]
        planned = self.plan(roots, retry_errors)
        found = len(planned.walked.files)
        summary = ScanSummary(found=found)
        queue, scope = self._queue(planned, roots)
        # What an interrupted scan left queued under these folders is run too, first.
        waiting = queue.waiting(scope)
        if on_plan:
            on_plan(waiting)
        if waiting:
            retrying = _retrying(queue, scope, planned)
            self._run_jobs(queue, scope, self._starter(workers, waiting, retrying), summary, progress)
        # Forgotten only now: a file moved meanwhile was linked to their analysis first.
        summary.deleted = self.store.remove_files(planned.gone)
        # A one-off scan has no split moves to wait for: unreferenced analyses go now.
        self.store.forget_orphans(timedelta(0))
        self._record_walk(roots, planned.walked, summary)
        # Each file is counted once, by what the index now says of it: an unchanged file that
        # is in error is an error, not also "unchanged".
        statuses = {path: known.status for path, known in self.store.known_files(roots).items()}
        todo = set(planned.todo)
        summary.unchanged = sum(
            1
            for path in planned.walked.files
            if path not in todo and statuses.get(path) == FileStatus.INDEXED
        )
        summary.errors = sum(1 for s in statuses.values() if s == FileStatus.ERROR) + len(
            planned.walked.errors
        )
        summary.skipped += sum(1 for s in statuses.values() if s == FileStatus.SKIPPED)
        summary.seconds = round(time.monotonic() - started, 3)
        return summary

    def _queue(self, planned: Plan, roots: Sequence[Path]) -> tuple[JobQueue, Scope]:
        """The plan as jobs of the index's queue, reserved for this scan while it runs."""
        queue = JobQueue(self.store, self.config.watch.max_attempts, role="scan", forget_vanished=False)
        # Jobs of a scan (or a daemon) that died go back to the queue; a live one keeps its own.
        queue.recover()
        queue.cancel(planned.gone)
        self.store.mark_pending(planned.todo)
        queue.enqueue(planned.todo, JobReason.SCAN, reserve=True)
        return queue, Scope(under=tuple(map(str, roots)), safe_copies=False)

    def _run_jobs(
        self,
        queue: JobQueue,
        scope: Scope,
        start: tuple[Callable[[], Executor], int],
        summary: ScanSummary,
        progress: Progress | None,
    ) -> None:
        def finished(job: Claimed, result: AnalysisResult | None, state: JobState, error: str | None) -> None:
            if state not in (JobState.DONE, JobState.PARKED):
                return  # it will be tried again
            outcome = result or AnalysisResult(path=job.path, file_error=error)
            self._count(outcome, summary)
            if progress:
                progress(outcome)

        starter, workers = start
        batch_size = self.config.scan.batch_size
        dispatcher = Dispatcher(
            queue, starter, workers, on_finished=finished, scope=scope, batch_size=batch_size
        )
        with _ctrl_c_between_writes(self.store) as interrupted:
            try:
                while dispatcher.pump(TICK) or dispatcher.busy or queue.waiting(scope):
                    if interrupted():
                        raise KeyboardInterrupt
            except BaseException:
                # Ctrl-C: keep what is done, queue the rest again for the next scan.
                try:
                    dispatcher.drain(0)
                except Exception as exc:
                    log.warning("the next scan takes over this one's jobs (%s)", exc)
                raise
            finally:
                dispatcher.close()

    def _starter(
        self, workers: int | None, waiting: int, retrying: bool
    ) -> tuple[Callable[[], Executor], int]:
        """The pool for ``waiting`` jobs, and its size: no more processes than batches."""
        batches = -(-waiting // self.config.scan.batch_size)
        count = min(workers or self.config.scan.effective_workers(), batches)
        if count == 1 and not retrying:
            # One worker's work and nothing that failed before: no process to start (it would
            # cost more than the work). A file that kills this process kills the scan; the next
            # scan then recovers its job (an attempt counted) and runs it in a worker process.
            return functools.partial(InlinePool, self.config, self.store.signature_for), 1
        return functools.partial(start_pool, self.config, signature_source(self.index_path), count), count

    @staticmethod
    def _count(result: AnalysisResult, summary: ScanSummary) -> None:
        problem = result.file_error or result.error
        if result.skipped:
            summary.new_skipped += 1
            summary.skips.append({"path": result.path, "reason": result.skipped})
            log.info("skipped %s: %s", result.path, result.skipped)
        elif problem:
            summary.new_errors += 1
            summary.problems.append({"path": result.path, "error": problem})
            log.info("%s: %s", result.path, problem)
        elif result.linked:
            summary.moved += 1
        else:
            summary.indexed += 1
        for run in result.runs:
            if run.error:
                summary.problems.append(
                    {"path": result.path, "error": f"detector {run.detector}: {run.error}"}
                )
                log.info("%s: detector %s failed: %s", result.path, run.detector, run.error)

    def _record_walk(self, roots: Sequence[Path], walked: WalkResult, summary: ScanSummary) -> None:
        self.store.clear_scan_errors(roots)
        for path, stage, message in walked.errors:
            self.store.record_scan_error(path, stage, message)
            summary.new_errors += 1
            summary.problems.append({"path": path, "error": message})
            log.info("%s: %s", path, message)
        for path, reason in walked.skipped:
            summary.skipped += 1
            log.info("skipped %s: %s", path, reason)


def _retrying(queue: JobQueue, scope: Scope, planned: Plan) -> bool:
    """Whether a job to run failed before, or a file to analyse is in error: what may kill
    the process that runs it."""
    if queue.waiting(scope, failed_before=True):
        return True
    return any(
        (known := planned.known.get(path)) is not None and known.status == FileStatus.ERROR
        for path in planned.todo
    )


@contextmanager
def _ctrl_c_between_writes(store: Store) -> Iterator[Callable[[], bool]]:
    """While jobs run, Ctrl-C interrupts analysis and waiting at once, but never a write to the
    index: cut short, a transaction can keep SQLite's write lock until the process ends, and
    the jobs in progress could not be put back in the queue. A Ctrl-C during a write is only
    noted; the returned check tells the loop, which stops between jobs."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False  # signals reach the main thread only
        return
    requested = False

    def on_sigint(_signum: int, _frame: FrameType | None) -> None:
        nonlocal requested
        first, requested = not requested, True
        if first and store.idle:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield lambda: requested
    finally:
        signal.signal(signal.SIGINT, previous)
