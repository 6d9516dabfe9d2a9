"""Crash safety of the daemon: kill -9 mid-burst, SIGTERM mid-work, and the systemd unit."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from shadowlens.daemon.paths import app_paths
from shadowlens.daemon.service.unit import render

from tests.conftest import Env, manifest_rows
from tests.daemon_helpers import WatchProcess, query, wait_for
from tests.foreground_watch import alive, children
from tests.plugin_builder import CRASHER, SLEEPY, install_plugin

BURST = 2000


def _make_burst(folder: Path, corpus: Path, count: int) -> list[Path]:
    sources = [corpus / r["path"] for r in manifest_rows() if not r["notes"].startswith("BROKEN")]
    sources = [s for s in sources if s.stat().st_size < 2_000_000][:40]
    paths = []
    for i in range(count):
        target = folder / f"burst-{i // 100:02d}" / f"IMG_{i:05d}{sources[i % len(sources)].suffix}"
        target.parent.mkdir(exist_ok=True)
        os.link(sources[i % len(sources)], target)
        paths.append(target)
    return paths


def _assert_each_analysed_once(index: Path, paths: list[Path]) -> None:
    rows = query(index, "SELECT path, count(*) FROM jobs WHERE state = 'done' GROUP BY path")
    done = {Path(p): n for p, n in rows}
    missing = [p for p in paths if p not in done]
    assert missing == [], f"{len(missing)} files never analysed, e.g. {missing[:3]}"
    twice = {str(p): n for p, n in done.items() if n != 1}
    assert twice == {}, f"analysed more than once: {list(twice.items())[:5]}"
    statuses = dict(query(index, "SELECT status, count(*) FROM files GROUP BY status"))
    assert statuses.get("pending", 0) == 0
    assert query(index, "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')") == [(0,)]
    assert query(index, "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.slow
def test_kill_9_in_mid_burst_then_restart_analyses_every_file_exactly_once(
    env: Env, tmp_path: Path, corpus_copy: Path
) -> None:
    folder = tmp_path / "Sync"
    folder.mkdir()
    env.write_config("[watch]\nsettle_seconds = 1.0\n")
    first = WatchProcess(env, folder)
    try:
        first.wait_ready()
        paths = _make_burst(folder, corpus_copy, BURST)
        wait_for(
            lambda: query(env.index, "SELECT count(*) FROM jobs WHERE state = 'done'")[0][0] >= BURST // 5,
            120,
            "a fifth of the burst",
            first,
        )
        workers = children(first.proc.pid)
        assert workers, "the daemon analyses in worker processes"
        first.kill()  # SIGKILL: no chance to clean up
        # Its workers must not linger as orphans holding memory.
        wait_for(lambda: not any(alive(pid) for pid in workers), 10, f"workers {workers} to exit")
    finally:
        first.stop()
    assert query(env.index, "SELECT count(*) FROM jobs WHERE state = 'done'")[0][0] < BURST, "killed too late"
    second = WatchProcess(env, folder)
    try:
        second.wait_ready()
        wait_for(
            lambda: (
                query(env.index, "SELECT count(*) FROM files WHERE status = 'indexed'")[0][0] == BURST
                and query(env.index, "SELECT count(*) FROM jobs WHERE state IN ('queued','running')")[0][0]
                == 0
            ),
            300,
            "the whole burst after the restart",
            second,
        )
        assert second.terminate()[0] == 0
    finally:
        second.stop()
    _assert_each_analysed_once(env.index, paths)


def test_sigterm_in_mid_work_exits_0_within_10_s_and_the_interrupted_photos_run_after_restart(
    env: Env, tmp_path: Path, corpus_copy: Path
) -> None:
    folder = tmp_path / "Camera"
    folder.mkdir()
    site = install_plugin(tmp_path / "site", "sleepy_plugin", "sleepy", "SleepyDetector", SLEEPY)
    env.write_config("[watch]\nsettle_seconds = 0.5\nstop_timeout_seconds = 1.0\n[scan]\nworkers = 2\n")
    slow = {"PYTHONPATH": str(site), "SLEEPY_SECONDS": "60"}
    daemon = WatchProcess(env, folder, extra_env=slow)
    photos = []
    try:
        daemon.wait_ready()
        for i, name in enumerate(
            ["pillow/hopper.jpg", "exif-samples/gps/DSCN0010.jpg", "pillow/flower2.jpg"]
        ):
            photos.append(folder / f"slow-{i}.jpg")
            shutil.copy(corpus_copy / name, photos[-1])
        wait_for(
            lambda: query(env.index, "SELECT count(*) FROM jobs WHERE state = 'running'")[0][0] >= 2,
            30,
            "the photos to be in progress",
            daemon,
        )
        code, seconds = daemon.terminate()
        assert code == 0, daemon.output()
        assert seconds < 10
    finally:
        daemon.stop()
    assert query(env.index, "SELECT count(*) FROM jobs WHERE state = 'running'") == [(0,)]
    assert query(env.index, "SELECT count(*) FROM jobs WHERE state = 'queued'")[0][0] == 3
    # The same plugin, now fast: the interrupted photos are analysed after the restart.
    again = WatchProcess(env, folder, extra_env={**slow, "SLEEPY_SECONDS": "0"})
    try:
        again.wait_ready()
        wait_for(
            lambda: query(env.index, "SELECT count(*) FROM files WHERE status = 'indexed'")[0][0] == 3,
            60,
            "the interrupted photos",
            again,
        )
        again.terminate()
    finally:
        again.stop()
    _assert_each_analysed_once(env.index, photos)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_accepts_the_unit(env: Env, tmp_path: Path) -> None:
    paths = app_paths()
    unit = tmp_path / "shadowlens.service"
    unit.write_text(render(paths, paths.index_file, [tmp_path / "Pictures"], None))
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    text = unit.read_text()
    for line in (
        "Type=notify",
        "WatchdogSec=",
        "Restart=on-failure",
        "IOSchedulingClass=idle",
        "PrivateNetwork=yes",
        "ProtectSystem=strict",
        f"ReadOnlyPaths=-{tmp_path / 'Pictures'}",
        "MemoryHigh=",
    ):
        assert line in text
    assert str(paths.data_dir) in text and "shadowlens watch" in text
    # The check can fail: a broken unit is refused.
    unit.write_text(text.replace("Type=notify", "Type=bogus"))
    broken = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert "bogus" in broken.stderr


def test_service_install_dry_run_changes_nothing(env: Env) -> None:
    proc = env.run("service", "install", "--dry-run")
    assert (
        "[Service]" in proc.stdout
        and "would run: systemctl --user enable --now shadowlens.service" in proc.stderr
    )
    assert not (env.root / "config" / "systemd").exists()
    assert "would run: systemctl --user disable --now" in env.run("service", "uninstall", "--dry-run").stderr


def test_a_photo_that_keeps_killing_workers_is_parked_and_the_daemon_goes_on(
    env: Env, tmp_path: Path, corpus_copy: Path
) -> None:
    folder = tmp_path / "Camera"
    folder.mkdir()
    site = install_plugin(tmp_path / "site", "crash_plugin", "crasher", "CrashDetector", CRASHER)
    env.write_config("[watch]\nsettle_seconds = 0.5\nmax_attempts = 2\n[scan]\nworkers = 2\n")
    daemon = WatchProcess(env, folder, extra_env={"PYTHONPATH": str(site)})
    try:
        daemon.wait_ready()
        shutil.copy(corpus_copy / "pillow/hopper.jpg", folder / "crash-1.jpg")
        for i, name in enumerate(
            ["exif-samples/gps/DSCN0010.jpg", "pillow/flower2.jpg", "dlib-faces/dogs.jpg"]
        ):
            shutil.copy(corpus_copy / name, folder / f"fine-{i}.jpg")
        wait_for(
            lambda: (
                query(env.index, "SELECT state FROM jobs WHERE path LIKE '%crash-1.jpg'") == [("parked",)]
            ),
            90,
            "the crashing photo to be parked",
            daemon,
        )
        wait_for(
            lambda: query(env.index, "SELECT count(*) FROM files WHERE status = 'indexed'")[0][0] == 3,
            60,
            "the other photos",
            daemon,
        )
        assert daemon.proc.poll() is None, "the daemon must keep running"
        errors = env.json("photos", "--status", "error")
        assert [Path(e["path"]).name for e in errors] == ["crash-1.jpg"]
        assert "worker process died" in errors[0]["error"]
        assert env.json("status")["parked"] == 1
        # Later photos are still analysed.
        shutil.copy(corpus_copy / "pillow/iptc.jpg", folder / "later.jpg")
        wait_for(
            lambda: (
                query(env.index, "SELECT status FROM files WHERE path LIKE '%later.jpg'") == [("indexed",)]
            ),
            60,
            "a photo after the crash",
            daemon,
        )
        assert daemon.terminate()[0] == 0
    finally:
        daemon.stop()


def test_service_install_writes_the_unit_and_enables_it(env: Env, tmp_path: Path) -> None:
    # Mocked: no user systemd manager runs on CI machines, so `systemctl` is a recording stand-in.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.txt"
    fake = bin_dir / "systemctl"
    fake.write_text(
        f'#!/bin/sh\necho "$@" >> {calls}\n[ "$2" = "enable" ] && [ -n "$FAIL_ENABLE" ] && '
        'echo "Failed to connect to bus: No medium found" >&2 && exit 1\nexit 0\n'
    )
    fake.chmod(0o755)
    path = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env.run("service", "install", extra_env=path)
    unit = env.root / "config" / "systemd" / "user" / "shadowlens.service"
    assert "ExecStart=" in unit.read_text() and f"XDG_DATA_HOME={env.root / 'data'}" in unit.read_text()
    assert calls.read_text().splitlines() == [
        "--user daemon-reload",
        "--user enable --now shadowlens.service",
    ]
    assert (env.root / "data" / "shadowlens").is_dir(), "writable paths exist before systemd mounts them"
    failed = env.run("service", "install", check=False, extra_env={**path, "FAIL_ENABLE": "1"})
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1] == (
        "shadowlens: systemctl --user enable --now shadowlens.service failed: "
        "Failed to connect to bus: No medium found"
    )
    env.run("service", "uninstall", extra_env=path)
    assert not unit.exists()
