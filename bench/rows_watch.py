"""Watch benchmarks: the real ``shadowlens watch`` process, fed the way sync tools feed it.

Every row starts the daemon (``daemon_run.py``) on an empty temporary folder with fresh XDG
dirs, waits for READY=1 on a notify socket and watches the index read-only.

Rows:

* ``watch.latency_rename_to_index.p50_s`` / ``.p95_s``: a photo is written under a Syncthing
  temporary name and renamed to ``IMG_xxxx.jpg``; seconds from the rename until its file row is
  ``indexed`` (polled every 10 ms), one photo at a time, each after a random pause. Each sample is a Pillow re-save of one
  phone JPEG with one pixel changed, so its sha256 is new and it is really decoded and analysed.
  One unmeasured photo goes first: the pool starts its first worker only when work arrives.
* ``watch.burst.photos_per_s.w1`` / ``.w2`` / ``watch.burst.speedup_w2_over_w1``: every photo of
  the corpus (see ``corpus.py``) plus one distinct variant of each, renamed all at once from a
  hidden staging folder into the watched folder; N / seconds from the first rename until all N
  are ``indexed``, with ``[scan] workers`` 1 and 2. A few warm-up photos first bring up the
  pool's workers, which it spawns lazily, so the timing is analysis rather than start-up.
* ``watch.burst_2000.peak_rss_mb``: 2,000 hard links of 40 corpus photos created in a watched
  folder with the default config; the peak of the summed RSS of the daemon and its workers.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import struct
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from corpus import Corpus, Entry, describe
from daemon_run import Exit, Index, WatchDaemon
from harness import Context, Measurement, Skip, median, only_detectors, row, spread
from proc_memory import TreeRss, descendants, role

LATENCY_SAMPLES, QUICK_LATENCY_SAMPLES = 50, 10
# These rows measure the daemon's plumbing with the metadata and place detectors (issue 3);
# heavier detectors have their own rows.
METADATA_PLACES = only_detectors("metadata", "place")
# An iPhone JPEG with GPS: the usual phone photo, and it gives the place detector work too.
LATENCY_PHOTO = "exif-samples/hdr/iphone_hdr_YES.jpg"
# The daemon's loop sleeps in 0.25 s ticks when idle and starts one just after it finishes a
# photo, so a rename sent at once would always land at the start of a tick and every sample
# would include a whole tick. A random pause first: real photos arrive at any moment.
LATENCY_MAX_PAUSE = 0.5
QUICK_BURST = 30
BURST_REPEATS = 3
WARMUP = 4  # the dispatcher keeps 2 jobs per worker in flight, so 4 make the pool spawn both
BURST_LINKS, QUICK_BURST_LINKS = 2000, 200
LINK_SOURCES, LINK_MAX_BYTES = 40, 2_000_000  # as tests/test_daemon_crash.py makes its burst


def _resaved(source: Path, dest: Path, count: int) -> list[Path]:
    """``count`` re-saves of a JPEG, each with its own changed pixel and comment (the comment
    makes the bytes differ even if quantisation hid the pixel). EXIF, with its GPS, is kept."""
    from PIL import Image

    dest.mkdir(parents=True)
    with Image.open(source) as image:
        exif, icc = image.info.get("exif", b""), image.info.get("icc_profile")
        base = image.convert("RGB")
    paths = []
    for i in range(count):
        copy = base.copy()
        copy.putpixel((i % copy.width, 0), (255 - i % 256, i % 256, 128))
        paths.append(dest / f"sample-{i:03d}.jpg")
        copy.save(paths[-1], "JPEG", quality=90, exif=exif, icc_profile=icc, comment=f"bench {i}")
    return paths


def _variant(source: Path, dest: Path, tag: str) -> Path:
    """The same photo with a few bytes appended: a new sha256, the same decoding work. (A
    re-encode would not do for HEIC: slow, and the encoder would change the work measured.)"""
    data = source.read_bytes()
    extra = tag.encode()
    if data[4:8] == b"ftyp":  # HEIF/AVIF: a top-level `free` box keeps the file well-formed
        extra = struct.pack(">I", 8 + len(extra)) + b"free" + extra
    dest.write_bytes(data + extra)  # JPEG, MPO, PNG: decoders stop at their end marker
    return dest


def _percentile(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


@dataclass
class Latency:
    photo: Entry
    warmup: float
    seconds: list[float]
    problems: list[str]

    def row(self, pct: int) -> Measurement:
        notes = (
            f"{len(self.seconds)} sequential renames (each after a random 0-{LATENCY_MAX_PAUSE} s pause) "
            f"of re-saved {self.photo.name} "
            f"({self.photo.width}x{self.photo.height}); min {min(self.seconds):.3f} s, "
            f"max {max(self.seconds):.3f} s; unmeasured first photo {self.warmup:.2f} s (starts the pool)"
        )
        extra = {"seconds": self.seconds, "warmup_seconds": self.warmup, "photo": self.photo.path}
        check = "; ".join(self.problems) or None
        return Measurement(_percentile(self.seconds, pct), notes, extra=extra, check_failed=check)


def _latency_photo(corpus: Corpus) -> Entry:
    jpegs = [e for e in corpus.phone_size() if e.format == "JPEG" and not e.notes.startswith("ODD")]
    preferred = [e for e in jpegs if e.path == LATENCY_PHOTO]
    if not preferred + jpegs:
        raise Skip("the corpus has no phone-size JPEG")
    return (preferred + jpegs)[0]


def _latency(ctx: Context) -> Latency:
    corpus = ctx.need_corpus()
    photo = _latency_photo(corpus)
    count = (QUICK_LATENCY_SAMPLES if ctx.quick else LATENCY_SAMPLES) + 1
    base = ctx.tempdir("watch-latency")
    samples = _resaved(corpus.root / photo.path, base / "samples", count)
    folder = base / "Phone"
    folder.mkdir()
    seconds, problems = [], []
    with WatchDaemon(ctx.shadowlens_cli(), base / "xdg", folder, METADATA_PLACES) as daemon:
        daemon.wait_ready()
        index = Index(daemon.index_path)
        pauses = random.Random(0)  # the same pauses every run
        for i, sample in enumerate(samples):
            time.sleep(pauses.uniform(0, LATENCY_MAX_PAUSE))
            target = folder / f"IMG_{i:04d}.jpg"
            temp = folder / f".syncthing.{target.name}.tmp"
            shutil.copyfile(sample, temp)  # written in full before the rename, as Syncthing does
            started = time.perf_counter()
            os.rename(temp, target)
            done = daemon.wait_until(partial(index.ended, target), 60, 0.01, target.name)
            seconds.append(done - started)
            if (status := index.status(target)) != "indexed":
                problems.append(f"{target.name} ended {status}")
        analysed = index.value("SELECT count(*) FROM photos")
        index.close()
        problems += _exit_problems(daemon.stop())
    if analysed != count:
        problems.append(f"{analysed} photos analysed for {count} distinct samples (some were linked?)")
    return Latency(photo, seconds[0], seconds[1:], problems)


def _exit_problems(exit: Exit) -> list[str]:
    return [] if exit.returncode == 0 else [f"the daemon exited {exit.returncode} on SIGTERM"]


@row("watch.latency_rename_to_index.p50_s", unit="s", needs_corpus=True)
def latency_p50(ctx: Context) -> Measurement:
    return ctx.memo("watch.latency", lambda: _latency(ctx)).row(50)


@row("watch.latency_rename_to_index.p95_s", unit="s", needs_corpus=True)
def latency_p95(ctx: Context) -> Measurement:
    return ctx.memo("watch.latency", lambda: _latency(ctx)).row(95)


@dataclass
class BurstRun:
    workers: int
    seconds: float
    statuses: dict[str, int]
    analysed: int
    pool_processes: int
    problems: list[str]


@dataclass
class Burst:
    described: str
    contents: list[Path]
    runs: dict[int, list[BurstRun]]

    def seconds(self, workers: int) -> list[float]:
        return [r.seconds for r in self.runs[workers]]

    def rate(self, workers: int) -> float:
        return len(self.contents) / median(self.seconds(workers))

    def problem(self) -> str | None:
        return "; ".join(p for runs in self.runs.values() for r in runs for p in r.problems) or None


def _burst_contents(ctx: Context) -> tuple[str, list[Path], list[Path]]:
    """Every photo as itself (a hard link) and as one variant, made once per bench run;
    122 photos give 244 distinct contents. Also WARMUP more variants for the warm-up."""
    corpus = ctx.need_corpus()
    photos = corpus.photos()
    if ctx.quick:
        photos = sorted(photos, key=lambda e: e.size_bytes)[: QUICK_BURST // 2]
    folder = ctx.tempdir("watch-variants")
    contents: list[Path] = []
    for i, entry in enumerate(photos):
        original = corpus.place(entry, folder / f"{i:03d}-a-{entry.name}")
        contents += [original, _variant(original, folder / f"{i:03d}-b-{entry.name}", f"variant {i}")]
    warmup = [
        _variant(contents[i], folder / f"warmup-{i}-{contents[i].name}", "warmup") for i in range(WARMUP)
    ]
    return describe(photos) + " x2 (original + variant)", contents, warmup


def _burst_run(ctx: Context, contents: list[Path], warmup: list[Path], workers: int) -> BurstRun:
    base = ctx.tempdir(f"watch-burst-w{workers}")
    folder, stage = base / "Phone", base / "Phone" / ".incoming"
    # Hidden, so neither the watcher nor the start-up walk looks inside; a rename out of it is an
    # arrival the daemon queues at once (a move in from outside would wait settle_seconds first).
    stage.mkdir(parents=True)
    names = [f"IMG_{i:04d}{p.suffix}" for i, p in enumerate([*warmup, *contents])]
    for name, path in zip(names, [*warmup, *contents], strict=True):
        try:
            os.link(path, stage / name)
        except OSError:  # protected_hardlinks on someone else's corpus file: a copy reads the same
            shutil.copyfile(path, stage / name)
    total = len(names)
    config = f"[scan]\nworkers = {workers}\n"
    with WatchDaemon(ctx.shadowlens_cli(), base / "xdg", folder, config + METADATA_PLACES) as daemon:
        daemon.wait_ready()
        index = Index(daemon.index_path)
        for name in names[:WARMUP]:
            os.rename(stage / name, folder / name)
        daemon.wait_until(lambda: index.finished() >= WARMUP, 120, 0.05, "the warm-up photos")
        pool = sum(role(p, daemon.pid) == "worker" for p in descendants(daemon.pid))
        started = time.perf_counter()
        for name in names[WARMUP:]:
            os.rename(stage / name, folder / name)
        # 50 ms: finer polling would take CPU from the daemon on a small machine.
        done = daemon.wait_until(lambda: index.finished() >= total, 600, 0.05, f"{total} photos")
        statuses, analysed = index.statuses(), index.value("SELECT count(*) FROM photos")
        index.close()
        problems = _exit_problems(daemon.stop())
    if statuses != {"indexed": total} or analysed != total:
        problems.append(f"w{workers}: files {statuses}, {analysed} analysed (expected {total} of each)")
    if pool != workers:
        problems.append(f"w{workers}: {pool} worker processes before the burst")
    return BurstRun(workers, done - started, statuses, analysed, pool, problems)


def _burst(ctx: Context) -> Burst:
    described, contents, warmup = _burst_contents(ctx)
    runs: dict[int, list[BurstRun]] = {1: [], 2: []}
    for rep in range(1 if ctx.quick else BURST_REPEATS):
        # Alternate the order so slow drift on a shared machine does not favour one worker count.
        for workers in (1, 2) if rep % 2 == 0 else (2, 1):
            runs[workers].append(_burst_run(ctx, contents, warmup, workers))
    return Burst(described, contents, runs)


def burst(ctx: Context) -> Burst:
    return ctx.memo("watch.burst", lambda: _burst(ctx))


def _burst_rate(ctx: Context, workers: int) -> Measurement:
    b = burst(ctx)
    secs = b.seconds(workers)
    notes = (
        f"{len(b.contents)} distinct photos ({b.described}); first rename to last indexed, "
        f"median of {len(secs)} fresh-index runs, seconds {spread(secs)}"
    )
    extra = {"seconds": secs, "photos": len(b.contents), "statuses": [r.statuses for r in b.runs[workers]]}
    return Measurement(b.rate(workers), notes, extra=extra, check_failed=b.problem())


@row("watch.burst.photos_per_s.w1", unit="photos/s", needs_corpus=True)
def burst_w1(ctx: Context) -> Measurement:
    return _burst_rate(ctx, 1)


@row("watch.burst.photos_per_s.w2", unit="photos/s", needs_corpus=True)
def burst_w2(ctx: Context) -> Measurement:
    return _burst_rate(ctx, 2)


@row("watch.burst.speedup_w2_over_w1", unit="x", needs_corpus=True)
def burst_speedup(ctx: Context) -> Measurement:
    b = burst(ctx)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    notes = f"{len(b.contents)} photos; {cpus} usable CPUs; ratio of the median rates"
    return Measurement(b.rate(2) / b.rate(1), notes, check_failed=b.problem())


@row("watch.burst_2000.peak_rss_mb", unit="MB", needs_corpus=True)
def burst_2000_rss(ctx: Context) -> Measurement:
    if not Path("/proc/self/status").exists():
        raise Skip("summing the daemon's processes needs Linux /proc")
    corpus = ctx.need_corpus()
    sources = [e for e in corpus.photos() if e.size_bytes < LINK_MAX_BYTES][:LINK_SOURCES]
    count = QUICK_BURST_LINKS if ctx.quick else BURST_LINKS
    base = ctx.tempdir("watch-burst-2000")
    folder = base / "Sync"
    folder.mkdir()
    cli = ctx.shadowlens_cli()
    # Sampling from the start: loading the detectors is part of the daemon's peak too.
    with WatchDaemon(cli, base / "xdg", folder, METADATA_PLACES) as daemon, TreeRss(daemon.pid) as sampler:
        daemon.wait_ready()
        index = Index(daemon.index_path)
        started = time.perf_counter()
        for i in range(count):
            entry = sources[i % len(sources)]
            corpus.place(entry, folder / f"burst-{i // 100:02d}" / f"IMG_{i:05d}{Path(entry.path).suffix}")
        done = daemon.wait_until(lambda: index.finished() >= count, 900, 0.2, f"{count} files")
        statuses, analysed = index.statuses(), index.value("SELECT count(*) FROM photos")
        index.close()
        sampler.stop()
        exit = daemon.stop()
    problems = _exit_problems(exit)
    if statuses != {"indexed": count} or analysed != len(sources):
        problems.append(f"files {statuses}, {analysed} analysed (expected {count} indexed, {len(sources)})")
    seconds = done - started
    notes = (
        f"{count} hard links of {len(sources)} photos, finished in {seconds:.1f} s; peak of main + "
        f"{len(sampler.per_process) - 1} child processes summed every {sampler.every} s; {sampler.peaks()}"
        # wait4 folds in the children the daemon reaped, so this is the largest process, not main's own.
        f"; wait4 ru_maxrss of main {exit.max_rss_mb:.0f} MB"
    )
    extra = {
        "seconds": seconds,
        "main_wait4_ru_maxrss_mb": exit.max_rss_mb,
        "per_process": sampler.table(),
        "samples": sampler.samples,
        "statuses": statuses,
    }
    return Measurement(sampler.peak_mb, notes, extra=extra, check_failed="; ".join(problems) or None)
