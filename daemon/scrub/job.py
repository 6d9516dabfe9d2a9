"""The daemon's safe copies as jobs of its worker pool.

Making a safe copy analyses the copy again (its verification), so it runs where the models are
already loaded: in a worker of the pool that analyses the photos, which shares them. There, a
detector that hangs on a copy is stopped by its time limit (SIGALRM, on the worker's main
thread), and a copy that kills its worker costs the daemon nothing: the dispatcher isolates it
and the queue parks it after ``max_attempts``, as for a photo.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from shadowlens.daemon.analysis.pool import this_worker
from shadowlens.daemon.index.queue import Claimed, JobQueue
from shadowlens.daemon.index.schema import JobState
from shadowlens.daemon.library.dispatcher import Work
from shadowlens.daemon.scrub.runner import Scrubber, ScrubOptions, ScrubReport
from shadowlens.daemon.scrub.twin import SafeCopies

log = logging.getLogger(__name__)


def make_safe_copies(index_path: str, paths: list[str]) -> list[ScrubReport | None]:
    """In a worker: a verified copy of each photo in its twin folder, or None where none is due
    (no twin folder, or a copy newer than the photo: the job was queued twice)."""
    worker = this_worker()
    twins = SafeCopies(worker.config)
    options = ScrubOptions.from_settings(worker.config.scrub)
    # A Scrubber per job: it reads the profile (whose owner is not blurred) as it is now.
    scrubber = Scrubber(worker.config, Path(index_path), detectors=worker.pipeline.detectors)
    try:
        return [_copy(scrubber, twins, Path(path), options) for path in paths]
    finally:
        # Not scrubber.close(): that would close the worker's detectors, which outlive the job.
        if scrubber.reader is not None:
            scrubber.reader.close()


def _copy(scrubber: Scrubber, twins: SafeCopies, path: Path, options: ScrubOptions) -> ScrubReport | None:
    twin = twins.twin_of(path)
    if twin is None or not twins.is_stale(path):
        return None
    twin.parent.mkdir(parents=True, exist_ok=True)
    twin.unlink(missing_ok=True)  # replaced, not numbered: the twin mirrors the source
    return scrubber.scrub(path, twin.parent, options)


def safe_copy_work(queue: JobQueue, index_path: Path) -> Work:
    """The job kind for the dispatcher: made in a worker, recorded (and logged) by the daemon."""

    def record(job: Claimed, report: ScrubReport | None) -> JobState:
        if report is None or report.ok:
            if report is not None:
                log.info(
                    "safe copy: %s (exposure %s -> %s)",
                    report.copy,
                    report.exposure_before,
                    report.exposure_after,
                )
            return queue.done(job)
        problem = "; ".join(report.problems) or "no copy was written"
        log.warning("no safe copy of %s: %s", job.path, problem)
        # Done, not failed: the verification decided, and would decide the same again.
        return queue.done(job, f"no safe copy: {problem}")

    return Work(functools.partial(make_safe_copies, str(index_path)), record)
