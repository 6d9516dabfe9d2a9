"""`shadowlens watch` with real watchdog observers, real files and a real daemon process."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Env, corpus_or_skip, small_jpeg
from tests.daemon_helpers import WatchProcess, done_jobs, query, status_of, wait_for


@pytest.fixture
def daemon(env: Env, folder: Path) -> Iterator[WatchProcess]:
    env.write_config("[watch]\nsettle_seconds = 1.0\nforget_after_seconds = 1.0\n")
    proc = WatchProcess(env, folder, watchdog_usec=2_000_000)
    proc.wait_ready()
    yield proc
    proc.stop()


def test_ready_status_and_watchdog_pings_reach_systemd(daemon: WatchProcess) -> None:
    messages = daemon.read_messages(3)
    ready = next(m for m in messages if m.get("READY") == "1")
    assert ready["MAINPID"] == str(daemon.proc.pid)
    assert any("WATCHDOG" in m for m in messages), "pings every half WATCHDOG_USEC"
    assert any(m.get("STATUS", "").startswith("queue ") for m in messages)
    code, seconds = daemon.terminate()
    assert code == 0 and seconds < 10
    assert any(m.get("STOPPING") == "1" for m in daemon.read_messages(1))


def test_a_slowly_written_photo_is_analysed_once_after_it_is_complete(
    env: Env, folder: Path, daemon: WatchProcess
) -> None:
    source = corpus_or_skip() / "exif-samples/gps/DSCN0010.jpg"
    data = source.read_bytes()
    target = folder / "slow.jpg"
    chunks = [data[i : i + len(data) // 4 + 1] for i in range(0, len(data), len(data) // 4 + 1)]
    with open(target, "wb") as handle:
        for chunk in chunks:  # about 3 s in all, never idle for the settle interval
            handle.write(chunk)
            handle.flush()
            time.sleep(0.75)
            assert status_of(env.index, target) in (None,), "analysed before the file was complete"
    wait_for(lambda: status_of(env.index, target) == "indexed", 30, "the slow photo to be indexed", daemon)
    time.sleep(2)  # any late duplicate event would have produced a second job by now
    assert done_jobs(env.index, target) == 1
    gps = query(
        env.index,
        "SELECT p.lat FROM files f JOIN photos p ON p.id = f.photo_id WHERE f.path = ?",
        str(target),
    )
    assert gps and abs(gps[0][0] - 43.467448) < 1e-5


def test_syncthing_temp_then_rename_is_one_new_photo(env: Env, folder: Path, daemon: WatchProcess) -> None:
    temp = folder / ".syncthing.IMG_0001.jpg.tmp"
    small_jpeg(temp, color=(10, 200, 30))
    time.sleep(1.5)
    assert query(env.index, "SELECT count(*) FROM jobs")[0][0] == 0, "temporary files are never queued"
    os.rename(temp, folder / "IMG_0001.jpg")
    wait_for(
        lambda: status_of(env.index, folder / "IMG_0001.jpg") == "indexed", 20, "the renamed photo", daemon
    )
    assert query(env.index, "SELECT count(*) FROM files")[0][0] == 1


def test_a_move_keeps_the_analysis_and_a_deletion_leaves_the_index(
    env: Env, folder: Path, daemon: WatchProcess
) -> None:
    first = small_jpeg(folder / "a.jpg", color=(200, 10, 10))
    wait_for(lambda: status_of(env.index, first) == "indexed", 20, "a.jpg indexed", daemon)
    before = query(env.index, "SELECT p.id, p.analysed_at FROM photos p")
    findings_before = query(env.index, "SELECT id FROM findings ORDER BY id")
    (folder / "2024").mkdir()
    os.rename(first, folder / "2024" / "renamed.jpg")
    wait_for(lambda: done_jobs(env.index, folder / "2024" / "renamed.jpg") == 1, 20, "the move", daemon)
    assert status_of(env.index, first) is None
    assert status_of(env.index, folder / "2024" / "renamed.jpg") == "indexed"
    assert query(env.index, "SELECT p.id, p.analysed_at FROM photos p") == before, "not analysed again"
    assert query(env.index, "SELECT id FROM findings ORDER BY id") == findings_before
    os.rename(folder / "2024", folder / "2024-trip")
    wait_for(
        lambda: status_of(env.index, folder / "2024-trip" / "renamed.jpg") == "indexed", 20, "folder move"
    )
    assert query(env.index, "SELECT p.id, p.analysed_at FROM photos p") == before
    (folder / "2024-trip" / "renamed.jpg").unlink()
    wait_for(lambda: query(env.index, "SELECT count(*) FROM files")[0][0] == 0, 20, "the deletion", daemon)
    # Its analysis outlives it only for the grace period (a move the watcher saw as delete + create).
    wait_for(
        lambda: query(env.index, "SELECT count(*) FROM photos")[0][0] == 0, 15, "the analysis to go", daemon
    )


def test_pause_and_resume_are_honoured_within_two_seconds(
    env: Env, folder: Path, daemon: WatchProcess
) -> None:
    env.run("pause")
    time.sleep(2)
    photo = small_jpeg(folder / "while-paused.jpg", color=(1, 100, 200))
    time.sleep(3)
    assert status_of(env.index, photo) == "pending"
    assert env.json("status")["paused"] is True
    env.run("resume")
    wait_for(lambda: status_of(env.index, photo) == "indexed", 2 + 5, "analysis after resume", daemon)


def test_status_reports_the_running_daemon(env: Env, folder: Path, daemon: WatchProcess) -> None:
    small_jpeg(folder / "x.jpg")
    wait_for(lambda: status_of(env.index, folder / "x.jpg") == "indexed", 20, "x.jpg", daemon)
    wait_for(lambda: env.json("status")["last_photo"] == str(folder / "x.jpg"), 5, "the heartbeat", daemon)
    info = env.json("status")
    assert info["running"] is True and info["pid"] == daemon.proc.pid
    assert info["indexed"] == 1 and info["queued"] == 0 and info["folders"] == {str(folder): "inotify"}
    second = env.run("watch", str(folder), check=False, timeout=60)
    assert second.returncode == 1 and "already watching" in second.stderr
    daemon.terminate()
    assert env.json("status")["running"] is False


def test_files_added_while_the_daemon_was_down_are_found_at_start(env: Env, folder: Path) -> None:
    small_jpeg(folder / "before.jpg", color=(5, 5, 5))
    env.write_config("[watch]\nsettle_seconds = 1.0\n")
    proc = WatchProcess(env, folder)
    try:
        proc.wait_ready()
        wait_for(lambda: status_of(env.index, folder / "before.jpg") == "indexed", 20, "reconcile", proc)
    finally:
        proc.stop()


def test_polling_is_used_when_asked(env: Env, folder: Path) -> None:
    env.write_config(
        f'[library]\nfolders = [{{ path = "{folder}", poll = true }}]\n'
        "[watch]\nsettle_seconds = 1.0\npoll_interval_seconds = 0.5\n"
    )
    proc = WatchProcess(env, folder)
    try:
        proc.wait_ready()
        wait_for(lambda: env.json("status").get("folders") == {str(folder): "polling"}, 10, "heartbeat", proc)
        shutil.copy(corpus_or_skip() / "pillow/hopper.jpg", folder / "polled.jpg")
        wait_for(lambda: status_of(env.index, folder / "polled.jpg") == "indexed", 20, "polled photo", proc)
        assert done_jobs(env.index, folder / "polled.jpg") == 1
    finally:
        proc.stop()
