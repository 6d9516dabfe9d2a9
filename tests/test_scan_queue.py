"""`shadowlens scan` runs through the index's durable queue and the daemon's dispatcher: an
interrupted scan resumes where it stopped, a photo that kills a worker is parked, and a scan and
a daemon sharing the queue never take or requeue each other's jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from shadowlens.daemon.index.queue import JobQueue, Scope
from shadowlens.daemon.index.schema import JobReason, JobState
from shadowlens.daemon.index.writer import Store
from sqlalchemy import text

from tests.conftest import SHADOWLENS, Env, small_jpeg
from tests.daemon_helpers import query
from tests.plugin_builder import CRASHER, SLEEPY, install_plugin

FAST = "".join(f"[detectors.{n}]\nenabled = false\n" for n in ("faces", "text", "codes", "nudity"))
PHOTOS = 10


def _slow_library(env: Env, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    site = install_plugin(tmp_path / "site", "sleepy_plugin", "sleepy", "SleepyDetector", SLEEPY)
    env.write_config(FAST + "[scan]\nworkers = 2\nbatch_size = 1\n")
    library = tmp_path / "library"
    for i in range(PHOTOS):
        small_jpeg(library / f"slow-{i:02}.jpg", color=(20 * i, 90, 200 - 10 * i))
    return library, {"PYTHONPATH": str(site), "SLEEPY_SECONDS": "1"}


def _scan_until(env: Env, library: Path, extra: dict[str, str], indexed: int) -> subprocess.Popen[str]:
    """A scan in its own process group (as in a terminal), once ``indexed`` photos are stored."""
    proc = subprocess.Popen(
        [str(SHADOWLENS), "scan", str(library)],
        env={**os.environ, **env.vars, **extra},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (
            env.index.exists()
            and _count(env, "SELECT count(*) FROM files WHERE status = 'indexed'") >= indexed
        ):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the scan never stored {indexed} photos: {proc.communicate()}")


def _count(env: Env, sql: str) -> int:
    try:
        return int(query(env.index, sql)[0][0])
    except Exception:  # the index is still being created
        return 0


def _jobs(env: Env) -> dict[str, list[tuple[str, int]]]:
    """Each path's jobs as (state, attempts), oldest first."""
    jobs: dict[str, list[tuple[str, int]]] = {}
    for path, state, attempts in query(env.index, "SELECT path, state, attempts FROM jobs ORDER BY id"):
        jobs.setdefault(Path(path).name, []).append((state, attempts))
    return jobs


def _analysed(env: Env) -> dict[str, str]:
    rows = query(env.index, "SELECT f.path, p.analysed_at FROM files f JOIN photos p ON p.id = f.photo_id")
    return {Path(path).name: at for path, at in rows}


def test_an_interrupted_scan_resumes_from_the_queue_without_redoing_finished_photos(
    env: Env, tmp_path: Path
) -> None:
    library, extra = _slow_library(env, tmp_path)
    proc = _scan_until(env, library, extra, indexed=3)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    jobs = _jobs(env)
    finished = {name for name, runs in jobs.items() if runs == [("done", 0)]}
    assert 3 <= len(finished) < PHOTOS, jobs
    # The rest waits in the queue, none is left "running", and nothing is analysed twice.
    assert all(runs == [("queued", 0)] for name, runs in jobs.items() if name not in finished), jobs
    before = _analysed(env)
    assert finished <= set(before)

    summary = env.json("scan", str(library), extra_env={**extra, "SLEEPY_SECONDS": "0"})
    assert (summary["found"], summary["unchanged"]) == (PHOTOS, len(finished))
    assert summary["indexed"] == PHOTOS - len(finished) and summary["errors"] == 0
    # The queued jobs were run as they were (no second job for any photo), and the photos
    # finished before the interruption kept their analysis.
    assert _jobs(env) == {f"slow-{i:02}.jpg": [("done", 0)] for i in range(PHOTOS)}
    after = _analysed(env)
    assert {name: after[name] for name in finished} == {name: before[name] for name in finished}
    assert len(after) == PHOTOS


def test_a_scan_killed_outright_leaves_its_jobs_to_the_next_scan(env: Env, tmp_path: Path) -> None:
    library, extra = _slow_library(env, tmp_path)
    proc = _scan_until(env, library, extra, indexed=2)
    os.killpg(proc.pid, signal.SIGKILL)  # no chance to put anything back
    proc.communicate(timeout=30)
    interrupted = {name for name, runs in _jobs(env).items() if runs[-1][0] == "running"}
    assert interrupted, "photos were in progress"
    summary = env.json("scan", str(library), extra_env={**extra, "SLEEPY_SECONDS": "0"})
    assert summary["indexed"] + summary["unchanged"] == PHOTOS and summary["errors"] == 0
    jobs = _jobs(env)
    assert all(runs[-1][0] == "done" for runs in jobs.values()), jobs
    # Its process died while they ran: each counts as an attempt, so a photo that kills the scan
    # itself (a scan of one batch runs in process) is parked after max_attempts, not retried forever.
    assert {name: jobs[name] for name in interrupted} == {name: [("done", 1)] for name in interrupted}


