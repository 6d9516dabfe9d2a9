"""Analysis workers on a Dask cluster (issue #19): photos/s with the daemon's local pool only and
with 1 and 2 joined workers on this machine, and the time lost when a worker is killed.

Every run is the real thing, as in tests/test_cluster_daemon.py: `shadowlens -v watch` (its
own XDG account, [cluster] listen on a free port, `shadowlens cluster init --host`), and each
helper a `shadowlens worker --join HOST:PORT --token T --enrol-port P --nworkers 1 --name wN`
in an account of its own, with a one-time token from `shadowlens cluster token`. The work is
synthetic and CPU-bound (``cluster_plugin.py``): a detector plugin, installed as a dist-info on
PYTHONPATH for the daemon and the workers, runs a chain of 960 MatMul+Relu (a 256x256 input,
256x256 weights; about 290 ms, see cluster_support.py) on one onnxruntime thread per photo; every other detector but
metadata is off. Photos are 64x48 JPEGs of random pixels, each its own content, renamed all at
once from a hidden staging folder into the watched one. The daemon sends one photo per job, to
its pool or as one Dask task, and keeps two in flight per worker thread.

What runs where: in the joined runs the daemon has `[scan] workers = 1` and `[cluster]
local_pool_while_joined = false`, so while a worker is joined its local pool takes no new
photo: the joined workers do all the analysis. Checked three ways, any miss failing the row:
the pool's processes use no CPU during the burst; the workers' photo counts in the heartbeat
(`shadowlens status --json` -> cluster_workers[].photos) add up to every photo; and the
daemon's log shows no worker leaving during the run. (A worker that "leaves" and rejoins
mid-run has its photos in flight handed back to the local pool and its count restarted.) The
daemon, its Dask scheduler and the workers share this machine's cores; the notes say how many
cores each used during the burst, and how many went to other users' processes. `local` is the
daemon with the cluster off and `[scan] workers = 1`: one analysing process, like one worker.

Rows:

* ``cluster.photos_per_s.local`` / ``.joined_1`` / ``.joined_2``: the steady-state rate: warm-up
  photos first (each worker builds its pipeline and ONNX session with its first photo), then a
  burst of N photos; the rate is the slope of a least-squares line through (finish time, count)
  of the burst's middle 80 % (jobs.finished_at, written by the daemon as it records a photo),
  so neither the start nor the tail (one worker idle while the other ends its photo) counts.
  Median of the runs, whose order alternates.
* ``cluster.scaling.joined_2_over_1``: the ratio of those medians; goal >= 1.8.
* ``cluster.recovery_s.kill``: 2 joined workers; when half the burst is indexed, SIGKILL the
  dask processes (nanny and worker) of worker w2, the children of its `shadowlens worker`
  launcher. The photos in flight at the kill (claimed by the daemon, not yet recorded: w2's and
  w1's) must then all be done by w1. Recovery is the seconds from the kill until the last of
  them is indexed, minus the time w1 alone needs for that many photos at its steady rate just
  after (the slope through the next photos): what the kill cost beyond the work itself, i.e. the
  scheduler noticing the loss, moving w2's photos to w1, and w2's lost progress on its photo.
  Its resolution is about one photo: w1's own photo was partly done at the kill (up to one
  photo-time less), w2's was lost (up to one more). The notes add the raw "in flight" seconds.
* ``cluster.recovery_s.kill_netem_20ms``: the same with the workers in a network namespace,
  joined by a veth pair with ``tc netem delay 20ms`` on the daemon's end (every round trip
  between the scheduler/daemon and a worker 20 ms longer); the scheduler listens on the veth
  address. Skipped, with the reason, where root, iproute2 or the kernel's netem are missing.
"""

from __future__ import annotations

