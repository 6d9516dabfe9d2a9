"""Decoding near the limits: peak memory and time of one photo's decode in a fresh process.

The issue's two cases: a 249-megapixel RGBA PNG (just under ``decode.max_megapixels``) and a
200-megapixel JPEG, plus the corpus's 200 MP HEIC. Each is decoded by ``open_photo`` at the
default detector side with the default budget (``decode.max_memory_mb`` = 1024), in a process
started by a small launcher: Linux carries a process's peak RSS across exec, so a child of the
harness would report the harness's own peak.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from harness import Context, Measurement, Skip, row

WANT_SIDE = 1280
LAUNCHER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
run = subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], capture_output=True, text=True)
print(json.dumps({"peak": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - started, "out": run.stdout, "err": run.stderr[-400:]}))
"""
DECODE = """
import json, resource, sys, time
from pathlib import Path
import shadowlens.daemon.analysis.decode as decode
imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
started = time.perf_counter()
photo = decode.open_photo(Path(sys.argv[1]), want_side=int(sys.argv[2]), max_megapixels=250)
print(json.dumps({"imports_mb": imported, "decode_s": time.perf_counter() - started, "error": photo.error,
                  "size": list(photo.image.size) if photo.image is not None else None}))
"""
JPEG = """
import sys
import numpy as np
from PIL import Image
Image.MAX_IMAGE_PIXELS = None
width, height = int(sys.argv[1]), int(sys.argv[2])
tile = np.random.default_rng(3).integers(0, 256, (512, 512, 3), dtype=np.uint8)
image = Image.new("RGB", (width, height))
for y in range(0, height, 512):
    for x in range(0, width, 512):
        image.paste(Image.fromarray(tile), (x, y))
image.save(sys.argv[3], quality=85)
"""


def _png(path: Path, width: int, height: int) -> None:
    """An RGBA PNG written row by row (the image never exists whole): 8x8 blocks of noise."""
    rng = np.random.default_rng(5)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(
            chunk(b"IHDR", width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 6, 0, 0, 0]))
        )
        packer = zlib.compressobj(1)
        for _ in range(0, height, 8):
            blocks = rng.integers(0, 256, (-(-width // 8), 4), dtype=np.uint8)
            line = b"\x00" + np.repeat(blocks, 8, axis=0)[:width].tobytes()
            data = packer.compress(line * 8)
            if data:
                out.write(chunk(b"IDAT", data))
        out.write(chunk(b"IDAT", packer.flush()))
        out.write(chunk(b"IEND", b""))


def _measure(path: Path) -> Measurement:
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, DECODE, str(path), str(WANT_SIDE)],
        capture_output=True,
        text=True,
        check=True,
    )
    outer = json.loads(launched.stdout)
    if not outer["out"]:
        raise RuntimeError(f"decode failed: {outer['err']}")
    inner = json.loads(outer["out"])
    notes = (
        f"{path.stat().st_size / 2**20:,.0f} MB file decoded to {inner['size']} in {inner['decode_s']:.1f} s; "
        f"peak RSS {outer['peak']:.0f} MB, of which imports {inner['imports_mb']:.0f} MB"
        + (f"; error: {inner['error']}" if inner["error"] else "")
    )
    failed = "not decoded" if inner["size"] is None else None
    return Measurement(outer["peak"], notes, extra=inner, check_failed=failed)


@row("decode.png_249mp_rgba.peak_rss", unit="MB")
def png_249mp(ctx: Context) -> Measurement:
    side = 4000 if ctx.quick else 15_780
    path = ctx.tempdir("decode-png") / "poster.png"
    _png(path, side, side)
    return _measure(path)


@row("decode.jpeg_200mp.peak_rss", unit="MB")
def jpeg_200mp(ctx: Context) -> Measurement:
    width, height = (4000, 3000) if ctx.quick else (16_320, 12_240)
    path = ctx.tempdir("decode-jpeg") / "phone.jpg"
    subprocess.run([sys.executable, "-c", JPEG, str(width), str(height), str(path)], check=True)
    return _measure(path)


@row("decode.heic_200mp.peak_rss", unit="MB", needs_corpus=True)
def heic_200mp(ctx: Context) -> Measurement:
    path = ctx.need_corpus().root / "heic" / "pillow-heif" / "200MP.heic"
    if not path.is_file():
        raise Skip(f"{path} is not in the corpus")
    return _measure(path)
