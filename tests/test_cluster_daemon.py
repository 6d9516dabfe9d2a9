"""The daemon with joined cluster workers: real processes throughout.

A `shadowlens watch` daemon with [cluster] listen runs its Dask scheduler (TLS) and enrolment
service; helper machines are `shadowlens worker --join` processes, each with its own account
(XDG dirs) and a one-time token, on 127.0.0.1. Photos are small camera JPEGs; only the metadata
detector and a "sleepy" test plugin run, so a photo takes a known time without any model.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import SHADOWLENS, Env
from tests.daemon_helpers import WatchProcess, query, wait_for
from tests.plugin_builder import CRASHER, SLEEPY, install_plugin
from tests.test_cluster_worker import _free_port

pytestmark = pytest.mark.timeout(240)

SLEEP_SECONDS = "0.4"  # each slow-* photo: long enough that a batch is in flight when a worker dies


@dataclass
class Setup:
    env: Env
    folder: Path
    site: Path
    port: int
    enrol_port: int
    root: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def plugin_env(self) -> dict[str, str]:
        return {"PYTHONPATH": str(self.site), "SLEEPY_SECONDS": SLEEP_SECONDS}

    def token(self) -> str:
        out = self.env.run("cluster", "token")
        found = re.search(r"token: (\S+)", out.stdout + out.stderr)
        assert found, out.stdout + out.stderr
        return found.group(1)

    def join(self, name: str) -> subprocess.Popen[bytes]:
        """A helper machine: its own account, enrolled with a fresh token, one process."""
        helper = Env(self.root / name)
        variables = {**os.environ, **helper.vars, **self.plugin_env()}
        log = (self.root / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [
                str(SHADOWLENS),
                "worker",
                "--join",
                f"127.0.0.1:{self.port}",
                "--token",
                self.token(),
                "--enrol-port",
                str(self.enrol_port),
                "--nworkers",
                "1",
                "--name",
                name,
            ],
            env=variables,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.workers.append(proc)
        return proc

    def joined(self) -> list[dict[str, object]]:
        workers = self.env.json("status").get("cluster_workers") or []
        return list(workers)

    def photos(self, count: int, prefix: str = "slow") -> list[Path]:
        return [photo(self.folder / f"{prefix}-{i:03d}.jpg", i) for i in range(count)]

    def indexed(self) -> int:
        return int(query(self.env.index, "SELECT count(*) FROM files WHERE status = 'indexed'")[0][0])


def photo(path: Path, seed: int) -> Path:
    """A camera JPEG of its own content: photos of equal bytes are analysed once and linked."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "EOS R6"
    colour = (seed * 37 % 256, seed * 91 % 256, 255 - seed * 13 % 256)
    Image.new("RGB", (64, 48), colour).save(path, "JPEG", exif=exif.tobytes())
    return path


def _config(port: int, enrol_port: int, local_workers: int, extra: str = "") -> str:
    detectors = sorted({ep.name for ep in entry_points(group="shadowlens.detectors")} - {"metadata"})
    off = "".join(f"[detectors.{name}]\nenabled = false\n" for name in detectors)
    return (
        f"[watch]\nsettle_seconds = 0.3\nmax_attempts = 2\n[scan]\nworkers = {local_workers}\nbatch_size = 2\n"
        f'[cluster]\nlisten = "127.0.0.1:{port}"\nenrol_port = {enrol_port}\n{extra}{off}'
    )


@pytest.fixture
def cluster(env: Env, tmp_path: Path) -> Iterator[Setup]:
    site = install_plugin(tmp_path / "site", "sleepy_plugin", "sleepy", "SleepyDetector", SLEEPY)
    folder = tmp_path / "Photos"
    folder.mkdir()
    setup = Setup(env, folder, site, _free_port(), _free_port(), tmp_path)
    env.write_config(_config(setup.port, setup.enrol_port, local_workers=1))
    env.run("cluster", "init", "--host", "127.0.0.1")
    try:
        yield setup
    finally:
        for proc in setup.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _daemon(setup: Setup, *helpers: str) -> WatchProcess:
    """The daemon, ready, with ``helpers`` joined (each `shadowlens worker` of its own)."""
    daemon = WatchProcess(setup.env, setup.folder, extra_env=setup.plugin_env())
    daemon.wait_ready(90)
    try:
        for name in helpers:
            setup.join(name)
        wait_for(lambda: len(setup.joined()) == len(helpers), 90, f"{len(helpers)} worker(s) to join", daemon)
    except BaseException:
        daemon.stop()
        raise
    return daemon


