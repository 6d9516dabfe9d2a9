"""Which file names are not photos yet: temporary and partial files that sync tools write.

A later rename from one of these names to a photo name is what makes the photo appear.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence

TEMPORARY_PATTERNS = (
    ".syncthing.*.tmp",  # Syncthing
    "~syncthing~*",  # Syncthing (Windows-style)
    "*.~*",  # Nextcloud / ownCloud chunked uploads
    "*.part",
    "*.partial",
    "*.crdownload",
    "*.download",
    "*.tmp",
    ".goutputstream-*",  # GLib atomic writes
)


def is_temporary(name: str) -> bool:
    """Hidden files and sync-tool partial files are never photos."""
    if name.startswith("."):
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in TEMPORARY_PATTERNS)


def is_excluded(relative_path: str, patterns: Sequence[str]) -> bool:
    """Exclude globs match the path relative to a folder (with a leading /) or the bare name."""
    if not patterns:
        return False
    anchored = "/" + relative_path.replace(os.sep, "/").lstrip("/")
    name = anchored.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(anchored, p) or fnmatch.fnmatch(name, p) for p in patterns)
