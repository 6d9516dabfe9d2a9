"""Which image format a file is, by its content first and its name second.

The walk counts a file as image-like by extension or first bytes; the decoder then needs to
know which reader to use: Pillow, LibRaw for camera raw files, or none (a format this build
cannot read at all, reported as skipped with its name, never silently dropped).
"""

from __future__ import annotations

from pathlib import Path

import filetype

PILLOW_EXTENSIONS = frozenset(
    [
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".apng",
        ".gif",
        ".webp",
        ".heic",
        ".heif",
        ".hif",
        ".avif",
        ".tif",
        ".tiff",
        ".mpo",
        ".bmp",
        ".dib",
        ".jxl",
        ".tga",
        ".dds",
        ".ico",
        ".pcx",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
        ".psd",
        ".sgi",
        ".rgb",
        ".qoi",
        ".jp2",
        ".j2k",
        ".jpf",
        ".jpx",
        ".eps",
        ".ps",
        ".icns",
        ".im",
        ".msp",
        ".xbm",
        ".ras",
        ".sun",
        ".fits",
        ".fit",
    ]
)
RAW_EXTENSIONS = frozenset(
    [
        ".dng",
        ".cr2",
        ".cr3",
        ".crw",
        ".nef",
        ".nrw",
        ".arw",
        ".srf",
        ".sr2",
        ".raf",
        ".rw2",
        ".rwl",
        ".orf",
        ".pef",
        ".iiq",
        ".3fr",
        ".fff",
        ".srw",
        ".x3f",
        ".mrw",
        ".mef",
        ".mos",
        ".kdc",
        ".dcr",
        ".erf",
        ".raw",
        ".rwz",
        ".gpr",
    ]
)
# Image formats no reader of this build handles; named so a skip says what the file is.
OTHER_IMAGE_EXTENSIONS = {
    ".svg": "SVG vector drawing",
    ".svgz": "SVG vector drawing",
    ".exr": "OpenEXR",
    ".hdr": "Radiance HDR",
    ".xcf": "GIMP XCF",
    ".kra": "Krita document",
    ".ora": "OpenRaster",
    ".djvu": "DjVu",
    ".wdp": "JPEG XR",
    ".jxr": "JPEG XR",
    ".hdp": "JPEG XR",
    ".bpg": "BPG",
    ".cin": "Cineon",
    ".dpx": "DPX",
}
RAW_NAMES = {
    ".dng": "Adobe DNG",
    ".cr2": "Canon CR2",
    ".cr3": "Canon CR3",
    ".crw": "Canon CRW",
    ".nef": "Nikon NEF",
    ".nrw": "Nikon NRW",
    ".arw": "Sony ARW",
    ".srf": "Sony SRF",
    ".sr2": "Sony SR2",
    ".raf": "Fujifilm RAF",
    ".rw2": "Panasonic RW2",
    ".rwl": "Leica RWL",
    ".orf": "Olympus ORF",
    ".pef": "Pentax PEF",
    ".iiq": "Phase One IIQ",
    ".3fr": "Hasselblad 3FR",
    ".fff": "Hasselblad FFF",
    ".srw": "Samsung SRW",
    ".x3f": "Sigma X3F",
    ".mrw": "Minolta MRW",
    ".gpr": "GoPro GPR",
}
# exiv2's MIME types of raw formats: a raw file renamed without its extension is still raw.
RAW_MIME = {
    "image/x-canon-cr2": "Canon CR2",
    "image/x-canon-cr3": "Canon CR3",
    "image/x-canon-crw": "Canon CRW",
    "image/x-nikon-nef": "Nikon NEF",
    "image/x-sony-arw": "Sony ARW",
    "image/x-sony-sr2": "Sony SR2",
    "image/x-fuji-raf": "Fujifilm RAF",
    "image/x-panasonic-rw2": "Panasonic RW2",
    "image/x-olympus-orf": "Olympus ORF",
    "image/x-pentax-pef": "Pentax PEF",
    "image/x-samsung-srw": "Samsung SRW",
    "image/x-minolta-mrw": "Minolta MRW",
}
# First bytes of raw formats that are not TIFF-shaped (or whose TIFF header is changed).
_RAW_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"FUJIFILMCCD-RAW", "Fujifilm RAF"),
    (6, b"HEAPCCDR", "Canon CRW"),
    (0, b"\x00MRM", "Minolta MRW"),
    (0, b"FOVb", "Sigma X3F"),
    (0, b"IIRO", "Olympus ORF"),
    (0, b"IIRS", "Olympus ORF"),
    (0, b"MMOR", "Olympus ORF"),
    (0, b"IIU\x00", "Panasonic RW2"),
    (4, b"ftypcrx ", "Canon CR3"),
)
SNIFF_BYTES = 4096


