"""Third-party detectors through the same entry points as the built-in ones, and failure isolation.

The plugin is a real installed distribution (a dist-info folder with entry_points.txt on
PYTHONPATH), loaded by the real `shadowlens` process; nothing is mocked. Its findings count as the
built-ins' do, through the hooks it declares: exposure reasons, segment facts, areas to scrub.
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


INKED_SEGMENTS = """
[segments.inked]
title = "Has tattoos"
sentence = "You have tattoos: {count} photos"
why = "A tattoo seen in your photos is on you or someone close"
signals = [{ tattoo = ["anchor"] }]
min_photos = 1
"""
# The heavy built-in models have nothing to find in these flat test pictures: off, for speed.
LIGHT = "".join(f"[detectors.{name}]\nenabled = false\n" for name in ("faces", "text", "nudity", "codes"))


def inked(path: Path) -> Path:
    """A grey photo with a green patch (the plugin's tattoo) at x 100-159, y 80-119."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 240), (128, 128, 128))
    ImageDraw.Draw(image).rectangle((100, 80, 159, 119), fill=(20, 220, 20))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=95)
    return path


def test_a_plugin_s_finding_scores_fires_a_segment_and_is_scrubbed(env: Env, tmp_path: Path) -> None:
    from PIL import Image

    from tests.plugin_builder import TATTOO

    site = install_plugin(tmp_path / "site", "tattoo_plugin", "tattoo", "TattooDetector", TATTOO)
    extra = {"PYTHONPATH": str(site)}
    root = tmp_path / "photos"
    ink = inked(root / "ink.jpg")
    small_jpeg(root / "plain.jpg", size=(320, 240), color=(128, 128, 128))
    rules = tmp_path / "segments.toml"
    rules.write_text(INKED_SEGMENTS)
    env.write_config(f"[profile]\nsegments_file = {str(rules)!r}\n" + LIGHT)
    env.run("scan", str(root), extra_env=extra)

    # (1) An exposure reason with the plugin's own points, in `photos --json` and `show`.
    photos = {Path(p["path"]).name: p for p in env.json("photos", extra_env=extra)}
    reason = {"code": "tattoo", "points": 20, "text": "a tattoo that can identify you"}
    assert photos["ink.jpg"]["reasons"] == [reason] and photos["ink.jpg"]["exposure"] == 20
    assert photos["plain.jpg"]["reasons"] == [] and photos["plain.jpg"]["exposure"] == 0
    (finding,) = [f for f in photos["ink.jpg"]["findings"] if f["detector"] == "tattoo"]
    assert finding["shown"] == "tattoo: anchor motif"
    x, y, w, h = finding["bbox"]
    assert abs(x - 100) <= 2 and abs(y - 80) <= 2 and abs(w - 60) <= 4 and abs(h - 40) <= 4
    text = env.run("show", str(ink), extra_env=extra).stdout
    assert "+20  a tattoo that can identify you" in text and "  tattoo: anchor motif at [" in text

    # (2) Its fact fires a segment of the user's own segments file.
    profile = env.json("profile", extra_env=extra)
    [segment] = profile["segments"]
    assert segment["name"] == "inked" and segment["evidence"] == [str(ink)]
    assert segment["sentence"] == "You have tattoos: 1 photos"

    # [alerts.points] overrides the plugin's points, like any built-in reason's.
    env.write_config(f"[profile]\nsegments_file = {str(rules)!r}\n[alerts.points]\ntattoo = 35\n" + LIGHT)
    env.run("profile", "--refresh", extra_env=extra)
    photos = {Path(p["path"]).name: p for p in env.json("photos", extra_env=extra)}
    assert photos["ink.jpg"]["reasons"] == [{**reason, "points": 35}] and photos["ink.jpg"]["exposure"] == 35

    # (3) `scrub` fills its box, and the plugin, run again on the copy, finds nothing there.
    [report] = env.json("scrub", str(ink), "--out", str(tmp_path / "safe"), extra_env=extra)
    assert report["ok"], report["problems"]
    assert report["removed"]["text_boxes"] == 1
    assert (report["exposure_before"], report["exposure_after"]) == (35, 0)
    with Image.open(report["copy"]) as copy:
        pixel = copy.convert("RGB").getpixel((130, 100))
    assert isinstance(pixel, tuple) and max(pixel) < 40  # filled, not green
    # Asked to leave it, the copy still shows the tattoo: the plugin found it again in the copy.
    [kept] = env.json("scrub", str(ink), "--out", str(tmp_path / "kept"), "--redact", "none", extra_env=extra)
    assert kept["ok"] and kept["exposure_after"] == 35 and kept["reasons_after"][0]["code"] == "tattoo"


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