def test_a_photo_that_kills_a_worker_during_a_scan_is_isolated_and_parked(env: Env, tmp_path: Path) -> None:
    site = install_plugin(tmp_path / "site", "crash_plugin", "crasher", "CrashDetector", CRASHER)
    env.write_config(FAST + "[scan]\nworkers = 2\nbatch_size = 2\n[watch]\nmax_attempts = 2\n")
    library = tmp_path / "library"
    for i in range(5):
        small_jpeg(library / f"fine-{i}.jpg", color=(250, 30 * i, 10))
    small_jpeg(library / "crash-1.jpg", color=(250, 99, 10))
    extra = {"PYTHONPATH": str(site)}
    summary = env.json("scan", str(library), extra_env=extra)
    assert summary["indexed"] == 5 and summary["new_errors"] == 1 and summary["errors"] == 1, summary
    (problem,) = summary["problems"]
    assert problem["path"] == str(library / "crash-1.jpg") and "worker process died" in problem["error"]
    jobs = _jobs(env)
    assert jobs.pop("crash-1.jpg") == [("parked", 2)]
    assert jobs == {f"fine-{i}.jpg": [("done", 0)] for i in range(5)}, "each fine photo ran once"
    # The next scan tries the broken file again (it may be fixed) and leaves the others alone.
    again = env.json("scan", str(library), extra_env=extra)
    assert (again["unchanged"], again["indexed"], again["new_errors"]) == (5, 0, 1)


def test_a_scan_and_the_daemon_never_take_or_requeue_each_others_jobs(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "index.sqlite3")
    try:
        scan = JobQueue(store, role="scan", forget_vanished=False)
        daemon = JobQueue(store, role="watch")
        scan.enqueue(["/photos/a.jpg", "/photos/b.jpg"], JobReason.SCAN, reserve=True)
        daemon.enqueue(["/photos/c.jpg"], JobReason.NEW)
        assert [job.path for job in daemon.claim(10)] == ["/photos/c.jpg"], "the scan's are reserved"
        taken = scan.claim(10, Scope(under=("/photos",)))
        assert [job.path for job in taken] == ["/photos/a.jpg", "/photos/b.jpg"]
        # A daemon starting now leaves the live scan's running jobs alone...
        assert daemon.recover() == 0 and scan.waiting() == 0
        # ...but the jobs of a process that has died are anybody's, with the attempt counted.
        with store.transaction() as session:
            session.execute(text("UPDATE jobs SET worker = 'scan:999999999:1' WHERE path = '/photos/a.jpg'"))
        assert daemon.recover() == 1
        (job,) = daemon.claim(10)
        assert (job.path, job.attempts) == ("/photos/a.jpg", 1)
    finally:
        store.close()


def test_an_analysis_supersedes_a_waiting_safe_copy_of_the_same_file(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "index.sqlite3")
    try:
        queue = JobQueue(store)
        queue.enqueue(["/photos/a.jpg"], JobReason.SAFE_COPY)
        queue.enqueue(["/photos/a.jpg"], JobReason.NEW)
        queue.enqueue(["/photos/a.jpg"], JobReason.SAFE_COPY)  # the analysis brings its own copy
        (job,) = queue.claim(10)
        assert job.reason is JobReason.NEW
        assert queue.counts()[JobState.RUNNING] == 1
        assert queue.waiting(Scope(safe_copies=False)) == queue.waiting() == 0
    finally:
        store.close()


@pytest.mark.parametrize("name", ["Fête.jpg", os.fsdecode(b"F\xeate.jpg")])
def test_known_files_reads_only_the_roots_range_of_the_path_index(tmp_path: Path, name: str) -> None:
    from shadowlens.daemon.analysis.results import AnalysisResult, FileStat

    store = Store.open(tmp_path / "index.sqlite3")
    try:
        paths = [
            f"/lib/Photos/{name}",
            "/lib/photos/x.jpg",
            "/lib/Photos2/y.jpg",
            "/lib/Photos",
            "/lib/P/z.jpg",
        ]
        for i, path in enumerate(paths):
            store.save(AnalysisResult(path=path, stat=FileStat(1, 1, i, 1), file_error="broken"))
        assert set(store.known_files([Path("/lib/Photos")])) == {f"/lib/Photos/{name}", "/lib/Photos"}
        assert set(store.known_files([Path(f"/lib/Photos/{name}")])) == {f"/lib/Photos/{name}"}
        assert len(store.known_files([Path("/")])) == len(paths)
        # The same ranges for a folder deleted or moved: LIKE would take /lib/photos for /lib/Photos.
        store.move_tree("/lib/Photos", "/lib/Moved")
        store.remove_tree("/lib/Moved")
        assert set(store.known_files([Path("/lib")])) == {
            "/lib/photos/x.jpg",
            "/lib/Photos2/y.jpg",
            "/lib/Photos",
            "/lib/P/z.jpg",
        }
    finally:
        store.close()
