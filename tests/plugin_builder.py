"""Installing a throwaway third-party detector distribution for a test (a real dist-info on PYTHONPATH)."""

from __future__ import annotations

import textwrap
from pathlib import Path


def install_plugin(site: Path, module: str, entry_name: str, class_name: str, source: str) -> Path:
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    dist = site / f"{module}-0.1.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[shadowlens.detectors]\n{entry_name} = {module}:{class_name}\n")
    return site


SLEEPY = """
from __future__ import annotations

import os
import time

from shadowlens.daemon.api import Detector, Finding, PhotoContext


class SleepyDetector(Detector):
    '''Takes SLEEPY_SECONDS on photos named slow-*: a stand-in for a slow model.'''

    name = "sleepy"
    version = "1"

    def detect(self, photo: PhotoContext) -> list[Finding]:
        if photo.path.name.startswith("slow-"):
            time.sleep(float(os.environ.get("SLEEPY_SECONDS", "0")))
        return []
"""
