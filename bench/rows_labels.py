"""ImageNet labels: the built EfficientNet-Lite0 through the labels detector.

Rows:

* ``labels.efficientnet_ms_per_photo``: ``LabelsDetector.detect`` (centre crop, the model, the
  rules) on 10 corpus photos of at least 640 x 480 (3 with ``--quick``); see
  ``detector_timing.py``. The notes list each photo's mean and the categories found. Building the
  model is timed by ``models.build_s.efficientnet-lite0-imagenet`` (``rows_defaults.py``).
"""

from __future__ import annotations

from detector_timing import time_detector
from harness import BUILT_MODELS, Context, Measurement, Skip, row

MODEL_ID = "efficientnet-lite0-imagenet"


@row("labels.efficientnet_ms_per_photo", unit="ms", needs_corpus=True)
def efficientnet_ms_per_photo(ctx: Context) -> Measurement:
    from shadowlens.daemon.detectors.vision.labels import LabelsDetector, LabelsSettings
    from shadowlens.models.registry import Registry

    registry = Registry(ctx.tempdir("labels-models"), [BUILT_MODELS])
    if not registry.available(MODEL_ID):
        raise Skip(f"{MODEL_ID} is not built in {BUILT_MODELS}: run `make models`")
    detector = LabelsDetector(LabelsSettings(), registry=registry)
    assert detector.model is not None and detector.version == f"{type(detector).version}+{MODEL_ID}", (
        detector.version
    )
    timing = time_detector(ctx, detector, detector.options.long_side)
    detector.close()
    seen = ", ".join(f"{name}: {'+'.join(f.label for f in fs)}" for name, fs in timing.found.items() if fs)
    return Measurement(timing.mean_ms, f"{timing.notes}; categories: {seen or 'none'}")
