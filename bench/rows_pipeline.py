"""The whole default detector set on phone-size photos (issue 5's goal: >= 3 photos/s on 2 cores).

Each run is a fresh ``shadowlens scan --workers N`` process and index, with the shared test
models on the search path (YuNet, FER) as a user who fetched the free models would have. The
share of time per detector comes from the per-photo detector timings stored in the index.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from harness import Context, Measurement, only_detectors, row, run_child, write_config, xdg_env

QUICK_PHOTOS = 3
GOAL_PHOTOS_PER_S = 3.0


def _run(
    ctx: Context, workers: int, only: tuple[str, ...] = (), copies: int = 1
) -> tuple[float, int, dict[str, float]]:
    corpus = ctx.need_corpus()
    photos = corpus.phone_size()[: QUICK_PHOTOS if ctx.quick else None]
    tag = f"{'-'.join(only) or 'all'}-w{workers}x{copies}"
    folder = ctx.tempdir(f"pipeline-photos-{tag}")
    for entry in photos:
        corpus.place(entry, folder / Path(entry.path).name)
        for variant in range(1, copies):
            corpus.place_variant(entry, folder / f"copy{variant}" / Path(entry.path).name, variant)
    base = ctx.tempdir(f"pipeline-xdg-{tag}")
    models = ctx.repo.parent / "shared" / "models"
    config = f'[models]\nsearch_paths = ["{models}"]\n' if models.exists() else ""
    write_config(base, config + (only_detectors(*only) if only else ""))
    child = run_child(
        [*ctx.shadowlens_cli(), "scan", "--json", "--workers", str(workers), str(folder)], xdg_env(base)
    )
    if child.returncode != 0:
        raise RuntimeError(f"scan exited {child.returncode}: {child.stderr.strip()[-400:]}")
    summary = json.loads(child.stdout)
    index = base / "data" / "shadowlens" / "index.sqlite3"
    with sqlite3.connect(index) as db:
        shares = dict(
            db.execute("SELECT detector, sum(seconds) FROM detector_runs GROUP BY detector").fetchall()
        )
    return float(summary["seconds"]), int(summary["indexed"]), {k: float(v) for k, v in shares.items()}


def _measure(ctx: Context, workers: int) -> Measurement:
    seconds, indexed, shares = ctx.memo(f"pipeline.w{workers}", lambda: _run(ctx, workers))
    total = sum(shares.values()) or 1.0
    split = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1]))
    rate = indexed / seconds
    return Measurement(
        rate,
        f"{indexed} photos in {seconds:.1f} s, all default detectors; time per detector: {split}; "
        f"goal >= {GOAL_PHOTOS_PER_S} photos/s",
        extra={"seconds_by_detector": shares},
    )


@row("pipeline.all_default.photos_per_s.w1", unit="photos/s", needs_corpus=True)
def all_default_w1(ctx: Context) -> Measurement:
    return _measure(ctx, 1)


@row("pipeline.all_default.photos_per_s.w2", unit="photos/s", needs_corpus=True)
def all_default_w2(ctx: Context) -> Measurement:
    return _measure(ctx, 2)


@row("pipeline.all_default.photos_per_s.w2.x4", unit="photos/s", needs_corpus=True)
def all_default_w2_steady(ctx: Context) -> Measurement:
    """Four byte-different copies of each phone-size photo: the pool's and the models' start-up
    cost, paid once per worker, weighs a quarter as much as in the 19-photo rows."""
    copies = 1 if ctx.quick else 4
    seconds, indexed, shares = ctx.memo("pipeline.w2x4", lambda: _run(ctx, 2, copies=copies))
    total = sum(shares.values()) or 1.0
    split = ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1]) if v)
    return Measurement(
        indexed / seconds,
        f"{indexed} photos in {seconds:.1f} s on 2 workers; time per detector: {split}; "
        f"goal >= {GOAL_PHOTOS_PER_S} photos/s",
        extra={"seconds_by_detector": shares},
    )


@row("pipeline.ocr_gated.photos_per_s.w1", unit="photos/s", needs_corpus=True)
def ocr_gated_w1(ctx: Context) -> Measurement:
    """Text alone: the small detection gate on every photo, the close read only where it saw text."""
    seconds, indexed, shares = ctx.memo("pipeline.ocr.w1", lambda: _run(ctx, 1, ("text",)))
    text = shares.get("text", 0.0)
    return Measurement(
        indexed / seconds,
        f"{indexed} photos in {seconds:.1f} s with the text detector only "
        f"({text / max(indexed, 1) * 1000:.0f} ms of OCR per photo, model load included)",
        extra={"seconds_by_detector": shares},
    )
