"""Band-by-band PNG decoding: exact against Pillow's own decode, and a fraction of its memory.

Test images are real PNG files made at test time: by Pillow (its encoder picks each row's filter
adaptively) and by a small encoder here, for what Pillow cannot write (16-bit colour, 2- and 4-bit
grey) and to force every filter type, Paeth included, across band boundaries.
"""

from __future__ import annotations

import functools
import io
import json
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from shadowlens.daemon.analysis.png_bands import PngHeader, decode_png_reduced, png_header

from tests.peak_memory import peak_rss

H, W = 217, 301
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def content(channels: int, seed: int = 0, h: int = H, w: int = W) -> NDArray[np.float64]:
    """Values in [0, 1]: a smooth gradient on the left, noise on the right, a blend between."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, h)[:, None, None]
    x = np.linspace(0, 1, w)[None, :, None]
    phase = np.arange(channels)[None, None, :] / channels
    smooth = (x * (1 - phase) + y * phase + 0.5 * np.sin(7 * x + 5 * y + 3 * phase) + 0.5) / 2.5
    weight = np.clip(3 * x - 1, 0, 1)
    return np.clip((1 - weight) * smooth + weight * rng.random((h, w, channels)), 0, 1)


def u8(channels: int, seed: int = 0) -> NDArray[np.uint8]:
    return np.asarray(np.round(content(channels, seed) * 255), dtype=np.uint8)


def saved(image: Image.Image, kind: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


def chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def encode(
    samples: NDArray[np.integer],
    depth: int,
    colour: int,
    *,
    seed: int = 0,
    filters: int | None = None,
    plte: bytes | None = None,
    trns: bytes | None = None,
    interlace: int = 0,
) -> bytes:
    """A PNG with each row's filter type chosen at random (or ``filters`` for all), in many IDATs."""
    h, w = samples.shape[:2]
    if depth == 16:
        raw = samples.astype(">u2").reshape(h, -1).view(np.uint8)
    elif depth == 8:
        raw = samples.reshape(h, -1).astype(np.uint8)
    else:
        per = 8 // depth
        padded = np.zeros((h, -(-w // per) * per), np.int64)
        padded[:, :w] = samples.reshape(h, w)
        shifts = 8 - depth * (np.arange(per) + 1)
        raw = (padded.reshape(h, -1, per) << shifts).sum(axis=2).astype(np.uint8)
    bpp = max(1, CHANNELS[colour] * depth // 8)
    r = raw.astype(np.int16)
    up = np.vstack([np.zeros_like(r[:1]), r[:-1]])
    left = np.hstack([np.zeros_like(r[:, :bpp]), r[:, :-bpp]])
    corner = np.hstack([np.zeros_like(up[:, :bpp]), up[:, :-bpp]])
    p = left + up - corner
    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
    paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, corner))
    predictions = [np.zeros_like(r), left, up, (left + up) // 2, paeth]
    types = np.random.default_rng(seed).integers(0, 5, h) if filters is None else np.full(h, filters)
    rows = np.empty((h, 1 + raw.shape[1]), np.uint8)
    rows[:, 0] = types
    for t, prediction in enumerate(predictions):
        rows[types == t, 1:] = ((r - prediction) % 256)[types == t]
    stream = zlib.compress(rows.tobytes(), 6)
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([depth, colour, 0, 0, interlace])
    parts = [b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", ihdr)]
    parts += [chunk(kind, body) for kind, body in ((b"PLTE", plte), (b"tRNS", trns)) if body is not None]
    parts += [chunk(b"IDAT", stream[i : i + 997]) for i in range(0, len(stream), 997)]
    return b"".join([*parts, chunk(b"IEND", b"")])


def levels(channels: int, depth: int, seed: int = 0) -> NDArray[np.int64]:
    return np.asarray(np.round(content(channels, seed) * (2**depth - 1)), dtype=np.int64)


def one_filter(filters: int) -> tuple[bytes, str]:
    return encode(np.asarray(u8(4), np.int64), 8, 6, filters=filters), "RGBA"


PALETTE = bytes(np.random.default_rng(5).integers(0, 256, 3 * 256, dtype=np.uint8))
QUANTISED = Image.fromarray(u8(3)).quantize(256)

# name -> (PNG bytes, the decoder's output mode)
CASES: dict[str, Callable[[], tuple[bytes, str]]] = {
    "1": lambda: (saved(Image.fromarray(u8(1)[..., 0]).convert("1")), "L"),
    "1+trns": lambda: (saved(Image.fromarray(u8(1)[..., 0]).convert("1"), transparency=255), "RGBA"),
    "L": lambda: (saved(Image.fromarray(u8(1)[..., 0])), "L"),
    "L optimize": lambda: (saved(Image.fromarray(u8(1)[..., 0]), optimize=True), "L"),
    "L+trns": lambda: (saved(Image.fromarray(u8(1)[..., 0] // 64 * 64), transparency=128), "RGBA"),
    "LA": lambda: (saved(Image.fromarray(u8(2), "LA")), "RGBA"),
    "RGB": lambda: (saved(Image.fromarray(u8(3))), "RGB"),
    "RGB optimize": lambda: (saved(Image.fromarray(u8(3)), optimize=True), "RGB"),
    "RGB+trns": lambda: (saved(Image.fromarray(u8(3) // 64 * 64), transparency=(64, 128, 64)), "RGBA"),
    "RGBA": lambda: (saved(Image.fromarray(u8(4))), "RGBA"),
    "RGBA optimize": lambda: (saved(Image.fromarray(u8(4)), optimize=True), "RGBA"),
    "I;16": lambda: (saved(Image.fromarray(levels(1, 16)[..., 0].astype(np.uint16))), "L"),
    "P": lambda: (saved(QUANTISED), "RGB"),
    "P optimize": lambda: (saved(QUANTISED, optimize=True), "RGB"),
    "P;4": lambda: (saved(Image.fromarray(u8(3)).quantize(16)), "RGB"),
    "P;2": lambda: (saved(Image.fromarray(u8(3)).quantize(4)), "RGB"),
    "P;1": lambda: (saved(Image.fromarray(u8(3)).quantize(2)), "RGB"),
    "P+trns index": lambda: (saved(QUANTISED, transparency=7), "RGBA"),
    "P+trns alphas": lambda: (saved(QUANTISED, transparency=bytes(range(0, 256, 2))), "RGBA"),
    # The encoder here: every filter type at random, bit depths Pillow does not write.
    "grey 2-bit": lambda: (encode(levels(1, 2), 2, 0), "L"),
    "grey 4-bit": lambda: (encode(levels(1, 4), 4, 0), "L"),
    "grey 4-bit+trns": lambda: (encode(levels(1, 4), 4, 0, trns=b"\0\x05"), "RGBA"),
    "grey 16-bit": lambda: (encode(levels(1, 16), 16, 0), "L"),
    "LA 16-bit": lambda: (encode(levels(2, 16), 16, 4), "RGBA"),
    "RGB 16-bit": lambda: (encode(levels(3, 16), 16, 2), "RGB"),
    "RGBA 16-bit": lambda: (encode(levels(4, 16), 16, 6), "RGBA"),
    "palette 2-bit": lambda: (encode(levels(1, 2), 2, 3, plte=PALETTE[:12]), "RGB"),
    "palette 8-bit+trns": lambda: (encode(levels(1, 8), 8, 3, plte=PALETTE, trns=PALETTE[:100]), "RGBA"),
    **{f"RGBA all filter {f}": functools.partial(one_filter, f) for f in range(5)},
    "LA all Paeth": lambda: (encode(np.asarray(u8(2), np.int64), 8, 4, filters=4), "RGBA"),
}


def pillow_decode(data: bytes, mode: str) -> Image.Image:
    """Pillow's full decode in ``mode``; 16-bit grey scaled by >> 8, as the band decoder does."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        if image.mode == "I;16":
            return Image.fromarray((np.asarray(image) >> 8).astype(np.uint8))
        return image.convert(mode)


def assert_same(ours: Image.Image, theirs: Image.Image) -> None:
    assert (ours.mode, ours.size) == (theirs.mode, theirs.size)
    assert np.array_equal(np.asarray(ours), np.asarray(theirs))


@pytest.mark.parametrize("name", CASES)
def test_matches_pillow_full_size_and_reduced(name: str) -> None:
    data, mode = CASES[name]()
    full = pillow_decode(data, mode)
    # band_bytes=3000: a band of one to a few rows, so nearly every row's filter reads a seed row
    for k, band_bytes in ((1, 3000), (1, 32 * 2**20), (3, 3000), (7, 40_000)):
        side = -(-max(W, H) // k) if k > 1 else 10**6
        assert_same(decode_png_reduced(data, side, band_bytes=band_bytes), full.reduce(k))


def test_sixteen_bit_keeps_the_high_byte() -> None:
    samples = levels(3, 16, seed=3)
    decoded = decode_png_reduced(encode(samples, 16, 2, seed=3), 10**6, band_bytes=5000)
    assert np.array_equal(np.asarray(decoded), samples >> 8)


def test_target_side_picks_the_smallest_box_factor() -> None:
    data = saved(Image.fromarray(u8(3)))
    assert decode_png_reduced(data, 301).size == (301, 217)
    assert decode_png_reduced(data, 300).size == (151, 109)
    assert decode_png_reduced(data, 100).size == (76, 55)  # k=4: 75.25 -> 76 columns
    assert decode_png_reduced(memoryview(data), 1).size == (1, 1)


def test_header() -> None:
    data = saved(Image.fromarray(u8(4)))
    assert png_header(data) == PngHeader(W, H, 8, 6, False, 4, 4 * W)
    assert png_header(encode(levels(1, 2), 2, 0)) == PngHeader(W, H, 2, 0, False, 1, 76)
    assert png_header(memoryview(saved(QUANTISED.quantize(4)))) == PngHeader(W, H, 2, 3, False, 1, 76)
    assert png_header(b"GIF89a" + bytes(40)) is None
    assert png_header(saved(Image.fromarray(u8(3)), "JPEG")) is None
    assert png_header(b"") is None
    with pytest.raises(ValueError, match=r"^PNG: "):
        png_header(data[:20])


def test_interlaced_is_not_implemented() -> None:
    data = encode(levels(3, 8), 8, 2, interlace=1)
    header = png_header(data)
    assert header is not None and header.interlaced
    with pytest.raises(NotImplementedError):
        decode_png_reduced(data, 100)


def test_sixteen_bit_colour_key_is_not_implemented() -> None:
    with pytest.raises(NotImplementedError):
        decode_png_reduced(encode(levels(3, 16), 16, 2, trns=bytes(6)), 100)


def test_missing_iend_is_tolerated() -> None:
    data = saved(Image.fromarray(u8(3)))
    assert_same(decode_png_reduced(data[:-12], 10**6), pillow_decode(data, "RGB"))


@pytest.mark.parametrize("cut", [0.5, 0.9, 33, 45])
def test_truncated_data_raises_value_error(cut: float) -> None:
    data = encode(levels(3, 8), 8, 2)  # IDATs of 997 bytes: some cuts fall between chunks
    end = int(len(data) * cut) if cut < 1 else int(cut)
    with pytest.raises(ValueError, match=r"^PNG: "):
        decode_png_reduced(data[:end], 100, band_bytes=5000)
    # A cut at a chunk boundary: whole chunks, but not all the image data.
    whole = data[: data.index(b"IDAT", len(data) // 2) - 4]
    with pytest.raises(ValueError, match=r"^PNG: image data ends early"):
        decode_png_reduced(whole, 100)


def test_corrupt_data_raises_value_error() -> None:
    data = bytearray(encode(levels(3, 8), 8, 2))
    bad_length = data[:33] + b"\x7f\xff\xff\xff" + data[37:]
    garbage = data[:41] + bytes(np.random.default_rng(1).integers(0, 256, 2000, dtype=np.uint8)) + data[2041:]
    bad_filter = encode(levels(3, 8), 8, 2, filters=7)
    no_palette = encode(levels(1, 8), 8, 3)
    for broken in (bad_length, garbage, bad_filter, no_palette, b"\x89PNG\r\n\x1a\n" + bytes(30)):
        with pytest.raises(ValueError, match=r"^PNG: "):
            decode_png_reduced(bytes(broken), 100)


# ~60 MP of noise in 4x4 blocks: it compresses to ~15 MB, so the file, which the decoder is handed
# whole, does not hide what decoding costs.
MAKE = """
import sys, numpy as np
from PIL import Image
small = np.random.default_rng(7).integers(0, 256, (1500, 2500, 3), dtype=np.uint8)
Image.fromarray(np.repeat(np.repeat(small, 4, axis=0), 4, axis=1)).save(sys.argv[1], compress_level=1)
"""
MEASURE = """
import hashlib, json, sys, time
from pathlib import Path
from PIL import Image
start = time.perf_counter()
if sys.argv[1] == "bands":
    from shadowlens.daemon.analysis.png_bands import decode_png_reduced
    small = decode_png_reduced(Path(sys.argv[2]).read_bytes(), 1024)
else:
    Image.MAX_IMAGE_PIXELS = None
    image = Image.open(sys.argv[2])
    image.load()
    small = image.reduce(10)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "sha": hashlib.sha256(small.tobytes()).hexdigest()}))
"""


def test_peak_memory_is_a_fraction_of_pillows(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    subprocess.run([sys.executable, "-c", MAKE, str(path)], check=True, timeout=120)
    results = {}
    for how in ("bands", "pillow"):
        peak, out = peak_rss(MEASURE, how, str(path))
        results[how] = {**json.loads(out), "peak": peak}
    print(f"file {path.stat().st_size / 2**20:.0f} MB, {results}")
    assert results["bands"]["sha"] == results["pillow"]["sha"]
    assert results["bands"]["peak"] < results["pillow"]["peak"] / 2
