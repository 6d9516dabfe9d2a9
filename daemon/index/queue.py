"""The durable job queue: every discovered file is a job row before any work starts.

A job is marked done in the same transaction that stores its results, so after a crash at
any moment a restart neither loses nor repeats work: jobs whose process died go back to the
queue. The daemon and ``shadowlens scan`` share the queue; each names itself in ``jobs.worker``
(role, pid and the process's start time), so neither ever takes or requeues the other's jobs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from shadowlens.daemon.analysis.results import AnalysisResult
from shadowlens.daemon.index.schema import DaemonState, File, FileStatus, Job, JobReason, JobState, utcnow
from shadowlens.daemon.index.writer import Store, at_or_beneath, remove_files
from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session

VANISHED = "vanished"
CHUNK = 500


def owner_name(role: str) -> str:
    pid = os.getpid()
    return f"{role}:{pid}:{_started(pid)}"


def owner_alive(owner: str | None) -> bool:
    """Whether the process that wrote ``owner`` still runs (not merely a process with its pid)."""
    _role, _, rest = (owner or "").partition(":")
    pid, _, started = rest.partition(":")
    if not pid.isdigit():
        return False  # no owner, or a name from before owners were recorded
    return _started(int(pid)) == started != ""


def _started(pid: int) -> str:
    """The process's start time in clock ticks since boot, or "" once it is gone (or a zombie):
    with the pid it names one process, whatever later reuses the pid."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return ""
    return "" if fields[0] in ("Z", "X") else fields[19]


@dataclass(frozen=True)
class Claimed:
    id: int
    path: str
    attempts: int
    reason: JobReason = JobReason.NEW


@dataclass(frozen=True)
class Scope:
    """The queued jobs a consumer takes: those ``under`` these paths (all when empty), and
    the daemon's safe copies or not (a scan only analyses)."""

    under: tuple[str, ...] = ()
    safe_copies: bool = True


EVERY_JOB = Scope()


