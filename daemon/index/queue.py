"""The durable job queue: every discovered file is a job row before any work starts.

A job is marked done in the same transaction that stores its results, so after a crash at
any moment a restart neither loses nor repeats work: running jobs go back to the queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from shadowlens.daemon.analysis.results import AnalysisResult
from shadowlens.daemon.index.schema import DaemonState, File, Job, utcnow
from shadowlens.daemon.index.writer import ERROR, PENDING, Store, remove_files
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.orm import Session

QUEUED, RUNNING, DONE, PARKED = "queued", "running", "done", "parked"
VANISHED = "vanished"


@dataclass(frozen=True)
class Claimed:
    id: int
    path: str
    attempts: int


class JobQueue:
    def __init__(self, store: Store, max_attempts: int = 3) -> None:
        self.store = store
        self.max_attempts = max_attempts

    def enqueue(self, paths: Iterable[str], reason: str = "new") -> int:
        """Queue files; a file that already has a queued job is not queued twice."""
        rows = [{"path": p, "state": QUEUED, "reason": reason, "attempts": 0} for p in paths]
        if not rows:
            return 0
        added = 0
        with self.store.transaction() as session:
            for start in range(0, len(rows), 500):
                statement = insert(Job).values(rows[start : start + 500]).on_conflict_do_nothing()
                added += session.execute(statement).rowcount or 0  # type: ignore[attr-defined]
            # The file is known to be waiting, so `photos --status pending` shows it.
            for row in rows:
                session.execute(
                    insert(File).values(path=row["path"], status=PENDING).on_conflict_do_nothing()
                )
        return added

    def claim(self, limit: int, worker: str) -> list[Claimed]:
        """Take up to ``limit`` queued jobs, oldest first, skipping files already being analysed."""
        if limit <= 0:
            return []
        with self.store.transaction() as session:
            busy = select(Job.path).where(Job.state == RUNNING)
            jobs = list(
                session.scalars(
                    select(Job)
                    .where(Job.state == QUEUED, Job.path.not_in(busy))
                    .order_by(Job.id)
                    .limit(limit)
                )
            )
            for job in jobs:
                job.state, job.worker, job.claimed_at = RUNNING, worker, utcnow()
            return [Claimed(job.id, job.path, job.attempts) for job in jobs]

    def finish(self, job: Claimed, result: AnalysisResult) -> str:
        """Store a result and close its job in one transaction. Returns the job's new state."""
        if result.file_error and result.file_error.startswith(VANISHED):
            with self.store.transaction() as session:
                remove_files(session, [job.path])
                self._close(session, job.id, DONE, result.file_error)
            return DONE
        if result.file_error:
            return self.fail(job, result.file_error)
        with self.store.transaction() as session:
            self.store.save(result, session)
            self._close(session, job.id, DONE, None)
        return DONE

    def fail(self, job: Claimed, error: str) -> str:
        """Count a failed attempt; after ``max_attempts`` the job is parked and the file shows the error."""
        with self.store.transaction() as session:
            row = session.get(Job, job.id)
            if row is None:
                return DONE
            row.attempts += 1
            row.last_error = error
            if row.attempts < self.max_attempts:
                row.state, row.worker = QUEUED, None
                if session.scalar(
                    select(Job.id).where(Job.path == job.path, Job.state == QUEUED, Job.id != job.id)
                ):
                    row.state = DONE  # a newer queued job for the same file supersedes this one
                return str(row.state)
            self._close(session, job.id, PARKED, error)
            file = session.scalar(select(File).where(File.path == job.path))
            if file is not None:
                file.status, file.error = ERROR, error
            return PARKED

    def release(self, jobs: Iterable[Claimed]) -> None:
        """Put jobs back in the queue without counting an attempt (shutdown, another file's crash)."""
        ids = [job.id for job in jobs]
        if not ids:
            return
        with self.store.transaction() as session:
            for job_id in ids:
                row = session.get(Job, job_id)
                if row is None or row.state != RUNNING:
                    continue
                newer = session.scalar(select(Job.id).where(Job.path == row.path, Job.state == QUEUED))
                row.state, row.worker = (DONE if newer else QUEUED), None

    def recover(self) -> int:
        """At start-up: jobs left running by a crash or power cut go back to the queue."""
        with self.store.transaction() as session:
            running = list(session.scalars(select(Job).where(Job.state == RUNNING)))
            queued = set(session.scalars(select(Job.path).where(Job.state == QUEUED)))
            for job in running:
                job.state, job.worker = (DONE if job.path in queued else QUEUED), None
            return len(running)

    def cancel(self, paths: Iterable[str]) -> None:
        """Deleted files need no analysis."""
        paths = list(paths)
        with self.store.transaction() as session:
            for start in range(0, len(paths), 500):
                chunk = paths[start : start + 500]
                session.execute(
                    update(Job)
                    .where(Job.state == QUEUED, Job.path.in_(chunk))
                    .values(state=DONE, last_error="deleted")
                )

    def counts(self) -> dict[str, int]:
        with self.store.transaction() as session:
            rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
        counts = {QUEUED: 0, RUNNING: 0, DONE: 0, PARKED: 0}
        counts.update({str(state): int(n) for state, n in rows})
        return counts

    def prune(self, older_than: timedelta) -> None:
        """Done jobs are history; keep a window of it, not all of it."""
        cutoff = utcnow() - older_than
        with self.store.transaction() as session:
            session.execute(delete(Job).where(Job.state == DONE, Job.finished_at < cutoff))

    def set_state(self, key: str, value: dict[str, object]) -> None:
        with self.store.transaction() as session:
            statement = insert(DaemonState).values(key=key, value=value, updated_at=utcnow())
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["key"], set_={"value": value, "updated_at": utcnow()}
                )
            )

    @staticmethod
    def _close(session: Session, job_id: int, state: str, error: str | None) -> None:
        row = session.get(Job, job_id)
        if row is not None:
            row.state, row.finished_at, row.worker = state, utcnow(), None
            if error:
                row.last_error = error
