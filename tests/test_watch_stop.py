"""Ctrl-C on `shadowlens watch`: one "stopping" line, exit 0, and no photo lost."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import Env, small_jpeg
from tests.daemon_helpers import query
from tests.foreground_watch import ForegroundWatch, alive, worker_children
from tests.plugin_builder import SLEEPY, install_plugin

PHOTOS = 12
STOPPING = re.compile(r"^(?:shadowlens: |INFO shadowlens\.watch: )stopping; (\d+) jobs? requeued$", re.M)


def _photos(folder: Path) -> list[Path]:
    # slow-* photos take SLEEPY_SECONDS each, so some are surely in progress at Ctrl-C.
    return [small_jpeg(folder / f"slow-{i:02d}.jpg", color=(20 * i, 90, 200 - 10 * i)) for i in range(PHOTOS)]


def _running(env: Env) -> int:
    try:
        return int(query(env.index, "SELECT count(*) FROM jobs WHERE state = 'running'")[0][0])
    except Exception:  # the index is still being created
        return 0


def _assert_one_clean_stop(daemon: ForegroundWatch, code: int) -> int:
    out, err = daemon.stdout(), daemon.stderr()
    assert code == 0, err
    for text in (out, err):
        assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert "Aborted" not in err, err
    lines = [line for line in err.splitlines() if "stopping" in line]
    assert len(lines) == 1, err
    match = STOPPING.search(err)
    assert match, err
    return int(match.group(1))


def _sleepy(tmp_path: Path, env: Env, seconds: str, stop_timeout: float) -> dict[str, str]:
    site = install_plugin(tmp_path / "site", "sleepy_plugin", "sleepy", "SleepyDetector", SLEEPY)
    env.write_config(f"[watch]\nstop_timeout_seconds = {stop_timeout}\n[scan]\nworkers = 2\n")
    return {"PYTHONPATH": str(site), "SLEEPY_SECONDS": seconds}


def _restart_indexes_everything(env: Env, folder: Path, extra: dict[str, str], photos: list[Path]) -> None:
    again = ForegroundWatch(env, folder, extra_env={**extra, "SLEEPY_SECONDS": "0"})
    try:

        def all_indexed() -> bool:
            rows = query(env.index, "SELECT path FROM files WHERE status = 'indexed'")
            return {Path(p) for (p,) in rows} == set(photos)

        again.wait_until(all_indexed, 120, "every photo to be indexed after the restart")
        again.interrupt()
        _assert_one_clean_stop(again, again.wait(30))
    finally:
        again.close()
    assert query(env.index, "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')") == [(0,)]


def test_ctrl_c_mid_work_stops_cleanly_requeues_and_loses_nothing(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "Camera"
    photos = _photos(folder)
    extra = _sleepy(tmp_path, env, "30", stop_timeout=1.0)
    daemon = ForegroundWatch(env, folder, extra_env=extra)
    try:
        daemon.wait_until(lambda: _running(env) >= 2, 60, "photos in progress")
        workers = worker_children(daemon.proc.pid)
        assert workers, "the daemon analyses in worker processes"
        daemon.interrupt()
        requeued = _assert_one_clean_stop(daemon, daemon.wait(30))
    finally:
        daemon.close()
    # The photos in progress could not finish in stop_timeout_seconds: they went back to the queue.
    assert requeued >= 2
    assert not [pid for pid in workers if alive(pid)], "the workers ended with the daemon"
    assert query(env.index, "SELECT count(*) FROM jobs WHERE state = 'running'") == [(0,)]
    queued = query(env.index, "SELECT count(*) FROM jobs WHERE state = 'queued'")[0][0]
    assert queued == PHOTOS, "every photo not analysed yet waits for the next start"
    _restart_indexes_everything(env, folder, extra, photos)


def test_a_second_ctrl_c_stops_at_once_and_still_requeues(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "Camera"
    photos = _photos(folder)
    # Without the second Ctrl-C, the daemon would wait a minute for the photos in progress.
    extra = _sleepy(tmp_path, env, "120", stop_timeout=60.0)
    daemon = ForegroundWatch(env, folder, "-v", extra_env=extra)
    try:
        daemon.wait_until(lambda: _running(env) >= 2, 60, "photos in progress")
        daemon.interrupt()
        daemon.wait_until(lambda: daemon.notified("STOPPING"), 30, "the daemon to start stopping")
        daemon.interrupt()
        requeued = _assert_one_clean_stop(daemon, daemon.wait(20))
    finally:
        daemon.close()
    assert requeued >= 2
    assert query(env.index, "SELECT count(*) FROM jobs WHERE state = 'running'") == [(0,)]
    _restart_indexes_everything(env, folder, extra, photos)
