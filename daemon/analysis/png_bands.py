"""Decode a very large, non-interlaced PNG at reduced size without ever holding the whole image.

Pillow decodes a PNG into one buffer: a 249-megapixel RGBA PNG costs about 1 GB for its pixels
alone, more once converted. Here the IDAT stream is inflated one band of rows at a time, each band
is decoded by Pillow as a small PNG of its own (its C code undoes the filters, Paeth included) and
box-reduced at once, so memory peaks at about ``band_bytes`` plus the reduced output (and the
file's own bytes, which the caller holds).

Each band is wrapped as an 8-bit L, LA, RGB or RGBA "proxy" PNG with the same bytes per pixel as the
real colour type. PNG filters only see bytes at that stride, so the proxy unfilters to exactly the raw
scanline bytes, which Pillow holds losslessly; the last of them are the unfiltered prior row the next
band's filters refer to, passed in as a first row with filter type 0. The raw bytes are then
unpacked the way Pillow would unpack them for the whole file (palette, 1/2/4-bit samples,
transparency), so the result matches Pillow's own decode. In a 16-bit image high and low bytes never
meet under the filters, so only the high bytes are decoded: all an 8-bit result needs.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
# Bytes per pixel -> the 8-bit colour type with that many: L, LA, RGB, RGBA.
_PROXY_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}


@dataclass(frozen=True)
class PngHeader:
    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool
    channels: int
    bytes_per_row: int  # one unfiltered scanline, without its filter-type byte


def png_header(data: bytes | memoryview) -> PngHeader | None:
    """The IHDR fields, or None when ``data`` is not a PNG. ValueError for a malformed header."""
    if bytes(data[:8]) != _SIGNATURE:
        return None
    if len(data) < 33 or bytes(data[8:16]) != b"\x00\x00\x00\x0dIHDR":
        raise ValueError("PNG: missing or truncated IHDR chunk")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    if not (0 < width < 2**31 and 0 < height < 2**31):
        raise ValueError(f"PNG: bad image size {width}x{height}")
    if depth not in _DEPTHS.get(colour, ()) or compression or filtering or interlace > 1:
        raise ValueError(f"PNG: invalid IHDR (bit depth {depth}, colour type {colour})")
    channels = _CHANNELS[colour]
    row = (width * channels * depth + 7) // 8
    return PngHeader(width, height, depth, colour, bool(interlace), channels, row)


def decode_png_reduced(
    data: bytes | memoryview, target_side: int, *, band_bytes: int = 32 * 1024 * 1024
) -> Image.Image:
    """The PNG shrunk by the smallest integer box factor that fits ``target_side``, band by band.

    Mode RGBA when the PNG has alpha or tRNS, L for other greyscale (16-bit: the high byte), else
    RGB. Equals Pillow's full decode, converted to that mode, then ``reduce(k)``. ValueError
    ("PNG: ...") for corrupt or truncated data; NotImplementedError for what this cannot decode
    exactly (interlaced, 16-bit with a tRNS colour key), so the caller can fall back to Pillow.
    """
    header = png_header(data)
    if header is None:
        raise ValueError("PNG: not a PNG file")
    if header.interlaced:
        raise NotImplementedError("PNG: interlaced (Adam7) images are not decoded in bands")
    if target_side < 1 or band_bytes < 1:
        raise ValueError("PNG: target_side and band_bytes must be positive")
    decoder = _BandDecoder(header, memoryview(data))
    k = -(-max(header.width, header.height) // target_side)
    out = Image.new(decoder.out_mode, (-(-header.width // k), -(-header.height // k)))
    # Every step holds two copies of a band (compressed and decoded, decoded and converted...), each
    # at most the larger of a filtered row and a decoded one (Pillow keeps RGB in 4 bytes a pixel).
    row_cost = 2 * max(1 + header.bytes_per_row, header.width * (1 if decoder.out_mode == "L" else 4))
    rows = max(k, band_bytes // row_cost // k * k)  # a multiple of k: boxes never straddle bands
    for top in range(0, header.height, rows):
        out.paste(decoder.band(min(rows, header.height - top), k), (0, top // k))
    return out


class _BandDecoder:
    def __init__(self, header: PngHeader, view: memoryview) -> None:
        plte, trns, idat = _chunks(view)
        if header.colour_type == 3 and plte is None:
            raise ValueError("PNG: palette image without a PLTE chunk")
        if header.bit_depth == 16 and trns is not None and header.colour_type in (0, 2):
            # The colour key compares whole 16-bit samples; only the high bytes are decoded here.
            raise NotImplementedError("PNG: 16-bit image with a tRNS colour key")
        self.header, self.plte, self._inflater = header, plte, _Inflater(idat)
        self.mode, self.rawmode, self.transparency = _pillow_view(header, plte, trns)
        alpha = header.colour_type in (4, 6) or trns is not None
        self.out_mode = "RGBA" if alpha else "L" if header.colour_type == 0 else "RGB"
        self._wide = 2 if header.bit_depth == 16 else 1
        bpp = max(1, header.channels * header.bit_depth // 8) // self._wide
        self._proxy_type = _PROXY_TYPE[bpp]
        self._proxy_width = header.bytes_per_row // self._wide // bpp
        self._seed = bytes(self._proxy_width * bpp)  # the row above the first is all zero

    def band(self, n: int, k: int) -> Image.Image:
        """The next ``n`` rows, decoded, converted to ``out_mode`` and reduced by ``k``."""
        image = _decode(self._proxy_png(n))
        self._seed = image.crop((0, n, self._proxy_width, n + 1)).tobytes()
        header = self.header
        if header.colour_type == 3 or header.bit_depth < 8:
            # Indices and 1/2/4-bit samples: unpacked with the raw mode Pillow uses for the file.
            image = Image.frombytes(self.mode, (header.width, n + 1), image.tobytes(), "raw", self.rawmode)
            if self.mode == "P" and self.plte is not None:
                image.putpalette(self.plte)
        if self.transparency is not None:
            image.info["transparency"] = self.transparency
        if image.mode != self.out_mode:
            image = image.convert(self.out_mode)
        box = (0, 1, header.width, n + 1)  # row 0 is the previous band's
        # reduce() premultiplies alpha even by 1: crop keeps the colour of clear pixels, as Pillow does.
        return image.reduce(k, box) if k > 1 else image.crop(box)

    def _proxy_png(self, n: int) -> bytes:
        stride = 1 + self.header.bytes_per_row
        z = zlib.compressobj(0)  # stored blocks: Pillow only needs a valid stream, not a small one
        idat = [z.compress(b"\0" + self._seed)]
        if self._wide == 1:
            self._inflater.read(n * stride, lambda piece: idat.append(z.compress(piece)))
        else:
            pieces: list[bytes] = []
            self._inflater.read(n * stride, pieces.append)
            rows = b"".join(pieces)
            del pieces
            # Each row's filter-type byte, then the high byte of every sample.
            idat += (
                z.compress(rows[i : i + 1] + rows[i + 1 : i + stride : 2])
                for i in range(0, len(rows), stride)
            )
        idat.append(z.flush())
        ihdr = struct.pack(">IIBBBBB", self._proxy_width, n + 1, 8, self._proxy_type, 0, 0, 0)
        return b"".join([_SIGNATURE, *_chunk(b"IHDR", [ihdr]), *_chunk(b"IDAT", idat), *_chunk(b"IEND", [])])


class _Inflater:
    """The concatenated IDAT data, inflated only as far as asked: never more than a band at once."""

    def __init__(self, idat: list[memoryview]) -> None:
        self._chunks = iter(idat)
        self._z = zlib.decompressobj()
        self._tail: bytes | memoryview = b""

    def read(self, size: int, sink: Callable[[bytes], object]) -> None:
        while size > 0:
            try:
                out = self._z.decompress(self._tail, size)
            except zlib.error as exc:
                raise ValueError(f"PNG: corrupt image data ({exc})") from None
            self._tail = self._z.unconsumed_tail
            if out:
                size -= len(out)
                sink(out)
                continue
            following = None if self._z.eof or self._tail else next(self._chunks, None)
            if following is None:
                raise ValueError("PNG: image data ends early (truncated or corrupt file)")
            self._tail = following


def _chunks(view: memoryview) -> tuple[bytes | None, bytes | None, list[memoryview]]:
    """PLTE, tRNS and the IDAT bodies (views into ``view``, not copies)."""
    plte: bytes | None = None
    trns: bytes | None = None
    idat: list[memoryview] = []
    pos = 8
    while pos < len(view):
        if pos + 12 > len(view):
            raise ValueError(f"PNG: truncated chunk header at byte {pos}")
        length, kind = struct.unpack_from(">I4s", view, pos)
        end = pos + 12 + length
        if not kind.isalpha() or length >= 2**31 or end > len(view):
            raise ValueError(f"PNG: corrupt or truncated chunk {kind!r} at byte {pos}")
        body = view[pos + 8 : end - 4]
        if kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        elif kind == b"PLTE" and not idat:
            plte = bytes(body)
        elif kind == b"tRNS" and not idat:
            trns = bytes(body)
        pos = end
    if not idat:
        raise ValueError("PNG: no image data (IDAT chunk)")
    return plte, trns, idat


def _pillow_view(header: PngHeader, plte: bytes | None, trns: bytes | None) -> tuple[str, str, object]:
    """Pillow's mode, raw mode and transparency for this PNG, from its own header parser."""
    ihdr = struct.pack(">IIBBBBB", header.width, 1, header.bit_depth, header.colour_type, 0, 0, 0)
    parts = _chunk(b"IHDR", [ihdr])
    for kind, body in ((b"PLTE", plte), (b"tRNS", trns)):
        if body is not None:
            parts += _chunk(kind, [body])
    stub = b"".join([_SIGNATURE, *parts, *_chunk(b"IDAT", [])])
    with Image.open(io.BytesIO(stub)) as image:
        rawmode = image.tile[0].args
        assert isinstance(rawmode, str)
        return image.mode, rawmode, image.info.get("transparency")


def _decode(png: bytes) -> Image.Image:
    buffer = io.BytesIO(png)
    try:
        with Image.open(buffer) as image:
            image.load()
    except OSError as exc:  # Pillow's decoder on a bad filter type or a short band
        raise ValueError(f"PNG: corrupt image data ({exc})") from None
    finally:
        buffer.close()  # frees the compressed band: the image must not keep it alive
    return image


def _chunk(kind: bytes, parts: list[bytes]) -> list[bytes]:
    crc = zlib.crc32(kind)
    for part in parts:
        crc = zlib.crc32(part, crc)
    return [struct.pack(">I", sum(map(len, parts))), kind, *parts, struct.pack(">I", crc)]
