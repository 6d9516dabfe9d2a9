"""Scan benchmarks: a first scan with the built-in detectors, and a rescan that should do nothing.

Rows:

* ``scan.metadata_places.photos_per_s.w1`` / ``.w2``: a first scan of the phone-size photos (see
  ``corpus.py`` for the definition) into a fresh index with 1 and with 2 worker processes, using
  the metadata and place detectors (the only ones installed today). Each repetition is a new
  ``shadowlens scan`` process with its own XDG dirs, so every one pays what a user's first scan
  pays (loading the GeoNames table, starting the pool). Identical content is deduplicated by
  sha256, so the set cannot be enlarged by linking a photo under several names; instead the scan
  is repeated on fresh indexes and the median is reported. Timing is the scan's own ``seconds``
  (walk to last write), which leaves out interpreter start-up and opening the index.
* ``scan.metadata_places.speedup_w2_over_w1``: the ratio of the two; below 1 means the pool
  costs more than it saves at this size.
* ``scan.metadata_places.peak_rss_mb``: the largest resident set of the 1-worker scans, measured
  per child process so the harness's own memory is not counted.
* ``scan.rescan_unchanged_10k.seconds`` / ``.files_per_s``: 10,000 hard links to corpus photos in
  100 folders of 100, scanned once (not timed), then scanned again unchanged. The row checks that
  the timed scans decoded nothing (every file unchanged, none indexed or moved).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus import Entry, describe
from harness import (
    ChildRun,
    Context,
    Measurement,
    median,
    only_detectors,
    row,
    run_child,
    spread,
    write_config,
    xdg_env,
)

WORKER_COUNTS = (1, 2)
REPEATS, QUICK_REPEATS = 5, 1
# Two batches of the default batch_size (8) and a bit, so the 2-worker run really uses a pool.
QUICK_PHOTOS = 10
RESCAN_FOLDERS, RESCAN_PER_FOLDER = 100, 100
QUICK_RESCAN_FOLDERS = 5
RESCAN_REPEATS = 3


@dataclass
class ScanRun:
    workers: int
    summary: dict[str, Any]
    child: ChildRun


@dataclass
class Throughput:
    photos: list[Entry]
    runs: dict[int, list[ScanRun]]

    def seconds(self, workers: int) -> list[float]:
        return [float(r.summary["seconds"]) for r in self.runs[workers]]

    def rate(self, workers: int) -> float:
        return len(self.photos) / median(self.seconds(workers))

    def problem(self) -> str | None:
        """Why these runs do not measure what the rows claim, if they do not."""
        n = len(self.photos)
        for runs in self.runs.values():
            for r in runs:
                s = r.summary
                if (s["found"], s["indexed"], s["errors"]) != (n, n, 0):
                    return f"workers={r.workers}: found {s['found']}, indexed {s['indexed']}, errors {s['errors']} (expected {n}, {n}, 0)"
        return None


def _scan_child(ctx: Context, folder: Path, workers: int) -> ScanRun:
    base = ctx.tempdir(f"xdg-w{workers}")
    env = xdg_env(base)  # a fresh, empty index every time
    write_config(base, only_detectors("metadata", "place"))
    argv = [*ctx.shadowlens_cli(), "scan", "--json", "--workers", str(workers), str(folder)]
    child = run_child(argv, env)
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {child.returncode}: {child.stderr.strip()[-500:]}")
    return ScanRun(workers, json.loads(child.stdout), child)


def _throughput(ctx: Context) -> Throughput:
    corpus = ctx.need_corpus()
    photos = corpus.phone_size()
    if ctx.quick:
        photos = sorted(photos, key=lambda e: e.size_bytes)[:QUICK_PHOTOS]
    if not photos:
        raise RuntimeError("the manifest lists no phone-size photos")
    folder = ctx.tempdir("phone-size")
    for i, entry in enumerate(photos):
        corpus.place(entry, folder / f"{i:02d}-{entry.name}")
    corpus.warm(photos)
    runs: dict[int, list[ScanRun]] = {w: [] for w in WORKER_COUNTS}
    for rep in range(QUICK_REPEATS if ctx.quick else REPEATS):
        # Alternate the order so slow drift on a shared machine does not favour one worker count.
        order = WORKER_COUNTS if rep % 2 == 0 else tuple(reversed(WORKER_COUNTS))
        for workers in order:
            runs[workers].append(_scan_child(ctx, folder, workers))
    return Throughput(photos, runs)


def throughput(ctx: Context) -> Throughput:
    return ctx.memo("scan.metadata_places", lambda: _throughput(ctx))


def _rate_row(ctx: Context, workers: int) -> Measurement:
    t = throughput(ctx)
    secs = t.seconds(workers)
    walls = [r.child.wall_seconds for r in t.runs[workers]]
    notes = f"{describe(t.photos)}; median of {len(secs)} fresh-index scans, seconds {spread(secs)}"
    if workers > 1:
        notes += "; includes starting the pool (spawned workers each load the geocoder)"
    return Measurement(
        t.rate(workers),
        notes,
        extra={"scan_seconds": secs, "process_wall_seconds": walls, "photos": [e.path for e in t.photos]},
        check_failed=t.problem(),
    )


@row("scan.metadata_places.photos_per_s.w1", unit="photos/s", needs_corpus=True)
def photos_per_s_w1(ctx: Context) -> Measurement:
    return _rate_row(ctx, 1)


@row("scan.metadata_places.photos_per_s.w2", unit="photos/s", needs_corpus=True)
def photos_per_s_w2(ctx: Context) -> Measurement:
    return _rate_row(ctx, 2)


@row("scan.metadata_places.speedup_w2_over_w1", unit="x", needs_corpus=True)
def speedup(ctx: Context) -> Measurement:
    from shadowlens.daemon.config import ScanSettings

    t = throughput(ctx)
    ratio = t.rate(2) / t.rate(1)
    size = ScanSettings().batch_size
    batches = -(-len(t.photos) // size)
    notes = f"{len(t.photos)} photos = {batches} batches of <={size} for 2 workers; {_cpus()} usable CPUs"
    if ratio < 1:
        notes += "; <1: pool start-up outweighs the parallel work at this size"
    return Measurement(ratio, notes, check_failed=t.problem())


@row("scan.metadata_places.peak_rss_mb", unit="MB", needs_corpus=True)
def peak_rss(ctx: Context) -> Measurement:
    t = throughput(ctx)
    one = [r.child.max_rss_mb for r in t.runs[1]]
    two = [r.child.max_rss_mb for r in t.runs[2]]
    notes = (
        f"largest process of the 1-worker scans {spread(one, '{:.0f}')}; "
        f"2 workers: largest single process {max(two):.0f} MB (processes are not summed)"
    )
    return Measurement(max(one), notes, extra={"w1_mb": one, "w2_largest_process_mb": two})


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class Rescan:
    files: int
    first: dict[str, Any]
    timed: list[float]
    summaries: list[dict[str, Any]]

    def problem(self) -> str | None:
        for s in self.summaries:
            if (s["found"], s["unchanged"], s["indexed"], s["moved"]) != (self.files, self.files, 0, 0):
                return (
                    f"rescan found {s['found']}, unchanged {s['unchanged']}, indexed {s['indexed']}, "
                    f"moved {s['moved']} (expected {self.files}, {self.files}, 0, 0)"
                )
        return None

    def notes(self) -> str:
        check = "FAILED" if self.problem() else "ok"
        return (
            f"{self.files} files, median of {len(self.timed)} rescans {spread(self.timed, '{:.3f}')} s; "
            f"decoded nothing: unchanged={self.summaries[-1]['unchanged']} indexed={self.summaries[-1]['indexed']} ({check}); "
            f"setup scan {self.first['seconds']:.0f} s"
        )


def _rescan(ctx: Context) -> Rescan:
    # Imported here, after run.py has pointed XDG_* at the scratch area.
    from shadowlens.daemon.config import parse_config
    from shadowlens.daemon.index.writer import Store
    from shadowlens.daemon.library.scan import Scanner

    corpus = ctx.need_corpus()
    pool = corpus.photos()
    folders = QUICK_RESCAN_FOLDERS if ctx.quick else RESCAN_FOLDERS
    base = ctx.tempdir("rescan")
    tree = base / "tree"
    for i in range(folders * RESCAN_PER_FOLDER):
        entry = pool[i % len(pool)]
        corpus.place(entry, tree / f"f{i // RESCAN_PER_FOLDER:03d}" / f"{i:05d}-{entry.name}")
    index = base / "index.sqlite3"
    import tomllib

    off = tomllib.loads(only_detectors("metadata", "place"))["detectors"]
    config = parse_config(
        {"index": {"path": str(index)}, "scan": {"workers": 1}, "detectors": off}, "<bench>"
    )

    def scan_once() -> tuple[float, dict[str, Any]]:
        # A new Store and Scanner each time, as a new `shadowlens scan` process would have.
        store = Store.open(index)
        try:
            scanner = Scanner(config, store, index)
            started = time.perf_counter()
            summary = scanner.scan([tree], workers=1)
            return time.perf_counter() - started, summary.as_dict()
        finally:
            store.close()

    _, first = scan_once()
    timed = [scan_once() for _ in range(RESCAN_REPEATS)]
    return Rescan(folders * RESCAN_PER_FOLDER, first, [t for t, _ in timed], [s for _, s in timed])


def rescan(ctx: Context) -> Rescan:
    return ctx.memo("scan.rescan_unchanged", lambda: _rescan(ctx))


@row("scan.rescan_unchanged_10k.seconds", unit="s", needs_corpus=True)
def rescan_seconds(ctx: Context) -> Measurement:
    r = rescan(ctx)
    extra = {
        "files": r.files,
        "seconds": r.timed,
        "setup_summary": {k: v for k, v in r.first.items() if k != "problems"},
    }
    return Measurement(median(r.timed), r.notes(), extra=extra, check_failed=r.problem())


@row("scan.rescan_unchanged_10k.files_per_s", unit="files/s", needs_corpus=True)
def rescan_rate(ctx: Context) -> Measurement:
    r = rescan(ctx)
    return Measurement(
        r.files / median(r.timed), f"{r.files} files / median rescan time", check_failed=r.problem()
    )
