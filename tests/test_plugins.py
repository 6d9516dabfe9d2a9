"""Third-party detectors through the same entry points as the built-in ones, and failure isolation.

The plugin is a real installed distribution (a dist-info folder with entry_points.txt on
PYTHONPATH), loaded by the real `shadowlens` process; nothing is mocked.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import Env, small_jpeg
from tests.plugin_builder import install_plugin

PLUGIN = '''
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import ClassVar

from pydantic import Field

from shadowlens.daemon.analysis.detector import Detector, DetectorSettings, Needs, PhotoContext
from shadowlens.daemon.analysis.findings import Finding


@dataclass(frozen=True, kw_only=True)
class RednessFinding(Finding):
    kind: ClassVar[str] = "redness"
    mean_red: float


class RednessSettings(DetectorSettings):
    threshold: float = Field(default=128.0, ge=0, le=255)


class RednessDetector(Detector):
    """Reports photos whose mean red is above a threshold; fails on request, for the tests."""

    name = "redness"
    version = "1"
    needs = Needs(pixels=64)
    Settings: ClassVar[type[DetectorSettings]] = RednessSettings

    def detect(self, photo: PhotoContext) -> list[Finding]:
        if "raise" in photo.path.name:
            raise RuntimeError("this photo makes the plugin fail")
        if "crash" in photo.path.name:
            os._exit(77)  # what a segfault in a native decoder looks like to the pool
        image = photo.pixels(self.needs.pixels)
        red = sum(image.getpixel((x, y))[0] for x in range(image.width) for y in range(image.height))
        mean = red / (image.width * image.height)
        assert isinstance(self.settings, RednessSettings)
        if mean < self.settings.threshold:
            return []
        return [RednessFinding(label="red", confidence=mean / 255, bbox=(0, 0, photo.decoded.width,
                photo.decoded.height), mean_red=round(mean, 1))]
'''


@pytest.fixture
def plugin_path(tmp_path: Path) -> Path:
    return install_plugin(tmp_path / "site", "redness_plugin", "redness", "RednessDetector", PLUGIN)


def test_a_third_party_detector_plugs_in_with_its_own_settings(
    env: Env, tmp_path: Path, plugin_path: Path
) -> None:
    root = tmp_path / "photos"
    small_jpeg(root / "red.jpg", color=(250, 10, 10))
    small_jpeg(root / "blue.jpg", color=(10, 10, 250))
    extra = {"PYTHONPATH": str(plugin_path)}
    env.run("scan", str(root), extra_env=extra)
    photos = {Path(p["path"]).name: p for p in env.json("photos", extra_env=extra)}
    (finding,) = [f for f in photos["red.jpg"]["findings"] if f["kind"] == "redness"]
    assert finding["bbox"] == [0, 0, 64, 48] and finding["attrs"]["mean_red"] > 200
    assert finding["detector"] == "redness"
    assert not [f for f in photos["blue.jpg"]["findings"] if f["kind"] == "redness"]
    doctor = env.json("doctor", extra_env=extra)
    from importlib.metadata import entry_points

    built_in = {ep.name for ep in entry_points(group="shadowlens.detectors")}
    assert {d["name"] for d in doctor["detectors"]} == built_in | {"redness"}
    env.write_config("[detectors.redness]\nthreshold = 999\n")
    bad = env.run("scan", str(root), check=False, extra_env=extra)
    assert bad.returncode == 2 and "detectors.redness.threshold" in bad.stderr


def test_a_detector_that_raises_is_an_error_for_that_photo_and_detector_only(
    env: Env, tmp_path: Path, plugin_path: Path
) -> None:
    root = tmp_path / "photos"
    small_jpeg(root / "raise.jpg", color=(250, 10, 10))
    small_jpeg(root / "fine.jpg", color=(250, 20, 10))
    extra = {"PYTHONPATH": str(plugin_path)}
    summary = env.json("scan", str(root), extra_env=extra)
    assert summary["indexed"] == 2
    assert any("detector redness" in p["error"] for p in summary["problems"])
    photos = {Path(p["path"]).name: p for p in env.json("photos", extra_env=extra)}
    assert photos["raise.jpg"]["status"] == "indexed"
    assert photos["raise.jpg"]["detector_errors"] == [
        {"detector": "redness", "error": "RuntimeError: this photo makes the plugin fail"}
    ]
    assert [f["kind"] for f in photos["fine.jpg"]["findings"]] == ["redness"]


@pytest.mark.slow
def test_a_photo_that_kills_its_worker_process_is_isolated(
    env: Env, tmp_path: Path, plugin_path: Path
) -> None:
    root = tmp_path / "photos"
    for i in range(7):
        small_jpeg(root / f"ok-{i}.jpg", color=(250, 30 * i, 10))
    small_jpeg(root / "crash.jpg", color=(250, 99, 10))
    env.write_config("[scan]\nbatch_size = 2\n")
    extra = {"PYTHONPATH": str(plugin_path)}
    summary = env.json("scan", "--workers", "2", str(root), extra_env=extra)
    assert summary["indexed"] == 7, summary
    assert summary["problems"] == [
        {"path": str(root / "crash.jpg"), "error": summary["problems"][0]["error"]}
    ]
    assert "worker process died" in summary["problems"][0]["error"]
    photos = {Path(p["path"]).name: p for p in env.json("photos", extra_env=extra)}
    assert photos["crash.jpg"]["status"] == "error"
    assert all(photos[f"ok-{i}.jpg"]["status"] == "indexed" for i in range(7))


def test_a_detector_past_its_time_limit_is_stopped_and_recorded(env: Env, tmp_path: Path) -> None:
    from tests.plugin_builder import SLEEPY

    site = install_plugin(tmp_path / "sleepy-site", "sleepy_plugin", "sleepy", "SleepyDetector", SLEEPY)
    root = tmp_path / "photos"
    small_jpeg(root / "slow-1.jpg")
    env.write_config("[detectors.sleepy]\ntime_limit_seconds = 1\n")
    extra = {"PYTHONPATH": str(site), "SLEEPY_SECONDS": "30"}
    started = time.monotonic()
    summary = env.json("scan", str(root), extra_env=extra)
    assert time.monotonic() - started < 25, "the 30 s detector was stopped"
    assert summary["indexed"] == 1
    (photo,) = env.json("photos", extra_env=extra)
    assert photo["detector_errors"] == [
        {"detector": "sleepy", "error": "timed out after 1 s (detectors.sleepy.time_limit_seconds)"}
    ]
