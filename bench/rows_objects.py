"""Objects offline: the built NanoDet through the objects detector.

Rows:

* ``objects.nanodet_ms_per_photo``: ``ObjectsDetector.detect`` (letterbox to 416, the model,
  decoding, NMS) on 10 corpus photos of at least 640 x 480 (3 with ``--quick``); see
  ``detector_timing.py``. The notes list each photo's mean and what was found. Building the
  model is timed by ``models.build_s.nanodet-coco`` (``rows_defaults.py``).
"""

from __future__ import annotations

from detector_timing import time_detector
from harness import BUILT_MODELS, Context, Measurement, Skip, row

MODEL_ID = "nanodet-coco"


@row("objects.nanodet_ms_per_photo", unit="ms", needs_corpus=True)
def nanodet_ms_per_photo(ctx: Context) -> Measurement:
    from shadowlens.daemon.detectors.vision.objects import ObjectsDetector, YoloSettings
    from shadowlens.models.registry import Registry

    registry = Registry(ctx.tempdir("objects-models"), [BUILT_MODELS])
    if not registry.available(MODEL_ID):
        raise Skip(f"{MODEL_ID} is not built in {BUILT_MODELS}: run `make models`")
    detector = ObjectsDetector(YoloSettings(model=MODEL_ID), registry=registry)
    assert detector.model is not None and detector.version == f"{type(detector).version}+{MODEL_ID}", (
        detector.version
    )
    timing = time_detector(ctx, detector, detector.options.long_side)
    detector.close()
    seen = "; ".join(f"{name}: {', '.join(f.label for f in fs)}" for name, fs in timing.found.items() if fs)
    return Measurement(timing.mean_ms, f"{timing.notes}; objects: {seen or 'none'}")
