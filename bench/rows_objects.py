"""Objects offline: the built NanoDet through the objects detector, and its TFJS converter.

Rows:

* ``objects.nanodet_ms_per_photo``: ``ObjectsDetector.detect`` (letterbox to 416, the model,
  decoding, NMS) on 10 corpus photos of at least 640 x 480 (3 with ``--quick``), decoded
  beforehand at the detector's long side; the model loaded and run once before timing. The value
  is the mean over photos and repetitions; the notes list each photo's mean and what was found.
* ``convert.nanodet_build_s``: ``tfjs.convert`` plus ``save_model`` on ``nanodet.json`` and
  ``nanodet.bin``, read from the folder ``SHADOWLENS_BENCH_MEMBERS`` names (skipped when unset);
  checked against the manifest's pinned sha256.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
from pathlib import Path

from harness import BUILT_MODELS, Context, Measurement, Skip, row, spread

MODEL_ID = "nanodet-coco"
MEMBERS_VAR = "SHADOWLENS_BENCH_MEMBERS"
PHOTOS, QUICK_PHOTOS = 10, 3
REPEATS, QUICK_REPEATS = 3, 1
MIN_PIXELS = 640 * 480


@row("objects.nanodet_ms_per_photo", unit="ms", needs_corpus=True)
def nanodet_ms_per_photo(ctx: Context) -> Measurement:
    from shadowlens.daemon.analysis.decode import open_photo
    from shadowlens.daemon.api import PhotoContext
    from shadowlens.daemon.config import Config
    from shadowlens.daemon.detectors.vision.objects import ObjectsDetector, YoloSettings
    from shadowlens.models.registry import Registry

    corpus = ctx.need_corpus()
    registry = Registry(ctx.tempdir("objects-models"), [BUILT_MODELS])
    if not registry.available(MODEL_ID):
        raise Skip(f"{MODEL_ID} is not built in {BUILT_MODELS}: run `make models`")
    detector = ObjectsDetector(YoloSettings(model=MODEL_ID), registry=registry)
    assert detector.model is not None and detector.version == f"1+{MODEL_ID}", detector.version
    entries = sorted((e for e in corpus.photos() if e.pixels >= MIN_PIXELS), key=lambda e: e.path)
    entries = entries[: QUICK_PHOTOS if ctx.quick else PHOTOS]
    limit = Config().decode.max_megapixels
    long_side = detector.options.long_side
    photos = []
    for entry in entries:
        path = corpus.root / entry.path
        photos.append(
            PhotoContext(path=path, decoded=open_photo(path, want_side=long_side, max_megapixels=limit))
        )
        photos[-1].rgb(long_side)  # the pipeline's decode, outside the timing
    found = {
        entry.name: detector.detect(photo) for entry, photo in zip(entries, photos, strict=True)
    }  # warm-up
    per_photo: dict[str, list[float]] = {entry.name: [] for entry in entries}
    for _ in range(QUICK_REPEATS if ctx.quick else REPEATS):
        for entry, photo in zip(entries, photos, strict=True):
            started = time.perf_counter()
            detector.detect(photo)
            per_photo[entry.name].append((time.perf_counter() - started) * 1000)
    every = [ms for samples in per_photo.values() for ms in samples]
    objects = "; ".join(f"{name}: {', '.join(f.label for f in fs)}" for name, fs in found.items() if fs)
    notes = (
        f"{len(entries)} photos x {len(every) // len(entries)} runs, long side {long_side}; "
        f"per photo {spread([statistics.mean(v) for v in per_photo.values()], '{:.1f}')}; "
        f"objects: {objects or 'none'}"
    )
    detector.close()
    return Measurement(statistics.mean(every), notes)


@row("convert.nanodet_build_s", unit="s")
def convert_nanodet(ctx: Context) -> Measurement:
    from shadowlens.models.convert import save_model
    from shadowlens.models.convert.tfjs import convert
    from shadowlens.models.registry import Registry

    folder = os.environ.get(MEMBERS_VAR)
    if not folder:
        raise Skip(f"set {MEMBERS_VAR} to a folder holding the extracted nanodet.json and nanodet.bin")
    spec = Registry(ctx.tempdir("convert-manifest")).get(MODEL_ID)
    assert spec.package is not None
    members: dict[str, Path] = {}
    for member, pinned in spec.package.members.items():
        source = Path(folder) / Path(member).name
        if not source.is_file():
            raise Skip(f"{source} is missing")
        if hashlib.sha256(source.read_bytes()).hexdigest() != pinned:
            raise Skip(f"{source} is not the pinned {member}")
        members[source.name] = source
    target = ctx.tempdir("convert-nanodet") / spec.files[0].name
    started = time.perf_counter()
    save_model(convert(members), target)
    seconds = time.perf_counter() - started
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    problem = None if digest == spec.files[0].sha256 else f"sha256 {digest} != pinned {spec.files[0].sha256}"
    return Measurement(seconds, f"{target.stat().st_size} bytes of ONNX", check_failed=problem)