import os
import re
import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from cluster_host import CpuShare, Netns, describe_shares
from cluster_support import (
    DETECTOR,
    ClusterDaemon,
    Job,
    Topology,
    done_jobs,
    install_plugin,
    make_photos,
)
from harness import Context, Measurement, median, only_detectors, row, spread

BURST, QUICK_BURST = 100, 32
REPEATS, QUICK_REPEATS = 3, 1
WARMUP_PER_WORKER = 8  # the daemon keeps 2 photos in flight per worker: each gets several
AFTER = 60  # photos after the kill's in-flight ones, for the survivor's steady rate
WINDOW = (0.1, 0.9)
KILL_AT = 0.5  # of the burst: enough finished before and after the kill for both lines
GOAL_SCALING = 1.8
NETEM_MS = 20.0
EVENT = re.compile(r"^(\S+ \S+) \w+ \S+: cluster worker (\S+) (left|joined)", re.MULTILINE)
NO_ANSWER = re.compile(r"the cluster's scheduler does not answer.*")


@dataclass
class Run:
    label: str
    burst: list[Job]  # the burst's jobs, by finish time
    everything: list[Job]  # warm-up included
    load: tuple[float, float]  # 1-minute load average before and after the burst
    per_photo_s: float  # median seconds of the chain detector on one photo
    by_worker: dict[str, int] = field(default_factory=dict)  # photos per joined worker (heartbeat)
    cpu: dict[str, float] = field(default_factory=dict)  # cores used during the burst, by role
    killed_at: float | None = None
    left_after: float | None = None  # the daemon logged "cluster worker w2 left" this long after the kill
    problems: list[str] = field(default_factory=list)

    def times(self) -> np.ndarray:
        return np.array([job.finished for job in self.burst])


def _line(times: np.ndarray, first: int, end: int) -> tuple[float, float]:
    """(intercept, slope) of count = a + r * t through the burst's photos first..end-1 (count
    is the photo's rank, 1-based); times relative to the first photo keep the fit well scaled."""
    counts = np.arange(first, end) + 1.0
    slope, intercept = np.polyfit(times[first:end] - times[0], counts, 1)
    return float(intercept - slope * times[0]), float(slope)


def steady_rate(run: Run) -> float:
    times = run.times()
    return _line(times, int(len(times) * WINDOW[0]), int(len(times) * WINDOW[1]))[1]


@dataclass
class Recovery:
    seconds: float
    in_flight: int  # photos in flight at the kill
    in_flight_s: float  # from the kill until the last of them was indexed
    rate_before: float  # both workers, the photos just before the kill
    rate_after: float  # the survivor alone, the photos just after those in flight


def recovery(run: Run) -> Recovery:
    assert run.killed_at is not None
    times, kill = run.times(), run.killed_at
    done = int(np.searchsorted(times, kill, side="right"))  # burst photos indexed by the kill
    flying = [job for job in run.everything if job.claimed <= kill < job.finished]
    if not flying:
        raise RuntimeError(f"{run.label}: no photo was in flight at the kill")
    last = max(job.finished for job in flying)
    # The daemon claims no new photo while more than two are in flight for the one thread
    # left, so those in flight are the first to finish after the kill; the survivor's own
    # pace is measured on the photos after them.
    after = int(np.searchsorted(times, last, side="right"))
    rate_after = _line(times, after, min(after + AFTER, len(times)))[1]
    rate_before = _line(times, max(int(len(times) * WINDOW[0]), done - AFTER), done)[1]
    return Recovery(
        seconds=(last - kill) - len(flying) / rate_after,
        in_flight=len(flying),
        in_flight_s=last - kill,
        rate_before=rate_before,
        rate_after=rate_after,
    )


def _site(ctx: Context) -> Path:
    return ctx.memo("cluster.site", lambda: install_plugin(ctx.tempdir("cluster-plugin") / "site"))