def is_image_name(path: Path) -> bool:
    suffix = path.suffix.lower()
    return suffix in PILLOW_EXTENSIONS or suffix in RAW_EXTENSIONS or suffix in OTHER_IMAGE_EXTENSIONS


def has_image_magic(head: bytes) -> bool:
    """Whether the first bytes of a file are those of an image format (extension ignored)."""
    if not head:
        return False
    if raw_by_magic(head):
        return True
    kind = filetype.guess(head)
    # filetype files AutoCAD drawings under image/: not a picture anyone posts.
    return kind is not None and str(kind.mime).startswith("image/") and kind.mime != "image/vnd.dwg"


def raw_by_magic(head: bytes) -> str | None:
    for offset, magic, name in _RAW_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    return None


def raw_format(path: Path, head: bytes, mime: str | None) -> str | None:
    """The raw format's name when the file is a camera raw file, else None.

    A DNG or NEF is a TIFF by its first bytes, so the extension and exiv2's reading decide."""
    return raw_by_magic(head) or RAW_MIME.get(mime or "") or RAW_NAMES.get(path.suffix.lower())


def format_name(path: Path, head: bytes) -> str:
    """A short human name for a file's format, for "unsupported format X"."""
    if (raw := raw_by_magic(head)) is not None:
        return raw
    kind = filetype.guess(head) if head else None
    if kind is not None:
        return str(kind.extension).upper()
    suffix = path.suffix.lower()
    return RAW_NAMES.get(suffix) or OTHER_IMAGE_EXTENSIONS.get(suffix) or (suffix[1:].upper() or "unknown")


# TIFF compression codes (TIFF 6 and the registered extensions) to name a codec this build lacks.
TIFF_COMPRESSION = {
    1: "uncompressed",
    5: "LZW",
    6: "old-style JPEG",
    7: "JPEG",
    8: "Deflate",
    32773: "PackBits",
    32946: "Deflate",
    34712: "JPEG 2000",
    34887: "LERC",
    34892: "lossy JPEG (DNG)",
    34925: "LZMA",
    34933: "PNG",
    34934: "JPEG XR",
    50000: "Zstandard",
    50001: "WebP",
    50002: "JPEG XL",
    52546: "JPEG XL (DNG)",
}
# HEIF item types: the codec of each image item.
HEIF_CODECS = {
    b"hvc1": "HEVC",
    b"av01": "AV1",
    b"vvc1": "VVC (H.266)",
    b"evc1": "EVC",
    b"avc1": "H.264",
    b"unci": "uncompressed (ISO 23001-17)",
    b"j2k1": "JPEG 2000",
    b"jpeg": "JPEG",
    b"mski": "mask",
}


def heif_codec(data: bytes | memoryview) -> str | None:
    """The codec of the first coded image item of a HEIF, from its ``infe`` boxes."""
    view = bytes(data[: 1 << 20])
    start = 0
    while (at := view.find(b"infe", start)) >= 4:
        start = at + 4
        version = view[at + 4] if at + 4 < len(view) else 0
        if version < 2:
            continue
        id_bytes = 2 if version == 2 else 4
        type_at = at + 8 + id_bytes + 2
        item_type = view[type_at : type_at + 4]
        if item_type in (b"Exif", b"mime", b"grid", b"iden", b"iovl", b"uri "):
            continue
        # Only a codec we can name: a fuzzed or damaged box is damage, not a codec.
        return HEIF_CODECS.get(item_type)
    return None


def tiff_compression(code: object) -> str | None:
    if isinstance(code, tuple):
        code = code[0] if code else None
    if not isinstance(code, int):
        return None
    return TIFF_COMPRESSION.get(code, f"compression {code}")
