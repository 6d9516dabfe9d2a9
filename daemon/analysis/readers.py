"""Which readers this build has, for ``shadowlens doctor``: a missing codec is then a line the
user can read, not a mystery in ``detector_errors``."""

from __future__ import annotations

import importlib.metadata

import exiv2
import pillow_heif
import rawpy
from PIL import features
from shadowlens.daemon.analysis.missing_codecs import heif_decoders


def readers() -> dict[str, str]:
    libraw = ".".join(str(part) for part in rawpy.libraw_version)
    return {
        "metadata": f"exiv2 {exiv2.version()} (EXIF with maker notes, XMP, IPTC; every format below)",
        "raw": f"LibRaw {libraw} through rawpy {importlib.metadata.version('rawpy')}",
        "heif": f"libheif {pillow_heif.libheif_version()}: {', '.join(sorted(heif_decoders()))}",
        "avif": "Pillow" if features.check("avif") else "no decoder",
        "jpeg_xl": f"pillow-jxl-plugin {importlib.metadata.version('pillow-jxl-plugin')}",
        "tiff": f"libtiff {features.version('libtiff') or 'missing'}",
        "jpeg_2000": "OpenJPEG" if features.check("jpg_2000") else "no decoder",
    }