def _run(ctx: Context, label: str, workers: int, topology: Topology | None, kill: bool = False) -> Run:
    """One daemon (with ``workers`` joined when ``topology`` is given), warm-up, one burst."""
    count = QUICK_BURST if ctx.quick else BURST
    base = ctx.tempdir(f"cluster-{label}")
    folder = base / "Photos"
    stage = folder / ".incoming"  # hidden: the watcher does not look inside; a rename out is an arrival
    # Random pixels: the two seeds alone keep every photo of a run its own content.
    warm = make_photos(stage, "warm", WARMUP_PER_WORKER * max(workers, 1), seed=1)
    burst = make_photos(stage, "b", count, seed=2)
    total = len(warm) + count
    config = "[scan]\nworkers = 1\n" + only_detectors("metadata", DETECTOR)
    with ClusterDaemon(ctx.shadowlens_cli(), base, _site(ctx), folder, config, topology) as run:
        run.ready()
        names = [f"w{i + 1}" for i in range(workers)]
        for name in names:
            run.join(name)
        run.wait_joined(names)
        for path in warm:
            path.rename(folder / path.name)
        run.daemon.wait_until(lambda: run.index.finished() >= len(warm), 300, 0.1, "the warm-up photos")
        problems = []
        if names:
            warmed = _wait_counts(run, names, len(warm))
            if cold := [n for n in names if not warmed.get(n)]:
                problems.append(f"{label}: worker(s) {cold} analysed no warm-up photo")
        load_before = os.getloadavg()[0]
        roots = {run.daemon.pid: "daemon", **{p.pid: f"launcher {n}" for n, p in run.workers.items()}}
        cpu = CpuShare(roots)
        cpu.start()
        for path in burst:
            path.rename(folder / path.name)
        killed_at = None
        if kill:
            # 20 ms polls: the kill lands within a photo of half the burst; the index answers fast.
            threshold = len(warm) + int(count * KILL_AT)
            run.daemon.wait_until(lambda: run.index.finished() >= threshold, 600, 0.02, f"{threshold} photos")
            killed_at, _ = run.kill_worker("w2")
        run.daemon.wait_until(lambda: run.index.finished() >= total, 900, 0.1, f"{total} photos")
        ended = time.time()
        # (Over a kill, the killed processes' time is lost with them: these shares are partial.)
        shares = cpu.stop()
        load_after = os.getloadavg()[0]
        by_worker = _wait_counts(run, names, 0 if kill else total)
        everything = done_jobs(run.index)
        statuses = run.index.statuses()
        analysed = run.index.value("SELECT count(*) FROM photos")
        timed = run.index.conn.execute("SELECT seconds FROM detector_runs WHERE detector = ?", (DETECTOR,))
        seconds = [r[0] for r in timed]
        log = next(run.account.glob("state/**/shadowlens.log"), None)
    problems += run.problems()
    if statuses != {"indexed": total} or analysed != total:
        problems.append(f"{label}: files {statuses}, {analysed} photos analysed (expected {total})")
    if len(everything) != total or len({job.path for job in everything}) != total:
        problems.append(f"{label}: {len(everything)} done analysis jobs for {total} photos")
    if names and (pool := shares.get("pool", 0.0)) > 0.02:
        problems.append(f"{label}: the daemon's local pool used {pool:.2f} cores with workers joined")
    if names and not kill and sum(by_worker.values()) != total:
        problems.append(f"{label}: the heartbeat counts {by_worker} photos for the workers, of {total}")
    result = Run(
        label=label,
        burst=[job for job in everything if Path(job.path).name.startswith("b-")],
        everything=everything,
        load=(load_before, load_after),
        per_photo_s=statistics.median(seconds) if seconds else float("nan"),
        by_worker=by_worker,
        cpu=shares,
        killed_at=killed_at,
        problems=problems,
    )
    if log is not None and names:
        _read_log(result, log.read_text(errors="replace"), ended)
    return result