def _exactly_once(env: Env, count: int) -> None:
    """Every photo indexed once: one file row, one finished analysis, one run of each detector."""
    rows = query(env.index, "SELECT path, status FROM files")
    assert len(rows) == count and {status for _, status in rows} == {"indexed"}, rows
    jobs = query(
        env.index,
        "SELECT path, count(*) FROM jobs WHERE reason != 'safe_copy' AND state = 'done' GROUP BY path",
    )
    assert len(jobs) == count and all(n == 1 for _, n in jobs), jobs
    # One photo row each (each photo is of its own content), each with one run of every detector.
    runs = query(env.index, "SELECT photo_id, count(*) FROM detector_runs GROUP BY photo_id")
    assert len(runs) == count and len({n for _, n in runs}) == 1, runs
    with sqlite3.connect(f"file:{env.index}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_two_joined_workers_and_the_daemon_index_a_library_exactly_once(cluster: Setup) -> None:
    daemon = _daemon(cluster, "desk", "laptop")
    try:
        cluster.photos(24)
        wait_for(lambda: cluster.indexed() == 24, 120, "24 photos indexed", daemon)
        _exactly_once(cluster.env, 24)
        wait_for(
            lambda: sum(int(str(w["photos"])) for w in cluster.joined()) > 0, 10, "the heartbeat", daemon
        )
        workers = cluster.joined()
        assert sorted(str(w["host"]) for w in workers) == ["127.0.0.1", "127.0.0.1"]
        assert all(w["threads"] == 1 and w["gpu"] is False for w in workers)
        status = cluster.env.run("status").stdout
        assert status.count("worker ") == 2 and "photos/s" in status
        assert daemon.terminate()[0] == 0
    finally:
        daemon.stop()


def test_a_worker_killed_mid_run_loses_and_repeats_nothing(cluster: Setup) -> None:
    daemon = _daemon(cluster, "desk", "laptop")
    try:
        victim = cluster.workers[0]
        cluster.photos(30)
        wait_for(lambda: cluster.indexed() >= 4, 60, "the first photos", daemon)
        # Its dask worker processes (the nanny and the worker), as the kernel's OOM killer would.
        killed = _children(victim.pid)
        assert killed, "the worker launcher has no dask processes"
        for pid in killed:
            _kill(pid)
        wait_for(lambda: cluster.indexed() == 30, 150, "all 30 photos after the kill", daemon)
        _exactly_once(cluster.env, 30)
        assert daemon.proc.poll() is None
        assert daemon.terminate()[0] == 0
    finally:
        daemon.stop()


def test_when_every_worker_leaves_the_local_pool_takes_over(cluster: Setup) -> None:
    daemon = _daemon(cluster, "desk")
    try:
        only = cluster.workers[0]
        cluster.photos(16)
        wait_for(lambda: cluster.indexed() >= 2, 60, "the first photos", daemon)
        only.send_signal(signal.SIGTERM)
        only.wait(30)
        wait_for(lambda: cluster.indexed() == 16, 150, "the local pool to finish the library", daemon)
        _exactly_once(cluster.env, 16)
        assert query(cluster.env.index, "SELECT count(*) FROM jobs WHERE state = 'parked'")[0][0] == 0
        assert daemon.terminate()[0] == 0
    finally:
        daemon.stop()


def test_a_file_that_kills_workers_is_that_files_error(cluster: Setup, tmp_path: Path) -> None:
    # Beside the sleepy plugin, so on the path of every process.
    install_plugin(cluster.site, "crash_plugin", "crasher", "CrashDetector", CRASHER)
    daemon = _daemon(cluster, "desk")
    try:
        photo(cluster.folder / "crash-1.jpg", 999)
        cluster.photos(6)
        wait_for(
            lambda: (
                query(cluster.env.index, "SELECT state FROM jobs WHERE path LIKE '%crash-1.jpg'")
                == [("parked",)]
            ),
            180,
            "the crashing photo to be parked",
            daemon,
        )
        wait_for(lambda: cluster.indexed() == 6, 120, "the other photos", daemon)
        errors = cluster.env.json("photos", "--status", "error")
        assert [Path(e["path"]).name for e in errors] == ["crash-1.jpg"]
        assert daemon.proc.poll() is None
        assert daemon.terminate()[0] == 0
    finally:
        daemon.stop()


def test_photos_reach_the_workers_through_the_path_map(cluster: Setup, tmp_path: Path) -> None:
    # The worker's "mount" of the library is a symlinked folder: another path to the same files.
    mount = tmp_path / "mnt" / "nas-photos"
    mount.parent.mkdir()
    mount.symlink_to(cluster.folder)
    cluster.env.write_config(
        _config(
            cluster.port,
            cluster.enrol_port,
            local_workers=1,
            extra=f'path_map = {{ "{cluster.folder}" = "{mount}" }}\n',
        )
    )
    daemon = _daemon(cluster, "desk")
    try:
        cluster.photos(8)
        wait_for(lambda: cluster.indexed() == 8, 120, "8 photos", daemon)
        paths = {row[0] for row in query(cluster.env.index, "SELECT path FROM files")}
        assert all(p.startswith(str(cluster.folder)) for p in paths), paths
        _exactly_once(cluster.env, 8)
        assert daemon.terminate()[0] == 0
    finally:
        daemon.stop()


def _children(root: int) -> list[int]:
    found, todo = [], [root]
    while todo:
        parent = todo.pop()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
                todo.append(int(entry.name))
    return found


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def test_a_daemon_that_leaves_the_work_to_its_helpers_analyses_none_itself(cluster: Setup) -> None:
    cluster.env.write_config(
        _config(cluster.port, cluster.enrol_port, local_workers=1, extra="local_pool_while_joined = false\n")
    )
    daemon = _daemon(cluster, "desk")
    try:
        cluster.photos(10)
        wait_for(lambda: cluster.indexed() == 10, 120, "10 photos", daemon)
        _exactly_once(cluster.env, 10)
        wait_for(
            lambda: cluster.joined()[0]["photos"] == 10, 10, "the worker's count in the heartbeat", daemon
        )
        assert daemon.terminate()[0] == 0
    finally:
        daemon.stop()


def test_a_daemon_killed_outright_leaves_no_scheduler_and_the_next_one_starts(cluster: Setup) -> None:
    daemon = _daemon(cluster)
    scheduler = [pid for pid in _children(daemon.proc.pid) if b"scheduler_main" in _cmdline(pid)]
    assert len(scheduler) == 1
    daemon.kill()
    wait_for(
        lambda: not Path(f"/proc/{scheduler[0]}").exists() or _zombie(scheduler[0]),
        20,
        "the scheduler to end",
    )
    daemon.stop()
    again = _daemon(cluster, "desk")  # the port is free again, and a worker joins the new one
    try:
        assert again.terminate()[0] == 0
    finally:
        again.stop()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
