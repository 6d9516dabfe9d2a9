"""The daemon's safe-to-share twin folder: a scrubbed, verified copy of each new photo, never
itself analysed as a photo of the user's."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import Env, small_jpeg
from tests.daemon_helpers import WatchProcess, query, status_of, wait_for
from tests.library_builder import Shot, write_shot
from tests.plugin_builder import install_plugin

pytestmark = [pytest.mark.corpus, pytest.mark.slow]
OFF = "".join(f"[detectors.{n}]\nenabled = false\n" for n in ("codes", "nudity"))


def test_new_photos_get_a_safe_copy_in_the_twin_folder(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "Pictures"
    twin = folder / "Safe to share"
    folder.mkdir()
    env.write_config(f'[library]\nfolders = [{{ path = "{folder}", safe_copies = "{twin}" }}]\n' + OFF)
    proc = WatchProcess(env, folder)
    try:
        proc.wait_ready()
        shot = Shot("IMG_0001.jpg", datetime(2025, 6, 1, 9, 0), 48.8584, 2.2945, ["Call +44 20 7946 0958"])
        staged = write_shot(shot, tmp_path / "staging")
        original = staged.read_bytes()
        staged.rename(folder / staged.name)
        copy = twin / "IMG_0001.jpg"
        wait_for(lambda: copy.exists(), timeout=240, what="the safe copy", proc=proc)
        wait_for(lambda: "safe copy:" in proc.output(), timeout=30, what="the log line", proc=proc)
    finally:
        code, _ = proc.terminate()
    assert code == 0
    assert (folder / "IMG_0001.jpg").read_bytes() == original, "the original is never touched"
    with Image.open(copy) as image:
        assert not image.getexif() and "xmp" not in image.info
    indexed = [p for (p,) in query(env.index, "SELECT path FROM files")]
    assert indexed == [str(folder / "IMG_0001.jpg")], "the copy is not analysed as a new photo"


TRAP = """
from __future__ import annotations

import os
import time

from shadowlens.daemon.api import Detector, Finding, PhotoContext


class TrapDetector(Detector):
    '''On a safe copy under verification (a hidden temp file): kills its process when the photo
    is 80 px wide, and hangs otherwise. Photos themselves pass.'''

    name = "trap"
    version = "1"

    def detect(self, photo: PhotoContext) -> list[Finding]:
        if photo.path.name.startswith(".shadowlens-scrub-"):
            if photo.decoded.width == 80:
                os._exit(70)
            time.sleep(600)
        return []
"""
FAST = "".join(f"[detectors.{n}]\nenabled = false\n" for n in ("faces", "text", "codes", "nudity"))


def _copy_jobs(env: Env) -> dict[str, tuple[str, str | None]]:
    rows = query(env.index, "SELECT path, state, last_error FROM jobs WHERE reason = 'safe_copy'")
    return {Path(path).name: (state, error) for path, state, error in rows}


def test_safe_copies_run_in_the_pool_with_time_limits_and_crash_isolation(env: Env, tmp_path: Path) -> None:
    """A copy whose verification hangs is stopped by the detectors' time limits, one that kills
    its worker is parked, and the daemon goes on. (In a thread of the daemon, as before, the hang
    had no limit and the crash took the daemon down.)"""
    site = install_plugin(tmp_path / "site", "trap_plugin", "trap", "TrapDetector", TRAP)
    folder, twin = tmp_path / "Pictures", tmp_path / "Pictures" / "Safe"
    env.write_config(
        f'[library]\nfolders = [{{ path = "{folder}", safe_copies = "{twin}" }}]\n'
        + FAST
        + "[detectors.trap]\ntime_limit_seconds = 2\n"
        # Always past its limit: the verification cannot check the metadata, so it refuses the copy.
        + "[detectors.metadata]\ntime_limit_seconds = 0.000001\n"
        + "[watch]\nsettle_seconds = 0.5\nmax_attempts = 2\n[scan]\nworkers = 2\n"
    )
    extra = {"PYTHONPATH": str(site)}
    # Indexed before the daemon starts: its copy is caught up at start.
    small_jpeg(folder / "hang.jpg", color=(200, 30, 30))
    env.run("scan", str(folder), extra_env=extra)
    proc = WatchProcess(env, folder, extra_env=extra)
    try:
        proc.wait_ready()
        started = time.monotonic()
        small_jpeg(folder / "crash.jpg", size=(80, 60), color=(30, 200, 30))
        wait_for(
            lambda: (
                _copy_jobs(env).get("hang.jpg", ("",))[0] == "done"
                and _copy_jobs(env).get("crash.jpg", ("",))[0] == "parked"
            ),
            180,
            "both safe copies to be settled",
            proc,
        )
        assert time.monotonic() - started < 180, "the 600 s hang was stopped"
        jobs = _copy_jobs(env)
        assert "timed out after 1e-06 s (detectors.metadata.time_limit_seconds)" in str(jobs["hang.jpg"][1])
        assert "worker process died" in str(jobs["crash.jpg"][1])
        assert "no safe copy of" in proc.output()
        # The daemon goes on, and a parked copy is no error of the photo's.
        small_jpeg(folder / "later.jpg", color=(30, 30, 200))
        wait_for(lambda: status_of(env.index, folder / "later.jpg") == "indexed", 60, "later.jpg", proc)
        assert status_of(env.index, folder / "crash.jpg") == "indexed"
        code, _ = proc.terminate()
    finally:
        proc.stop()
    assert code == 0
    assert not [p for p in twin.glob("*.jpg") if not p.name.startswith(".")], "no unverified copy"
