"""The daemon's idle pool (issue #18): after ``watch.pool_idle_seconds`` without a job its worker
processes and multiprocessing's resource tracker end, the next photo starts new ones, nothing
queued meanwhile is lost, and the daemon process itself never maps a model library.

Real ``shadowlens watch`` processes, with the metadata detector alone (and a plugin where a
detector's version must change): the pool's plumbing is under test, not the models.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import Executor
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from shadowlens.daemon.config import load_config
from shadowlens.daemon.index.queue import JobQueue
from shadowlens.daemon.index.schema import JobReason, JobState
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.library import dispatcher as dispatcher_module
from shadowlens.daemon.library import pool_keeper

from tests.conftest import Env, corpus_or_skip, small_jpeg
from tests.daemon_helpers import WatchProcess, query, status_of, wait_for
from tests.foreground_watch import alive, children
from tests.plugin_builder import install_plugin

pytestmark = pytest.mark.corpus

IDLE_SECONDS = 2.0
# Generous: on a loaded 2-core machine a worker takes seconds to import and build its detectors.
START_WAIT = 60.0
ONLY_METADATA = "".join(
    f"[detectors.{name}]\nenabled = false\n"
    for name in sorted({ep.name for ep in entry_points(group="shadowlens.detectors")} - {"metadata"})
)
CONFIG = (
    f"[watch]\nsettle_seconds = 0.5\npool_idle_seconds = {IDLE_SECONDS}\n[scan]\nworkers = 1\n"
    # The profile is rebuilt a second after a photo: its place clustering runs in a child process.
    "[profile]\nrefresh_minutes = 0.02\n" + ONLY_METADATA
)
# What must never be mapped into the daemon process: the models' runtimes and the profile's
# clustering libraries, by the site-packages entry their shared objects live in (``scipy``,
# ``scipy.libs``, ``_dlib_pybind11.cpython-311-...so``).
HEAVY = {"onnxruntime", "onnx", "cv2", "opencv_python", "opencv_python_headless", "dlib"}
HEAVY |= {"_dlib_pybind11", "scipy", "sklearn", "scikit_learn", "skimage", "scikit_image", "faiss"}
HEAVY |= {"faiss_cpu", "insightface", "rapidocr", "torch"}
GPS_PHOTO = "exif-samples/gps/DSCN0010.jpg"
# A detector whose version is read from a file when its module is imported, as a model's
# version is read when a worker builds its detectors: a new worker can see a new one.
VERSIONED = """
from __future__ import annotations

import os
from pathlib import Path

from shadowlens.daemon.api import Detector, Finding, PhotoContext


class VersionedDetector(Detector):
    name = "versioned"
    version = Path(os.environ["VERSIONED_FILE"]).read_text().strip()

    def detect(self, photo: PhotoContext) -> list[Finding]:
        return []
"""


def heavy_libraries(pid: int) -> list[str]:
    mapped = set(re.findall(r"/site-packages/(\w+)", Path(f"/proc/{pid}/maps").read_text()))
    return sorted(mapped & HEAVY)


def gps_photo(target: Path, tag: str) -> Path:
    """The corpus photo with GPS, made a distinct content by bytes after its end marker."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes((corpus_or_skip() / GPS_PHOTO).read_bytes() + tag.encode())
    return target


def wait_pool_stopped(proc: WatchProcess) -> None:
    """Workers, resource tracker and any profile child: the daemon has no child process left."""
    wait_for(lambda: children(proc.proc.pid) == [], START_WAIT, "the daemon's children to exit", proc)


@pytest.fixture
def daemon(env: Env, folder: Path) -> Iterator[WatchProcess]:
    env.write_config(CONFIG)
    proc = WatchProcess(env, folder)
    proc.wait_ready(START_WAIT)
    yield proc
    proc.stop()


def test_idle_workers_stop_and_the_next_photo_starts_them(
    env: Env, folder: Path, daemon: WatchProcess
) -> None:
    pid = daemon.proc.pid
    assert heavy_libraries(pid) == [], "model libraries in the daemon right after its start"
    first = [gps_photo(folder / f"trip-{i}.jpg", f"trip {i}") for i in range(3)]
    for photo in first:
        wait_for(lambda p=photo: status_of(env.index, p) == "indexed", START_WAIT, photo.name, daemon)
    workers = children(pid)
    assert workers, "the photos were analysed by worker processes"
    wait_pool_stopped(daemon)
    assert not any(alive(worker) for worker in workers)
    assert "worker processes stopped after" in daemon.output()
    assert "(multiprocessing's resource tracker kept)" not in daemon.output()
    # The profile was rebuilt meanwhile: three photos at one spot make a place, which only
    # scikit-learn's DBSCAN finds, and it ran in a child process.
    wait_for(lambda: "profile rebuilt from 3 photos" in daemon.output(), START_WAIT, "the profile", daemon)
    (profile,) = query(env.index, "SELECT value FROM daemon_state WHERE key = 'profile'")[0]
    assert any(place.get("photo_count") == 3 for place in json.loads(profile)["places"])
    wait_pool_stopped(daemon)
    assert heavy_libraries(pid) == [], "model libraries in the daemon after it indexed photos"

    later = small_jpeg(folder / "later.jpg", color=(20, 160, 90))
    wait_for(lambda: status_of(env.index, later) == "indexed", START_WAIT, "the next photo", daemon)
    assert daemon.output().count("worker processes started in") == 2, "a new pool for the new photo"
    wait_pool_stopped(daemon)
    assert heavy_libraries(pid) == []
    code, _ = daemon.terminate()
    assert code == 0


