"""The cluster rows' synthetic detector: a third-party plugin, not a bench module.

``cluster_support.install_plugin`` copies this file into a scratch site folder as
``shadowlens_bench_chain.py``, beside a dist-info that registers it under
``shadowlens.detectors`` and the ONNX graph it runs; that folder goes on PYTHONPATH for the
daemon and for every `shadowlens worker`. Nothing in the benchmark process imports it.

Each photo costs one run of a chain of MatMul+Relu layers on one onnxruntime thread: CPU-bound
work of a fixed size, so a photo takes the same time wherever it runs and the cores are the limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from shadowlens.daemon.api import Detector, Finding, Needs, PhotoContext

MODEL = Path(__file__).with_name("bench_chain.onnx")


class ChainDetector(Detector):
    """Runs the chain once per photo on an input made from the photo's pixels; finds nothing."""

    name = "bench_chain"
    version = "1"
    needs = Needs(pixels=64)
    # One session per process, made at the first photo: the daemon's own process (which imports
    # every detector to list them) never loads onnxruntime, as with the real model detectors.
    _session: ClassVar[Any] = None

    def detect(self, photo: PhotoContext) -> list[Finding]:
        session = type(self).session()
        rows, width = session.get_inputs()[0].shape
        rgb, _ = photo.rgb(self.needs.pixels)
        # Positive inputs and row-stochastic weights: values stay near 0.5 through every layer,
        # so no denormals slow some photos down and not others.
        x = np.resize(rgb.astype(np.float32).ravel() / 255.0 + 0.01, (rows, width))
        session.run(None, {"x": x})
        return []

    @classmethod
    def session(cls) -> Any:
        if cls._session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            # One thread each: the parallelism under test is the processes, one per core.
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            cls._session = onnxruntime.InferenceSession(
                str(MODEL), options, providers=["CPUExecutionProvider"]
            )
        return cls._session
