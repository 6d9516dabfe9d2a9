"""The daemon's safe-to-share twin folder: a scrubbed, verified copy of each new photo, never
itself analysed as a photo of the user's."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import Env
from tests.daemon_helpers import WatchProcess, query, wait_for
from tests.library_builder import Shot, write_shot

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
