"""Safe-to-share twin folders: the daemon keeps a sanitised copy of each new photo.

A folder with ``safe_copies = "..."`` in the config gets a twin tree of scrubbed, verified
copies that a sharing app can be pointed at. The work runs in a thread of its own (it analyses
each copy again) and is idempotent: a copy is made when it is missing or older than its source,
so a restart catches up by walking the folders, and nothing is lost when the daemon stops.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from pathlib import Path

from shadowlens.daemon.analysis.decode import has_photo_extension
from shadowlens.daemon.config import Config
from shadowlens.daemon.library.names import is_excluded
from shadowlens.daemon.scrub.writer import SUFFIX

log = logging.getLogger(__name__)


class SafeCopies:
    def __init__(self, config: Config, index_path: Path) -> None:
        self.config, self.index_path = config, index_path
        self.pairs = [(f.path, f.safe_copies) for f in config.library.folders if f.safe_copies]
        self._queue: queue.Queue[Path | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.made = self.failed = 0

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
        twin = self.twin_of(path)
        if twin is None:
            return False
        try:
            return not twin.exists() or twin.stat().st_mtime < path.stat().st_mtime
        except OSError:
            return False

    def start(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="safe-copies", daemon=True)
        self._thread.start()
        threading.Thread(target=self.catch_up, name="safe-copies-walk", daemon=True).start()

    def catch_up(self) -> None:
        """Queues every photo whose copy is missing or stale (after a restart, or a new setting)."""
        for root, twin in self.pairs:
            for folder, dirs, files in os.walk(root):
                here = Path(folder)
                dirs[:] = [d for d in dirs if not (here / d).is_relative_to(twin)]
                for name in files:
                    path = here / name
                    relative = str(path.relative_to(root))
                    wanted = has_photo_extension(path) and not is_excluded(
                        relative, self.config.library.exclude
                    )
                    if wanted and self.is_stale(path):
                        self.enqueue(path)

    def enqueue(self, path: Path) -> None:
        if self.enabled and self.twin_of(path) is not None:
            self._queue.put(path)

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        from shadowlens.daemon.scrub.runner import Scrubber, ScrubOptions

        scrubber: Scrubber | None = None
        options = ScrubOptions.from_settings(self.config.scrub)
        try:
            while (path := self._queue.get()) is not None:
                twin = self.twin_of(path)
                if twin is None or not self.is_stale(path):
                    continue
                if scrubber is None:
                    scrubber = Scrubber(self.config, self.index_path)
                twin.parent.mkdir(parents=True, exist_ok=True)
                twin.unlink(missing_ok=True)  # replaced, not numbered: the twin mirrors the source
                report = scrubber.scrub(path, twin.parent, options)
                if report.ok:
                    self.made += 1
                    log.info(
                        "safe copy: %s (exposure %s -> %s)",
                        report.copy,
                        report.exposure_before,
                        report.exposure_after,
                    )
                else:
                    self.failed += 1
                    log.warning("no safe copy of %s: %s", path, "; ".join(report.problems))
        except Exception:
            log.exception("safe copies stopped; they resume at the next start")
        finally:
            if scrubber is not None:
                scrubber.close()