def _read_log(result: Run, text: str, ended: float) -> None:
    """From the daemon's log: when it saw w2 leave after the kill, and any worker that left
    (and came back) during the run, which would make it another run than the one described."""
    kill = result.killed_at
    for stamp, name, what in EVENT.findall(text):
        # The log's asctime is local time, to the millisecond.
        at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if what != "left" or at > ended:
            continue
        if kill is not None and name == "w2" and at >= kill - 0.01:
            if result.left_after is None:
                result.left_after = at - kill
        else:
            answer = NO_ANSWER.search(text)
            result.problems.append(
                f"{result.label}: the daemon saw {name} leave during the run"
                + (f" ({answer.group(0)})" if answer else "")
            )


def _wait_counts(run: ClusterDaemon, names: list[str], expected: int) -> dict[str, int]:
    """Photos per joined worker, once the heartbeat (written every second) counts ``expected``."""
    counts: dict[str, int] = {}
    deadline = time.monotonic() + 10
    while names and time.monotonic() < deadline:
        counts = {n: int(str(w.get("photos", 0))) for n, w in run.joined().items()}
        if sum(counts.values()) >= expected:
            break
        time.sleep(0.3)
    return counts


def _throughput(ctx: Context) -> dict[str, list[Run]]:
    runs: dict[str, list[Run]] = {"local": [], "joined_1": [], "joined_2": []}
    plans = {"local": (0, None), "joined_1": (1, Topology()), "joined_2": (2, Topology())}
    for rep in range(QUICK_REPEATS if ctx.quick else REPEATS):
        # Alternate the order so slow drift on a shared machine favours no setup.
        order = list(plans) if rep % 2 == 0 else list(reversed(plans))
        for label in order:
            workers, topology = plans[label]
            runs[label].append(_run(ctx, label, workers, topology))
    return runs


def throughput(ctx: Context) -> dict[str, list[Run]]:
    return ctx.memo("cluster.throughput", lambda: _throughput(ctx))


def _problem(runs: list[Run]) -> str | None:
    return "; ".join(p for r in runs for p in r.problems) or None


