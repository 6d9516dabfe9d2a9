"""Messages C libraries print on stderr while decoding (libtiff's "TIFFFillStrip: Read error",
libjpeg's warnings) go to the log with the file's name, not raw to the daemon's stderr.

The libraries write to file descriptor 2 directly, so Python's sys.stderr cannot catch them:
descriptor 2 points at a temporary file while a photo is decoded, then is restored.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("shadowlens.decode.native")
# One redirection at a time: descriptor 2 is shared by the whole process.
_lock = threading.Lock()
MAX_LINES = 20


@contextmanager
def native_messages(name: str) -> Iterator[list[str]]:
    """Capture what C code writes to stderr in the block; each line is logged as a warning
    naming ``name``, and the lines are given back (the list fills when the block ends)."""
    lines: list[str] = []
    if not _lock.acquire(blocking=False):
        yield lines  # another thread is decoding; its capture catches these messages too
        return
    try:
        with tempfile.TemporaryFile() as capture:
            saved = os.dup(2)
            os.dup2(capture.fileno(), 2)
            try:
                yield lines
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            capture.seek(0)
            text = capture.read(64 * 1024).decode("utf-8", "replace")
    finally:
        _lock.release()
    found = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    lines.extend(found[:MAX_LINES])
    for line in lines:
        log.warning("%s: %s", name, line)
    if len(found) > MAX_LINES:
        log.warning("%s: %d more messages from the decoder", name, len(found) - MAX_LINES)
