"""The cluster rows' machinery (issue #19): the synthetic detector plugin, distinct tiny photos,
the daemon with its joined `shadowlens worker` processes, a network namespace with netem
latency, and the photos' timeline as the index recorded it.

Every process is started as a user would start it (the installed console script, its own XDG
account each) and ended by the context managers here, whatever happens in the row.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import numpy as np
from daemon_run import Exit, Index, WatchDaemon
from harness import xdg_env
from proc_memory import descendants

PLUGIN_MODULE = "shadowlens_bench_chain"
DETECTOR = "bench_chain"
# One photo: a (ROWS x WIDTH) input through LAYERS MatMul+Relu with one WIDTH x WIDTH weight,
# 4 G multiply-adds, about 70 ms on one core of the machine this was written on. (A 1 x 256
# input would need thousands of layers: per-node overhead, not arithmetic, would be measured.)
# 960 layers, about 290 ms a photo: of the order of a real photo's analysis with the default set
# here (490 ms on one core, scan.default_set.*), so the daemon's own 13-15 ms a photo and its
# scheduler's 3-5 ms weigh about as much as they do for real photos. At 240 layers (72 ms) they
# were a fifth of the work, and two workers could not reach 1.6x one on 2 cores.
ROWS, WIDTH, LAYERS = 256, 256, 960
PHOTO_SIZE = (64, 48)
STOP_WORKER_S = 15.0


def install_plugin(site: Path) -> Path:
    """The detector as an installed distribution (module + dist-info + its ONNX graph) in
    ``site``, a folder to put on PYTHONPATH."""
    site.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("cluster_plugin.py"), site / f"{PLUGIN_MODULE}.py")
    dist = site / f"{PLUGIN_MODULE}-0.1.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {PLUGIN_MODULE}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        f"[shadowlens.detectors]\n{DETECTOR} = {PLUGIN_MODULE}:ChainDetector\n"
    )
    (site / "bench_chain.onnx").write_bytes(_chain_model())
    return site


def _chain_model() -> bytes:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(19).random((WIDTH, WIDTH)).astype(np.float32)
    weights /= weights.sum(axis=1, keepdims=True)  # see cluster_plugin: values neither vanish nor grow
    nodes, previous = [], "x"
    for i in range(LAYERS):
        out = "y" if i == LAYERS - 1 else f"r{i}"
        nodes += [
            helper.make_node("MatMul", [previous, "w"], [f"m{i}"]),
            helper.make_node("Relu", [f"m{i}"], [out]),
        ]
        previous = out
    graph = helper.make_graph(
        nodes,
        "bench_chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [ROWS, WIDTH])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [ROWS, WIDTH])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime 1.x reads, whatever onnx writes by default
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def make_photos(folder: Path, prefix: str, count: int, seed: int) -> list[Path]:
    """Small JPEGs of random pixels: each of its own content (equal bytes are analysed once
    and linked), each the same work."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        pixels = rng.integers(0, 256, (PHOTO_SIZE[1], PHOTO_SIZE[0], 3), dtype=np.uint8)
        paths.append(folder / f"{prefix}-{i:04d}.jpg")
        Image.fromarray(pixels).save(paths[-1], "JPEG", quality=90)
    return paths


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _started(pid: int) -> int | None:
    """The process's start time (clock ticks after boot): with the pid, it names one process."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def snapshot(pids: list[int]) -> dict[int, int]:
    return {pid: started for pid in pids if (started := _started(pid)) is not None}


def kill_all(processes: dict[int, int]) -> None:
    """SIGKILL each process of a ``snapshot`` still alive; a pid reused since is left alone."""
    for pid, started in processes.items():
        if _started(pid) == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    # WatchDaemon builds the daemon's environment from ours and takes no extra variables.
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


@dataclass
class Topology:
    """Where the scheduler listens, and how the workers are started in another network namespace
    (the `ip netns exec NS` prefix; empty: in this one)."""

    host: str = "127.0.0.1"
    netns: list[str] = field(default_factory=list)


class ClusterDaemon:
    """`shadowlens -v watch FOLDER` with ``config`` (plus [cluster] listen when ``topology`` is
    given) and the `shadowlens worker`s it is joined by. A context manager: on exit every
    worker, the daemon and anything they started (scheduler, dask processes, pool) is ended."""

    def __init__(
        self, cli: list[str], base: Path, site: Path, folder: Path, config: str, topology: Topology | None
    ) -> None:
        self.cli, self.base, self.topology = cli, base, topology
        self.pythonpath = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
        self.account = base / "daemon"
        self.port = self.enrol_port = 0
        if topology is not None:
            self.port, self.enrol_port = free_port(topology.host), free_port(topology.host)
            config += (
                f'[cluster]\nlisten = "{topology.host}:{self.port}"\nenrol_port = {self.enrol_port}\n'
                # Off, the local pool takes no new photos while a worker is joined: the joined
                # workers alone do the measured work (daemon/library/dispatcher.py).
                "local_pool_while_joined = false\n"
            )
        (self.account / "config" / "shadowlens").mkdir(parents=True, exist_ok=True)
        (self.account / "config" / "shadowlens" / "config.toml").write_text(config, encoding="utf-8")
        if topology is not None:
            self.run("cluster", "init", "--host", topology.host)
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.killed: set[str] = set()
        self.worker_exits: dict[str, int] = {}
        # Every process seen below the daemon or a launcher: what close() ends if still alive.
        self.tracked: dict[int, int] = {}
        self.exit: Exit | None = None
        self._index: Index | None = None
        with _environ("PYTHONPATH", self.pythonpath):
            self.daemon = WatchDaemon(cli, self.account, folder)

    def ready(self) -> None:
        self.daemon.wait_ready(120)
        self._index = Index(self.daemon.index_path)  # the daemon has made it by now

    @property
    def index(self) -> Index:
        assert self._index is not None, "ready() first"
        return self._index

    def track(self) -> None:
        for root in [self.daemon.pid, *(proc.pid for proc in self.workers.values())]:
            self.tracked.update(snapshot(descendants(root)))

    def __enter__(self) -> ClusterDaemon:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def run(self, *args: str) -> str:
        """A `shadowlens` command in the daemon's account (the plugin on its path: the config names it)."""
        env = xdg_env(self.account, {"PYTHONPATH": self.pythonpath})
        done = subprocess.run(
            [*self.cli, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"shadowlens {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
        return done.stdout + done.stderr

    def join(self, name: str) -> None:
        """A helper machine: its own account, a fresh one-time token, one worker process."""
        assert self.topology is not None
        found = re.search(r"token: (\S+)", self.run("cluster", "token"))
        if found is None:
            raise RuntimeError("`shadowlens cluster token` printed no token")
        env = xdg_env(self.base / name, {"PYTHONPATH": self.pythonpath})
        argv = [
            *self.topology.netns,
            *self.cli,
            "worker",
            *("--join", f"{self.topology.host}:{self.port}", "--token", found.group(1)),
            *("--enrol-port", str(self.enrol_port), "--nworkers", "1", "--name", name),
        ]
        with open(self.base / f"{name}.log", "ab") as log:
            self.workers[name] = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )

    def joined(self) -> dict[str, dict[str, object]]:
        """The joined workers by name, as `shadowlens status --json` shows them (cluster_workers:
        the daemon's heartbeat, written every second)."""
        text = self.index.value("SELECT value FROM daemon_state WHERE key = 'heartbeat'")
        beat = json.loads(text) if text else {}
        return {str(w["name"]): w for w in beat.get("cluster") or []}

    def wait_joined(self, names: list[str], timeout: float = 120.0) -> None:
        def all_in() -> bool:
            for name, proc in self.workers.items():
                if proc.poll() is not None and name not in self.killed:
                    log = (self.base / f"{name}.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"worker {name} exited {proc.returncode}:\n{log}")
            return set(names) <= set(self.joined())

        self.daemon.wait_until(all_in, timeout, 0.2, f"workers {names} to join")
        self.track()

    def kill_worker(self, name: str) -> tuple[float, list[int]]:
        """SIGKILL the dask processes (nanny and worker) under the worker's launcher, as the
        kernel's OOM killer would; (time.time() of the kill, the pids)."""
        processes = snapshot(descendants(self.workers[name].pid))
        if not processes:
            raise RuntimeError(f"worker {name}'s launcher has no dask processes")
        self.killed.add(name)
        at = time.time()
        kill_all(processes)
        return at, sorted(processes)

    def close(self) -> None:
        self.track()
        # The workers first: with the scheduler gone, a launcher would wait for it to come back.
        for name, proc in self.workers.items():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # it passes it on: `dask worker` closes cleanly
                try:
                    proc.wait(STOP_WORKER_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self.worker_exits[name] = proc.returncode
        try:
            # A daemon that died already is reaped here, with wait4: stop() would signal it
            # through Popen, which reaps it first and leaves wait4 nothing to find.
            with contextlib.suppress(RuntimeError):
                self.daemon.check_alive()
            if self.exit is None:
                self.exit = self.daemon.stop()
        finally:
            if self._index is not None:
                self._index.close()
            self.daemon.__exit__(None, None, None)
            # Whatever a clean stop should have ended and did not (the scheduler of a daemon
            # that died, a dask process whose launcher was killed): nothing may outlive the row.
            kill_all(self.tracked)

    def problems(self) -> list[str]:
        found = []
        if self.exit is not None and self.exit.returncode != 0:
            found.append(f"the daemon exited {self.exit.returncode} on SIGTERM")
        for name, code in self.worker_exits.items():
            if name not in self.killed and code != 0:
                found.append(f"worker {name} exited {code} on SIGTERM")
        return found


def epoch(stamp: str) -> float:
    """An index timestamp (naive UTC, as daemon/clock.py writes it) as time.time() seconds."""
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()


@dataclass
class Job:
    path: str
    claimed: float
    finished: float


def done_jobs(index: Index) -> list[Job]:
    """The analysis jobs the daemon finished, in the order it recorded them."""
    rows = index.conn.execute(
        "SELECT path, claimed_at, finished_at FROM jobs "
        "WHERE state = 'done' AND reason != 'safe_copy' ORDER BY finished_at"
    ).fetchall()
    return [Job(path, epoch(claimed), epoch(finished)) for path, claimed, finished in rows]
