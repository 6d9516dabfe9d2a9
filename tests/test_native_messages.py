"""What C libraries print while decoding goes to the log with the file's name, not raw to the
daemon's stderr (where a journal shows it with no photo to blame)."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shadowlens.daemon.analysis.decode import open_photo


def damaged_tiff(path: Path) -> Path:
    """A Deflate TIFF whose strip was zeroed in the middle: libtiff reports it on stderr."""
    pixels = np.random.default_rng(1).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "TIFF", compression="tiff_deflate")
    data = bytearray(buffer.getvalue())
    data[100 : len(data) // 2] = bytes(len(data) // 2 - 100)
    path.write_bytes(bytes(data))
    return path


def test_libtiff_errors_are_logged_with_the_file_name(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    path = damaged_tiff(tmp_path / "scan-0042.tif")
    with caplog.at_level(logging.WARNING, logger="shadowlens.decode.native"):
        photo = open_photo(path, want_side=256, max_megapixels=250)
    assert photo.error is not None and photo.error.startswith("truncated or corrupt image data")
    assert any("ZIPDecode" in line for line in photo.messages)
    logged = [r.getMessage() for r in caplog.records if r.name == "shadowlens.decode.native"]
    assert logged and all(message.startswith("scan-0042.tif: ") for message in logged)
    assert "ZIPDecode" not in capfd.readouterr().err, "nothing reaches stderr raw"


def test_stderr_works_again_after_a_decode(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    open_photo(damaged_tiff(tmp_path / "a.tif"), want_side=256, max_megapixels=250)
    os.write(2, b"after the decode\n")
    assert "after the decode" in capfd.readouterr().err