def _typical(runs: list[Run]) -> Run:
    """The run of the median rate (the lower middle one of an even count)."""
    return sorted(runs, key=steady_rate)[(len(runs) - 1) // 2]


def _rate_row(ctx: Context, label: str) -> Measurement:
    runs = throughput(ctx)[label]
    rates = [steady_rate(r) for r in runs]
    where = (
        "daemon's local pool, 1 process ([scan] workers = 1), cluster off"
        if label == "local"
        else f"{label[-1]} joined worker(s) x 1 process; the daemon's pool took none (local_pool_while_joined = false)"
    )
    split = "; photos per worker " + ", ".join(str(r.by_worker) for r in runs) if label != "local" else ""
    notes = (
        f"{where}; burst {len(runs[0].burst)} photos, slope of the middle {WINDOW[1] - WINDOW[0]:.0%}; "
        f"runs {spread(rates)} photos/s; chain detector {median(r.per_photo_s for r in runs) * 1000:.0f} ms/photo "
        f"(median); load avg before/after {spread([x for r in runs for x in r.load])}{split}; "
        f"CPU cores used during the median run's burst: {describe_shares(_typical(runs).cpu)}"
    )
    extra = {
        "rates": rates,
        "per_photo_s": [r.per_photo_s for r in runs],
        "load": [r.load for r in runs],
        "by_worker": [r.by_worker for r in runs],
        "cpu_cores": [r.cpu for r in runs],
    }
    return Measurement(median(rates), notes, extra=extra, check_failed=_problem(runs))


@row("cluster.photos_per_s.local", unit="photos/s")
def rate_local(ctx: Context) -> Measurement:
    return _rate_row(ctx, "local")


@row("cluster.photos_per_s.joined_1", unit="photos/s")
def rate_joined_1(ctx: Context) -> Measurement:
    return _rate_row(ctx, "joined_1")


@row("cluster.photos_per_s.joined_2", unit="photos/s")
def rate_joined_2(ctx: Context) -> Measurement:
    return _rate_row(ctx, "joined_2")


@row("cluster.scaling.joined_2_over_1", unit="x")
def scaling(ctx: Context) -> Measurement:
    runs = throughput(ctx)
    one, two = (median(steady_rate(r) for r in runs[k]) for k in ("joined_1", "joined_2"))
    ratio = two / one
    cpus = len(os.sched_getaffinity(0))
    # Where the cores went decides the ratio here: the daemon and its scheduler work for every photo.
    costs = []
    for key in ("joined_1", "joined_2"):
        typical = _typical(runs[key])
        rate = steady_rate(typical)
        per_photo = {role: typical.cpu.get(role, 0.0) / rate * 1000 for role in ("daemon", "scheduler")}
        workers = sum(cores for role, cores in typical.cpu.items() if role.startswith("worker "))
        costs.append(
            f"{key}: workers {workers:.2f} cores, daemon {per_photo['daemon']:.0f} ms and scheduler "
            f"{per_photo['scheduler']:.0f} ms of CPU per photo, others {typical.cpu.get('others', 0.0):.2f} cores"
        )
    notes = (
        f"median {two:.2f} / {one:.2f} photos/s; {cpus} usable CPUs shared by the workers, the daemon "
        f"and its scheduler; goal >= {GOAL_SCALING} ({'met' if ratio >= GOAL_SCALING else 'MISSED'}); "
        + "; ".join(costs)
    )
    missed = f"{ratio:.2f}x < goal {GOAL_SCALING}x" if ratio < GOAL_SCALING else None
    check = "; ".join(p for p in (missed, _problem(runs["joined_1"] + runs["joined_2"])) if p) or None
    return Measurement(ratio, notes, extra={"joined_1": one, "joined_2": two}, check_failed=check)


def _recovery_row(ctx: Context, label: str, topology: Topology) -> Measurement:
    runs = [_run(ctx, label, 2, topology, kill=True) for _ in range(QUICK_REPEATS if ctx.quick else REPEATS)]
    found = [recovery(r) for r in runs]
    seconds = [f.seconds for f in found]
    lefts = [r.left_after for r in runs if r.left_after is not None]
    notes = (
        f"runs {spread(seconds)} s; 2 joined workers, w2's dask processes SIGKILLed at half of a "
        f"{len(runs[0].burst)}-photo burst; rate before/after {spread([f.rate_before for f in found])} / "
        f"{spread([f.rate_after for f in found])} photos/s; the photos in flight at the kill "
        f"({spread([f.in_flight for f in found], '{:.0f}')}) all indexed {spread([f.in_flight_s for f in found])} s "
        f"after it; the daemon logged 'w2 left' after {spread(lefts)} s; "
        f"load avg before/after {spread([x for r in runs for x in r.load])}"
    )
    extra = {
        "seconds": seconds,
        "rate_before": [f.rate_before for f in found],
        "rate_after": [f.rate_after for f in found],
        "in_flight_s": [f.in_flight_s for f in found],
        "left_after_s": lefts,
    }
    return Measurement(median(seconds), notes, extra=extra, check_failed=_problem(runs))


@row("cluster.recovery_s.kill", unit="s")
def recovery_kill(ctx: Context) -> Measurement:
    return _recovery_row(ctx, "kill", Topology())


@row("cluster.recovery_s.kill_netem_20ms", unit="s")
def recovery_kill_netem(ctx: Context) -> Measurement:
    # The namespace first: a machine that cannot add the latency skips before starting anything.
    with Netns(NETEM_MS) as ns:
        result = _recovery_row(ctx, "kill-netem", Topology(host=ns.host, netns=ns.prefix))
    result.notes = f"workers in netns {ns.name} behind veth + netem delay {NETEM_MS:g}ms; " + result.notes
    return result
