"""Safe-to-share twin folders: the daemon keeps a sanitised copy of each new photo.

A folder with ``safe_copies = "..."`` in the config gets a twin tree of scrubbed, verified
copies that a sharing app can be pointed at. This module says where a photo's copy goes and
whether it is due; the copies themselves are jobs of the daemon's queue, made by its worker
processes (``scrub/job.py``). The work is idempotent: a copy is made when it is missing or older
than its photo, so the daemon's first walk after a start catches up on whatever was missed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from shadowlens.daemon.config import Config
from shadowlens.daemon.scrub.writer import SUFFIX


class SafeCopies:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.pairs = [(f.path, f.safe_copies) for f in config.library.folders if f.safe_copies]

    @property
    def enabled(self) -> bool:
        return bool(self.pairs)

    def twin_of(self, path: Path) -> Path | None:
        """Where the safe copy of ``path`` goes, or None when its folder has no twin."""
        for root, twin in self.pairs:
            if path.is_relative_to(root) and not path.is_relative_to(twin):
                source_suffix = path.suffix.lower()
                heic = source_suffix in {".heic", ".heif"} and self.config.scrub.heic_output == "heic"
                relative = path.relative_to(root)
                return twin / relative.parent / (relative.stem + SUFFIX["heic" if heic else "jpeg"])
        return None

    def is_stale(self, path: Path) -> bool:
        """The photo has a twin folder, and its copy there is missing or older than it."""
        twin = self.twin_of(path)
        if twin is None:
            return False
        try:
            return not twin.exists() or twin.stat().st_mtime < path.stat().st_mtime
        except OSError:
            return False

    def stale(self, paths: Iterable[str]) -> list[str]:
        """The photos among ``paths`` (say, those a walk found) whose copy is due."""
        if not self.enabled:
            return []
        return [path for path in paths if self.is_stale(Path(path))]