def test_photos_queued_while_the_pool_is_stopped_are_all_analysed(
    env: Env, folder: Path, daemon: WatchProcess
) -> None:
    env.run("pause")
    # Paused, the pool has nothing to do either: it stops like an idle one.
    wait_pool_stopped(daemon)
    photos = [small_jpeg(folder / f"queued-{i}.jpg", color=(10 * i, 50, 200)) for i in range(4)]
    wait_for(
        lambda: all(status_of(env.index, p) == "pending" for p in photos), START_WAIT, "the queue", daemon
    )
    assert children(daemon.proc.pid) == [], "no pool while paused"
    env.run("resume")
    for photo in photos:
        wait_for(lambda p=photo: status_of(env.index, p) == "indexed", START_WAIT, photo.name, daemon)
    assert query(env.index, "SELECT count(*) FROM jobs WHERE state != 'done'") == [(0,)]


def test_detectors_changed_while_the_pool_was_stopped_are_run_again(
    env: Env, folder: Path, tmp_path: Path
) -> None:
    site = install_plugin(tmp_path / "site", "versioned_plugin", "versioned", "VersionedDetector", VERSIONED)
    version = tmp_path / "version.txt"
    version.write_text("1")
    env.write_config(CONFIG)
    proc = WatchProcess(env, folder, extra_env={"PYTHONPATH": str(site), "VERSIONED_FILE": str(version)})
    try:
        proc.wait_ready(START_WAIT)
        old = small_jpeg(folder / "old.jpg", color=(200, 200, 10))
        wait_for(lambda: status_of(env.index, old) == "indexed", START_WAIT, "old.jpg", proc)
        signature = "SELECT p.signature FROM files f JOIN photos p ON p.id = f.photo_id WHERE f.path = ?"
        assert "versioned@1" in query(env.index, signature, str(old))[0][0]
        wait_pool_stopped(proc)
        version.write_text("2")  # an upgraded model, say: only a new worker sees it
        new = small_jpeg(folder / "new.jpg", color=(10, 10, 200))
        wait_for(lambda: status_of(env.index, new) == "indexed", START_WAIT, "new.jpg", proc)
        wait_for(
            lambda: "versioned@2" in query(env.index, signature, str(old))[0][0],
            START_WAIT,
            "old.jpg analysed again by the new detector",
            proc,
        )
        assert "the detectors changed" in proc.output()
    finally:
        proc.stop()


def test_a_job_queued_while_the_pool_stops_goes_to_the_next_pool(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the real daemon cannot be timed to hit: a photo arrives (on a watcher thread)
    just as the idle pool is being ended. In process, with an inline pool and a hand-moved clock."""
    from shadowlens.daemon.analysis.pool import InlinePool, end_pool

    env.write_config(ONLY_METADATA)
    config = load_config()
    store = Store.open(env.index)
    queue = JobQueue(store, config.watch.max_attempts)
    now = [1000.0]
    monkeypatch.setattr("shadowlens.daemon.clock.monotonic", lambda: now[0])
    monkeypatch.setattr(pool_keeper, "release_resource_tracker", lambda: True)  # the test's own
    late = small_jpeg(tmp_path / "late.jpg", color=(1, 2, 3))

    def end_while_a_photo_arrives(pool: Executor) -> None:
        queue.enqueue([str(late)], JobReason.NEW)
        end_pool(pool)

    monkeypatch.setattr(pool_keeper, "end_pool", end_while_a_photo_arrives)
    starts: list[InlinePool] = []

    def start() -> InlinePool:
        starts.append(InlinePool(config, None))
        return starts[-1]

    done: list[str] = []
    dispatcher = dispatcher_module.Dispatcher(
        queue, start, 1, on_finished=lambda job, *_: done.append(job.path), idle_seconds=IDLE_SECONDS
    )
    try:
        queue.enqueue([str(small_jpeg(tmp_path / "first.jpg"))], JobReason.NEW)
        assert any(dispatcher.pump(0.1) for _ in range(50)), "the first photo"
        assert dispatcher.pump(0.1) == 0 and len(starts) == 1, "idle, but not for long enough"
        now[0] += IDLE_SECONDS
        assert dispatcher.pump(0.1) == 0
        assert dispatcher.keeper.pool is None, "stopped after idle_seconds"
        assert queue.counts()[JobState.QUEUED] == 1, "the late photo waits in the queue"
        assert any(dispatcher.pump(0.1) for _ in range(50)), "the late photo"
        assert len(starts) == 2 and done == [str(tmp_path / "first.jpg"), str(late)]
    finally:
        dispatcher.close()
        store.close()
