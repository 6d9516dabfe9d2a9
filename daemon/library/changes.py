"""What changed since the index last looked: one walk of the folders, one "unchanged?" check.

`shadowlens scan`, the daemon's reconcile (at start and every ``reconcile_minutes``) and each
file the daemon's watcher reports all decide the same way which files to analyse.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shadowlens.daemon.analysis.results import FileStat
from shadowlens.daemon.config import LibrarySettings
from shadowlens.daemon.index.schema import FileStatus
from shadowlens.daemon.index.writer import KnownFile, Store
from shadowlens.daemon.library.walk import WalkResult, walk


def file_stat(st: os.stat_result) -> FileStat:
    return FileStat(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def current_stat(path: str) -> FileStat | None:
    try:
        return FileStat.of(Path(path))
    except OSError:
        return None


def unchanged(
    known: KnownFile | None, stat: FileStat | None, signature: str, retry_errors: bool = False
) -> bool:
    """Whether a file needs no analysis: the index holds it with the same size, mtime, inode and
    device, analysed by the same detectors (``signature``; upgrading one re-analyses its photos).
    A file that could not be read at all (an error with no analysis) is tried again, as it may
    be fixed now; other errors only with ``retry_errors``."""
    if known is None or stat is None or known.status == FileStatus.PENDING or stat != known.stat:
        return False
    if known.status == FileStatus.ERROR and (known.signature is None or retry_errors):
        return False
    if known.status == FileStatus.SKIPPED:
        # Nothing reads its format; ``--retry-errors`` tries again (after a codec is installed).
        return not retry_errors
    return known.signature == signature


@dataclass
class Plan:
    walked: WalkResult
    known: dict[str, KnownFile]
    # Files to analyse, in walk order.
    todo: list[str]

    @property
    def gone(self) -> list[str]:
        """Known files that vanished, were excluded or no longer look like photos; not those
        beneath a folder that could not be read this time."""
        walked = self.walked
        return [path for path in self.known if path not in walked.files and not walked.is_incomplete(path)]


def plan(
    library: LibrarySettings,
    store: Store,
    roots: Sequence[Path],
    signature: str,
    retry_errors: bool = False,
) -> Plan:
    """Walk ``roots`` and compare what is there with what the index holds."""
    walked = walk(roots, library.exclusions, library.follow_symlinks)
    known = store.known_files(roots)
    todo = [
        path
        for path, st in walked.files.items()
        if not unchanged(known.get(path), file_stat(st), signature, retry_errors)
    ]
    return Plan(walked, known, todo)
