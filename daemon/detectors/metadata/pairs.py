"""A raw file and the JPEG or HEIC the camera wrote beside it are one moment, not two photos.

Cameras set to RAW+JPEG (and phones saving ProRAW with a HEIC) write both under one name. The
raw file says which file is its twin; the profile then counts the moment through the twin only
while the twin is indexed (profile/load.py).
"""

from __future__ import annotations

import os

from shadowlens.daemon.analysis.formats import RAW_MIME, RAW_NAMES
from shadowlens.daemon.api import Finding, PhotoContext, RawPairFinding

TWIN_SUFFIXES = (".jpg", ".jpeg", ".heic", ".heif", ".hif")
_RAW_FORMATS = frozenset(RAW_NAMES.values()) | frozenset(RAW_MIME.values())


def raw_pair(photo: PhotoContext) -> list[Finding]:
    if photo.decoded.format not in _RAW_FORMATS:
        return []
    folder, name = os.path.split(photo.path)
    stem = os.path.splitext(name)[0]
    try:
        entries = os.listdir(folder or ".")
    except OSError:
        return []
    for entry in sorted(entries):
        entry_stem, suffix = os.path.splitext(entry)
        if entry_stem == stem and suffix.lower() in TWIN_SUFFIXES:
            return [RawPairFinding(label=entry, sibling=os.path.join(folder, entry))]
    return []
