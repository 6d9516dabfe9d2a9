"""What `shadowlens watch` prints without -v: the start lines, the catch-up's progress, the end."""

from __future__ import annotations

import re
from pathlib import Path

from shadowlens.daemon.analysis.detector import Detector, DetectorSettings, PhotoContext
from shadowlens.daemon.analysis.findings import Finding
from shadowlens.daemon.service.announce import detector_states, start_lines
from shadowlens.daemon.service.catchup import CatchUp

from tests.conftest import Env, small_jpeg
from tests.foreground_watch import ForegroundWatch

STATUS = re.compile(r"^shadowlens: indexed ([\d,]+) of ([\d,]+) photos, (\d+) errors, [\d.]+ photos/s$", re.M)


def _library(folder: Path, count: int) -> None:
    for i in range(count):
        small_jpeg(
            folder / f"{i // 100:02d}" / f"IMG_{i:04d}.jpg", color=(i % 256, 7 * i % 256, 13 * i % 256)
        )


def _stop(daemon: ForegroundWatch) -> str:
    daemon.interrupt()
    code = daemon.wait(30)
    err = daemon.stderr()
    assert code == 0, err
    assert "Traceback" not in err
    return err


def test_start_lines_and_status_lines_during_the_catch_up(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "Library"
    _library(folder, 200)
    env.write_config("[watch]\nprogress_seconds = 0.1\n[scan]\nworkers = 2\n")
    daemon = ForegroundWatch(env, folder)
    try:
        daemon.wait_until(lambda: "caught up" in daemon.stderr(), 240, "the catch-up to end")
        err = _stop(daemon)
    finally:
        daemon.close()
    lines = err.splitlines()
    assert f"shadowlens: watching {folder} (inotify) with 2 worker processes" in lines, err
    detectors = next(line for line in lines if line.startswith("shadowlens: detectors: "))
    names = set(detectors.split(": ", 2)[2].split(", "))
    assert {"metadata", "place"} <= names
    if "faces" in names:
        assert any(line.startswith("shadowlens: models: faces detector=") for line in lines), err
    caught_up = next(i for i, line in enumerate(lines) if "caught up" in line)
    assert lines[caught_up].startswith("shadowlens: caught up: 200 photos indexed, 0 errors in "), err
    statuses = [STATUS.match(line) for line in lines[:caught_up]]
    counts = [(int(m[1].replace(",", "")), int(m[2])) for m in statuses if m]
    assert counts, f"no status line during the catch-up:\n{err}"
    assert all(total == 200 and done <= 200 for done, total in counts), err
    assert [done for done, _ in counts] == sorted(done for done, _ in counts)
    # Without -v no other info line reaches the console: no per-photo or library chatter.
    assert [line for line in lines if line.startswith("INFO")] == [], err
    assert daemon.stdout() == ""


def test_on_a_terminal_the_catch_up_draws_a_bar(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "Library"
    _library(folder, 30)
    env.write_config("[watch]\nprogress_seconds = 0.1\n[scan]\nworkers = 2\n")
    daemon = ForegroundWatch(env, folder, tty=True, extra_env={"COLUMNS": "100"})
    try:
        daemon.wait_until(lambda: "caught up" in daemon.stderr(), 120, "the catch-up to end")
        err = _stop(daemon)
    finally:
        daemon.close()
    assert re.search(r"Catching up\s+\[#+-*\]\s+\d+/30", err), err
    assert re.search(r"Catching up\s+\[#+\]\s+30/30", err), "the bar is drawn to its end"
    assert not STATUS.search(err), "a bar instead of status lines"
    assert "shadowlens: caught up: 30 photos indexed" in err
    assert re.search(r"^shadowlens: stopping; 0 jobs requeued$", err, re.M), err


def test_status_lines_follow_the_injected_interval_and_the_growing_queue() -> None:
    said: list[str] = []
    catch_up = CatchUp(said.append, interval=30, bar_stream=None)
    catch_up.start(outstanding=5000, now=100.0)
    for _ in range(1234):
        catch_up.photo_done(error=False)
    for _ in range(12):
        catch_up.photo_done(error=True)
    catch_up.tick(outstanding=3754, now=110.0)
    assert said == [], "not before the interval"
    catch_up.tick(outstanding=3760, now=489.375)  # six photos arrived meanwhile
    assert said == ["indexed 1,246 of 5,006 photos, 12 errors, 3.2 photos/s"]
    catch_up.tick(outstanding=3700, now=500.0)
    assert len(said) == 1
    catch_up.tick(outstanding=0, now=1000.0, paused=False)
    assert said[-1] == "caught up: 1,246 photos indexed, 12 errors in 15 min (1.4 photos/s)"
    assert not catch_up.active
    catch_up.tick(outstanding=10, now=2000.0)
    assert len(said) == 2, "nothing once caught up"


class _Faces(Detector):
    name = "faces"

    def __init__(self) -> None:
        super().__init__(DetectorSettings())
        self.version = "1+dlib-hog+off+off+off"

    def detect(self, photo: PhotoContext) -> list[Finding]:
        return []


class _Metadata(_Faces):
    name = "metadata"

    def __init__(self) -> None:
        super().__init__()
        self.version = "1"


class _Objects(_Faces):
    name = "objects"

    def __init__(self) -> None:
        super().__init__()
        self.version = "1+off"


def test_the_start_lines_name_folders_detectors_and_models() -> None:
    states = detector_states([_Objects(), _Faces(), _Metadata()])
    lines = start_lines({"/photos": "inotify", "/nas": "polling"}, 1, states)
    assert lines[:3] == [
        "watching /photos (inotify), /nas (polling) with 1 worker process",
        "detectors: faces, metadata, objects",
        "models: faces detector=dlib-hog; embedder=none; agesex=none; expression=none"
        " (details: shadowlens doctor)",
    ]
    # The same words as `doctor`: a detector that finds nothing says so, with its fix.
    assert lines[3].startswith("objects: enabled, no model: finds nothing — ")
    assert len(lines) == 4
