"""The worker side of the cluster: the path map, the remote analysis job, `shadowlens worker`'s
command line, and a real scheduler and worker over mutual TLS analysing photos for a client."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from shadowlens.daemon.analysis.findings import DeviceFinding, RawPairFinding
from shadowlens.daemon.analysis.pool import build_pipeline
from shadowlens.daemon.cluster.files import ClusterFiles, worker_files, write_private
from shadowlens.daemon.cluster.jobs import (
    NOT_ON_WORKER,
    PathMap,
    WorkerSetupError,
    _finding_to_daemon,
    analyse_remote,
    config_for_workers,
    daemon_stat,
)
from shadowlens.daemon.cluster.worker import PRELOAD, parse_join, worker_argv, worker_env
from shadowlens.daemon.config import Config, parse_config
from shadowlens.daemon.paths import app_paths

from tests.conftest import SHADOWLENS, Env

DAEMON_ROOT = "/volume1/photos"  # the NAS's own path: not on this machine, as on a real worker


def metadata_config() -> Config:
    """Only the metadata detector, whatever else is installed: fast, and no model needed."""
    from importlib.metadata import entry_points

    others = sorted({ep.name for ep in entry_points(group="shadowlens.detectors")} - {"metadata"})
    text = "".join(f"[detectors.{name}]\nenabled = false\n" for name in others)
    return parse_config(tomllib.loads(text), "test")


def camera_photo(path: Path, make: str = "Canon", model: str = "EOS R6") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = make, model
    Image.new("RGB", (64, 48), (120, 80, 40)).save(path, "JPEG", exif=exif.tobytes())
    return path


# -- the path map ----------------------------------------------------------------------------------


def test_prefixes_match_whole_components_only() -> None:
    paths = PathMap({"/volume1/photos": "/mnt/nas/photos"})
    assert paths.to_worker("/volume1/photos/2024/a.jpg") == "/mnt/nas/photos/2024/a.jpg"
    assert paths.to_worker("/volume1/photos") == "/mnt/nas/photos"
    assert paths.to_worker("/volume1/photos2/a.jpg") == "/volume1/photos2/a.jpg"
    assert paths.to_daemon("/mnt/nas/photos-old/a.jpg") == "/mnt/nas/photos-old/a.jpg"


def test_the_longest_prefix_wins_whatever_the_order() -> None:
    mapping = {"/volume1": "/mnt/vol", "/volume1/photos/phone": "/media/phone", "/volume1/photos/": "/mnt/p/"}
    paths = PathMap(mapping)
    assert paths.to_worker("/volume1/photos/phone/x.jpg") == "/media/phone/x.jpg"
    assert paths.to_worker("/volume1/photos/cam/x.jpg") == "/mnt/p/cam/x.jpg"
    assert paths.to_worker("/volume1/docs/x.jpg") == "/mnt/vol/docs/x.jpg"
    assert paths.to_daemon("/media/phone/x.jpg") == "/volume1/photos/phone/x.jpg"
    assert paths.to_daemon("/mnt/p/cam/x.jpg") == "/volume1/photos/cam/x.jpg"


def test_paths_outside_every_prefix_pass_through_and_mapped_ones_round_trip() -> None:
    paths = PathMap({"/volume1/photos": "/mnt/nas/photos", "/": "/srv/root"})
    assert PathMap({}).to_worker("/volume1/photos/a.jpg") == "/volume1/photos/a.jpg"
    assert paths.to_worker("relative/a.jpg") == "relative/a.jpg"
    for path in ("/volume1/photos/a b/é.jpg", "/home/me/x.jpg", "/"):
        assert paths.to_daemon(paths.to_worker(path)) == path
    assert paths.to_worker("/home/me/x.jpg") == "/srv/root/home/me/x.jpg"


def test_a_finding_naming_another_file_names_it_as_the_daemon_does() -> None:
    paths = PathMap({DAEMON_ROOT: "/mnt/nas/photos"})
    twin = RawPairFinding(label="IMG_1.JPG", sibling="/mnt/nas/photos/2024/IMG_1.JPG", extra={"n": 1})
    assert _finding_to_daemon(twin, paths) == RawPairFinding(
        label="IMG_1.JPG", sibling=f"{DAEMON_ROOT}/2024/IMG_1.JPG", extra={"n": 1}
    )
    device = DeviceFinding(label="Canon", make="Canon")
    assert _finding_to_daemon(device, paths) is device


# -- the job ------------------------------------------------------------------------------------------


def test_a_job_analyses_the_workers_files_under_the_daemons_paths(tmp_path: Path) -> None:
    mount = tmp_path / "mnt" / "photos"
    camera_photo(mount / "2024" / "a.jpg")
    config = metadata_config()
    # Everything the daemon's config holds, even what only the daemon's machine has (a segments
    # file), reaches the worker: only the analysis settings are read.
    data = json.loads(config.model_dump_json())
    data["profile"]["segments_file"] = "/volume1/only-on-the-nas/segments.toml"
    daemon_path = f"{DAEMON_ROOT}/2024/a.jpg"

    [result] = analyse_remote([daemon_path], json.dumps(data), {DAEMON_ROOT: str(mount)})

    assert result.path == daemon_path
    assert result.problem is None and result.sha256 is not None
    assert result.signature == build_pipeline(config, None).signature
    assert [run.detector for run in result.runs] == ["metadata"]
    devices = [f for f in result.findings if isinstance(f, DeviceFinding)]
    assert [(d.make, d.model) for d in devices] == [("Canon", "EOS R6")]


def test_a_file_missing_on_the_worker_is_that_files_error(tmp_path: Path) -> None:
    mount = tmp_path / "mnt" / "photos"
    camera_photo(mount / "here.jpg")
    paths = [f"{DAEMON_ROOT}/here.jpg", f"{DAEMON_ROOT}/gone.jpg", "/srv/unmapped/x.jpg"]

    here, gone, unmapped = analyse_remote(
        paths, config_for_workers(metadata_config()), {DAEMON_ROOT: str(mount)}
    )
    assert here.problem is None
    for result, seen_as in ((gone, str(mount / "gone.jpg")), (unmapped, "/srv/unmapped/x.jpg")):
        assert result.file_error is not None and result.sha256 is None
        # One line: the worker's path, and the setting that fixes a wrong one.
        assert "\n" not in result.file_error
        assert result.file_error.startswith(f"{NOT_ON_WORKER} {socket.gethostname()} at {seen_as}:")
        assert "[cluster] path_map" in result.file_error
    assert [r.path for r in (here, gone, unmapped)] == paths


def test_a_config_this_worker_cannot_run_is_one_error_for_the_job(tmp_path: Path) -> None:
    data = json.loads(config_for_workers(metadata_config()))
    data["detectors"]["only-on-the-daemon"] = {"enabled": True}
    with pytest.raises(WorkerSetupError, match=r"detectors\.only-on-the-daemon: unknown detector"):
        analyse_remote([str(tmp_path / "a.jpg")], json.dumps(data), {})


def test_the_daemon_keeps_its_own_stat_of_an_unchanged_file(tmp_path: Path) -> None:
    photo = camera_photo(tmp_path / "a.jpg")
    [result] = analyse_remote([str(photo)], config_for_workers(metadata_config()), {})
    assert result.stat is not None
    worker_view = type(result.stat)(result.stat.size, result.stat.mtime_ns, 1, 99)  # another mount's numbers
    result.stat = worker_view
    assert daemon_stat(result).stat == type(result.stat).of(photo)

    result.stat = worker_view
    photo.write_bytes(photo.read_bytes() + b"more")
    changed = daemon_stat(result)
    assert changed.file_error is not None and changed.sha256 is None and changed.stat is None


# -- the command line --------------------------------------------------------------------------------


def test_join_takes_a_host_with_or_without_a_port() -> None:
    assert parse_join("nas.local") == ("nas.local", 8786)
    assert parse_join("10.0.0.2:9000") == ("10.0.0.2", 9000)
    assert parse_join("[fd00::2]:9000") == ("fd00::2", 9000)
    assert parse_join("fd00::2") == ("fd00::2", 8786)
    for bad in ("nas.local:port", ":8786", "nas.local:0", ""):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_join(bad)


def test_the_dask_worker_command_line(tmp_path: Path) -> None:
    files = ClusterFiles(tmp_path, "worker")
    argv = worker_argv("nas.local", 8786, files, 3, "helper", providers=["CPUExecutionProvider"])
    assert argv[:4] == [sys.executable, "-m", "distributed.cli.dask_worker", "tls://nas.local:8786"]
    options = dict(zip(argv[4::2], argv[5::2], strict=False))
    assert options["--nthreads"] == "1" and options["--nworkers"] == "3" and options["--name"] == "helper"
    assert options["--preload"] == PRELOAD == "shadowlens.daemon.cluster.preload"
    assert options["--tls-ca-file"] == str(files.ca_cert)
    assert options["--tls-cert"] == str(files.cert) and options["--tls-key"] == str(files.key)
    assert "--no-dashboard" in argv and "--resources" not in argv

    env = worker_env(3, verbose=0, base={"PATH": "/usr/bin"})
    assert env["SHADOWLENS_WORKERS"] == "3" and env["PATH"] == "/usr/bin"
    assert env["DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"] == "True"
    assert env["SHADOWLENS_WORKER_LAUNCHER"] == str(os.getpid())

    for gpu in ("CUDAExecutionProvider", "ROCMExecutionProvider", "DmlExecutionProvider"):
        argv = worker_argv("fd00::2", 8786, files, 1, "helper", providers=[gpu, "CPUExecutionProvider"])
        assert argv[3] == "tls://[fd00::2]:8786"
        assert argv[argv.index("--resources") + 1] == "GPU=1"


def test_without_an_identity_or_a_token_it_says_where_to_get_one(env: Env) -> None:
    proc = env.run("worker", "--join", "nas.local", check=False, timeout=30)
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()
    assert "`shadowlens cluster token` on the daemon's machine" in line


def test_a_refused_enrolment_is_one_line(env: Env) -> None:
    # Port 1 on this machine: nothing listens there, so the connection is refused at once.
    token = "x" * 20 + "." + "0" * 32
    proc = env.run(
        "worker", "--join", "127.0.0.1", "--token", token, "--enrol-port", "1", check=False, timeout=30
    )
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()
    assert "127.0.0.1:1" in line


# -- a real cluster ----------------------------------------------------------------------------------


def _wait_for(
    what: str, check: Callable[[], object], timeout: float, log: Callable[[], str] = lambda: ""
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{log()[-3000:]}")
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Cluster:
    """The daemon's side: its CA and certificate, and its scheduler (TLS only), which a test may
    stop and start again on the same port, as a restarted daemon does."""

    def __init__(self, folder: Path) -> None:
        from shadowlens.daemon.cluster.certs import init_ca

        self.folder = folder
        self.files = ClusterFiles(folder / "daemon-cluster", "daemon")
        init_ca(self.files, ["127.0.0.1"])
        self.port = _free_port()
        self.address = f"tls://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        from shadowlens.daemon.cluster.scheduler import scheduler_argv

        with (self.folder / "scheduler.log").open("ab") as log:
            proc = subprocess.Popen(
                scheduler_argv(self.files, "127.0.0.1", self.port), stdout=log, stderr=subprocess.STDOUT
            )
        self.proc = proc
        _wait_for("the scheduler", lambda: _listening(self.port) or proc.poll() is not None, 20)
        assert proc.poll() is None, (self.folder / "scheduler.log").read_text()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def client(self) -> Any:
        from distributed import Client
        from shadowlens.daemon.cluster.files import security

        # distributed's Client is untyped
        return Client(self.address, security=security(self.files), timeout=20, set_as_default=False)  # type: ignore[no-untyped-call]

    def enrol(self, name: str, ca: ClusterFiles | None = None) -> None:
        """This test account's worker identity, signed by the cluster's CA (or by ``ca``)."""
        from shadowlens.daemon.cluster.certs import make_key_and_csr, sign_csr

        files = worker_files(app_paths())
        key, csr = make_key_and_csr(name)
        write_private(files.ca_cert, self.files.ca_cert.read_bytes())
        write_private(files.key, key)
        write_private(files.cert, sign_csr(ca or self.files, csr, name))

    def worker(self, *args: str) -> subprocess.Popen[str]:
        """`shadowlens worker`, as a helper machine runs it; its stderr is in ``worker.log``."""
        with (self.folder / "worker.log").open("a") as log:
            return subprocess.Popen(
                [str(SHADOWLENS), "worker", "--join", f"127.0.0.1:{self.port}", "--nworkers", "1", *args],
                stderr=log,
                text=True,
            )

    def worker_log(self) -> str:
        return (self.folder / "worker.log").read_text()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


def _end(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _workers(client: Any) -> int:
    return len(client.scheduler_info()["workers"])


@pytest.mark.timeout(60)
def test_a_joined_worker_analyses_for_the_daemon_over_tls(env: Env, tmp_path: Path, cluster: Cluster) -> None:
    cluster.enrol("helper")
    cluster.start()
    mount = tmp_path / "mnt" / "photos"
    camera_photo(mount / "a.jpg", "Canon", "EOS R6")
    camera_photo(mount / "b.jpg", "NIKON CORPORATION", "NIKON Z 6")
    config = metadata_config()
    worker = cluster.worker()
    try:
        with cluster.client() as client:
            client.wait_for_workers(1, timeout=30)
            paths = [f"{DAEMON_ROOT}/a.jpg", f"{DAEMON_ROOT}/b.jpg"]
            job = client.submit(analyse_remote, paths, config_for_workers(config), {DAEMON_ROOT: str(mount)})
            results = job.result(timeout=30)
            assert [r.path for r in results] == paths
            assert all(r.problem is None for r in results)
            signature = build_pipeline(config, None).signature
            assert [r.signature for r in results] == [signature, signature]
            makes = [[f.make for f in r.findings if isinstance(f, DeviceFinding)] for r in results]
            assert makes == [["Canon"], ["NIKON CORPORATION"]]
            # One worker process, as `shadowlens worker` said: its sessions size their threads by it.
            [workers_env] = client.run(lambda: os.environ.get("SHADOWLENS_WORKERS")).values()
            assert workers_env == "1"

            worker.send_signal(signal.SIGTERM)
            assert worker.wait(20) == 0
            _wait_for("the worker to leave", lambda: _workers(client) == 0, 10)
    finally:
        _end(worker)
    assert f"for the daemon at {cluster.address}; Ctrl-C stops" in cluster.worker_log()


@pytest.mark.timeout(180)
def test_a_worker_waits_for_the_daemon_rejoins_it_and_ends_with_its_launcher(
    env: Env, cluster: Cluster
) -> None:
    cluster.enrol("helper")
    worker = cluster.worker()  # before the daemon: at boot, a helper may well be up first
    try:
        _wait_for(
            "the waiting line", lambda: "waiting for the daemon's scheduler" in cluster.worker_log(), 20
        )
        cluster.start()
        with cluster.client() as client:
            client.wait_for_workers(1, timeout=30)
        # The daemon restarts: `dask worker` ends with its scheduler; `shadowlens worker` does not.
        cluster.stop()
        _wait_for("the worker to notice", lambda: "went away" in cluster.worker_log(), 90, cluster.worker_log)
        cluster.start()
        with cluster.client() as client:
            client.wait_for_workers(1, timeout=30)
            assert worker.poll() is None
            # Killed outright, the launcher leaves no worker behind (they have their own session).
            worker.kill()
            _wait_for("the worker to leave", lambda: _workers(client) == 0, 20)
    finally:
        _end(worker)


def test_a_certificate_of_another_cluster_is_one_line(env: Env, tmp_path: Path, cluster: Cluster) -> None:
    from shadowlens.daemon.cluster.certs import init_ca

    other = ClusterFiles(tmp_path / "other-cluster", "daemon")
    init_ca(other, ["127.0.0.1"])
    cluster.enrol("helper", ca=other)
    cluster.start()
    worker = cluster.worker()
    try:
        assert worker.wait(20) == 1
    finally:
        _end(worker)
    line = cluster.worker_log().splitlines()[-1]
    assert "refused this machine's certificate" in line and "shadowlens cluster token" in line