class JobQueue:
    def __init__(
        self, store: Store, max_attempts: int = 3, role: str = "watch", forget_vanished: bool = True
    ) -> None:
        self.store = store
        self.max_attempts = max_attempts
        self.owner = owner_name(role)
        # The daemon forgets a file that vanished before its job ran (its deletion event may
        # already have been handled); a scan records it, and its next walk forgets it.
        self.forget_vanished = forget_vanished

    def enqueue(self, paths: Iterable[str], reason: JobReason = JobReason.NEW, reserve: bool = False) -> int:
        """Queue files; a file that already has a queued job is not queued twice. ``reserve``
        keeps the jobs for this process while it lives (a scan that counts its own results)."""
        paths = list(paths)
        if not paths:
            return 0
        worker = self.owner if reserve else None
        added = 0
        with self.store.transaction() as session:
            for chunk in _chunks(paths):
                if reason.analyses:
                    # A waiting safe copy of a file to analyse again is superseded: the analysis
                    # queues a fresh copy when it is done.
                    session.execute(
                        update(Job)
                        .where(Job.state == JobState.QUEUED, Job.reason == JobReason.SAFE_COPY)
                        .where(Job.path.in_(chunk))
                        .values(state=JobState.DONE, finished_at=utcnow(), last_error="superseded")
                    )
                rows = [
                    {"path": p, "state": JobState.QUEUED, "reason": reason, "attempts": 0, "worker": worker}
                    for p in chunk
                ]
                statement = insert(Job).values(rows).on_conflict_do_nothing()
                added += session.execute(statement).rowcount or 0  # type: ignore[attr-defined]
                if reason.analyses:
                    # The file is known to be waiting, so `photos --status pending` shows it.
                    files = [{"path": p, "status": FileStatus.PENDING} for p in chunk]
                    session.execute(insert(File).values(files).on_conflict_do_nothing())
        return added

    def claim(self, limit: int, scope: Scope = EVERY_JOB) -> list[Claimed]:
        """Take up to ``limit`` queued jobs, oldest first (so an interrupted scan's leftovers come
        before what it found since), skipping files already in work and others' reservations."""
        if limit <= 0:
            return []
        with self.store.transaction() as session:
            jobs = list(session.scalars(self._claimable(session, scope).order_by(Job.id).limit(limit)))
            for job in jobs:
                job.state, job.worker, job.claimed_at = JobState.RUNNING, self.owner, utcnow()
            return [Claimed(job.id, job.path, job.attempts, JobReason(job.reason)) for job in jobs]

    def waiting(self, scope: Scope = EVERY_JOB, failed_before: bool = False) -> int:
        """How many jobs ``claim`` could take now (only those that failed before, if asked)."""
        with self.store.reading() as session:
            query = self._claimable(session, scope)
            claimable = (query.where(Job.attempts > 0) if failed_before else query).subquery()
            return int(session.scalar(select(func.count()).select_from(claimable)) or 0)

    def _claimable(self, session: Session, scope: Scope) -> Select[Job]:
        busy = select(Job.path).where(Job.state == JobState.RUNNING)
        query = select(Job).where(Job.state == JobState.QUEUED, Job.path.not_in(busy))
        reserved = session.scalars(
            select(Job.worker).where(Job.state == JobState.QUEUED, Job.worker.is_not(None)).distinct()
        )
        # Reservations of a process that has died are anybody's.
        others = [w for w in reserved if w != self.owner and owner_alive(w)]
        if others:
            query = query.where(or_(Job.worker.is_(None), Job.worker.not_in(others)))
        if scope.under:
            query = query.where(or_(*(at_or_beneath(Job.path, root) for root in scope.under)))
        if not scope.safe_copies:
            query = query.where(Job.reason != JobReason.SAFE_COPY)
        return query

    def finish(self, job: Claimed, result: AnalysisResult) -> JobState:
        """Store a result and close its job in one transaction. Returns the job's new state."""
        vanished = bool(result.file_error and result.file_error.startswith(VANISHED))
        if vanished and self.forget_vanished:
            with self.store.transaction() as session:
                remove_files(session, [job.path])
                self._close(session, job.id, JobState.DONE, result.file_error)
            return JobState.DONE
        if result.file_error and not vanished:
            return self.fail(job, result.file_error)
        with self.store.transaction() as session:
            self.store.save(result, session)
            self._close(session, job.id, JobState.DONE, None)
        return JobState.DONE

    def done(self, job: Claimed, note: str | None = None) -> JobState:
        """Close a job whose work stores nothing in the index (a safe copy); ``note`` says why
        it achieved nothing, if it did not."""
        with self.store.transaction() as session:
            self._close(session, job.id, JobState.DONE, note)
        return JobState.DONE

    def fail(self, job: Claimed, error: str) -> JobState:
        """Count a failed attempt; after ``max_attempts`` the job is parked and the file shows the error."""
        with self.store.transaction() as session:
            row = session.get(Job, job.id)
            if row is None:
                return JobState.DONE
            row.attempts += 1
            row.last_error = error
            return self._retry_or_park(session, row, error)

    def _retry_or_park(self, session: Session, row: Job, error: str) -> JobState:
        if row.attempts < self.max_attempts:
            row.state, row.worker = JobState.QUEUED, None
            newer = select(Job.id).where(Job.path == row.path, Job.state == JobState.QUEUED, Job.id != row.id)
            if session.scalar(newer):
                row.state = JobState.DONE  # a newer queued job for the same file supersedes this one
            return JobState(row.state)
        self._close(session, row.id, JobState.PARKED, error)
        if JobReason(row.reason).analyses:
            file = session.scalar(select(File).where(File.path == row.path))
            if file is not None:
                file.status, file.error = FileStatus.ERROR, error
        return JobState.PARKED

    def release(self, jobs: Iterable[Claimed]) -> None:
        """Put jobs back in the queue without counting an attempt (a stop, another file's crash)."""
        ids = [job.id for job in jobs]
        if not ids:
            return
        with self.store.transaction() as session:
            for job_id in ids:
                row = session.get(Job, job_id)
                if row is None or row.state != JobState.RUNNING:
                    continue
                newer = session.scalar(
                    select(Job.id).where(Job.path == row.path, Job.state == JobState.QUEUED)
                )
                row.state, row.worker = (JobState.DONE if newer else JobState.QUEUED), None

    def recover(self) -> int:
        """Jobs left running by a process that died (a crash, kill -9, a power cut) go back to the
        queue. Each counts an attempt: it may be what killed its process (an in-process scan has
        no worker to die in its place), and a job that always does must end up parked."""
        with self.store.transaction() as session:
            running = list(session.scalars(select(Job).where(Job.state == JobState.RUNNING)))
            alive: dict[str | None, bool] = {}
            orphans = [
                job
                for job in running
                if job.worker != self.owner and not alive.setdefault(job.worker, owner_alive(job.worker))
            ]
            for job in orphans:
                job.attempts += 1
                job.last_error = "its process died while working on it"
                self._retry_or_park(session, job, f"{job.last_error} ({job.attempts} times)")
            return len(orphans)

    def cancel(self, paths: Iterable[str]) -> None:
        """Deleted files need no analysis (nor a safe copy)."""
        with self.store.transaction() as session:
            for chunk in _chunks(list(paths)):
                session.execute(
                    update(Job)
                    .where(Job.state == JobState.QUEUED, Job.path.in_(chunk))
                    .values(state=JobState.DONE, last_error="deleted")
                )

    def counts(self) -> dict[str, int]:
        """Analysis jobs by state: the catch-up and the heartbeat count photos, not safe copies."""
        with self.store.reading() as session:
            rows = session.execute(
                select(Job.state, func.count()).where(Job.reason != JobReason.SAFE_COPY).group_by(Job.state)
            ).all()
        counts = {str(state): 0 for state in JobState}
        counts.update({str(state): int(n) for state, n in rows})
        return counts

    def prune(self, older_than: timedelta) -> None:
        """Done jobs are history; keep a window of it, not all of it."""
        cutoff = utcnow() - older_than
        with self.store.transaction() as session:
            session.execute(delete(Job).where(Job.state == JobState.DONE, Job.finished_at < cutoff))

    def set_state(self, key: str, value: dict[str, Any]) -> None:
        with self.store.transaction() as session:
            statement = insert(DaemonState).values(key=key, value=value, updated_at=utcnow())
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["key"], set_={"value": value, "updated_at": utcnow()}
                )
            )

    @staticmethod
    def _close(session: Session, job_id: int, state: JobState, error: str | None) -> None:
        row = session.get(Job, job_id)
        if row is not None:
            row.state, row.finished_at, row.worker = state, utcnow(), None
            if error:
                row.last_error = error


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
