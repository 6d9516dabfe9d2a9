"""Decoding stays within the per-worker memory budget: big PNGs band by band, JPEGs in draft
mode, and a decode that cannot be made small is refused with the reason, not attempted.

Peaks are measured in fresh processes with resource.getrusage (tests/peak_memory.py) and
compared with each other in the same run, never with a fixed number of megabytes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.peak_memory import peak_rss

# Blocks of noise: a big image whose file stays small, so the file's bytes do not hide the decode.
MAKE = """
import sys
import numpy as np
from PIL import Image
width, height, mode, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
channels = len(mode)
rng = np.random.default_rng(7)
small = rng.integers(0, 256, (height // 8, width // 8, channels), dtype=np.uint8)
big = np.repeat(np.repeat(small, 8, axis=0), 8, axis=1)
Image.MAX_IMAGE_PIXELS = None
image = Image.fromarray(big, mode)
if path.endswith(".jpg"):
    image.save(path, quality=80)
elif path.endswith(".tif"):
    image.save(path, compression="tiff_deflate")
else:
    image.save(path, compress_level=1)
"""

DECODE = """
import json, sys
from pathlib import Path
from shadowlens.daemon.analysis.decode import open_photo
budget = float(sys.argv[2])
if budget == 0:
    import shadowlens.daemon.analysis.decode  # the imports alone: the baseline
    print(json.dumps({}))
    raise SystemExit
photo = open_photo(Path(sys.argv[1]), want_side=1280, max_megapixels=250, max_memory_mb=budget)
size = list(photo.image.size) if photo.image is not None else None
print(json.dumps({"error": photo.error, "size": size}))
"""


def make(path: Path, width: int, height: int, mode: str) -> Path:
    subprocess.run(
        [sys.executable, "-c", MAKE, str(width), str(height), mode, str(path)], check=True, timeout=300
    )
    return path


def decode(path: Path, budget_mb: float) -> tuple[int, dict[str, object]]:
    peak, out = peak_rss(DECODE, str(path), str(budget_mb))
    return peak, json.loads(out)


@pytest.fixture(scope="module")
def baseline() -> int:
    peak, _ = decode(Path("/nonexistent"), 0)
    return peak


def test_a_big_png_decodes_band_by_band_within_a_small_budget(tmp_path: Path, baseline: int) -> None:
    path = make(tmp_path / "poster.png", 8000, 7000, "RGBA")  # 56 MP: 224 MB of RGBA pixels
    whole_peak, whole = decode(path, 4096)
    banded_peak, banded = decode(path, 128)
    assert whole["error"] is None and banded["error"] is None
    assert whole["size"] == [1280, 1120]
    # An integer box factor (7 here): at most the asked side, never under half of it.
    assert banded["size"] == [-(-8000 // 7), 7000 // 7]
    # Above what the imports cost, the banded decode needs a fraction of the whole decode.
    assert banded_peak - baseline < (whole_peak - baseline) / 3


def test_a_big_jpeg_decodes_in_draft_mode(tmp_path: Path, baseline: int) -> None:
    path = make(tmp_path / "phone.jpg", 8000, 6000, "RGB")  # 48 MP
    peak, result = decode(path, 64)
    assert result["error"] is None and result["size"] == [1280, 960]
    # 48 MP held whole is 192 MB; the draft decode holds an eighth of the side's pixels.
    assert peak - baseline < 48e6 * 4 / 4


def test_a_decode_over_the_budget_is_refused_with_the_reason(tmp_path: Path, baseline: int) -> None:
    path = make(tmp_path / "scan.tif", 6000, 5000, "RGB")  # 30 MP, Deflate: no reduced decode for TIFF
    peak, result = decode(path, 64)
    assert result["size"] is None
    error = str(result["error"])
    assert "over the per-worker budget of 64 MB (decode.max_memory_mb)" in error and "\n" not in error
    # Refused before decoding: the peak is the imports and the file's bytes, not its pixels.
    file_bytes = path.stat().st_size
    assert peak - baseline < file_bytes * 1.5
