"""``shadowlens scan``: reconcile folders with the index (new, changed, moved, deleted)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from shadowlens.daemon.analysis.pipeline import analysis_signature
from shadowlens.daemon.analysis.plugins import build_detectors
from shadowlens.daemon.analysis.pool import analyse_paths
from shadowlens.daemon.analysis.results import AnalysisResult, FileStat
from shadowlens.daemon.config import Config
from shadowlens.daemon.index.reads.queries import signature_source
from shadowlens.daemon.index.writer import ERROR, PENDING, KnownFile, Store
from shadowlens.daemon.library.walk import WalkResult, walk

log = logging.getLogger(__name__)
Progress = Callable[[AnalysisResult], None]


@dataclass
class ScanSummary:
    found: int = 0
    indexed: int = 0
    unchanged: int = 0
    moved: int = 0
    errors: int = 0
    new_errors: int = 0
    deleted: int = 0
    skipped: int = 0
    alerts: int = 0
    seconds: float = 0.0
    problems: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _unchanged(known: KnownFile | None, st: os.stat_result, signature: str, retry_errors: bool) -> bool:
    if known is None or known.status == PENDING:
        return False
    if FileStat(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev) != known.stat:
        return False
    if known.status == ERROR:
        # A file-level error (unreadable) has no photo yet: try again, it may be fixed now.
        return known.signature is not None and not retry_errors
    return known.signature == signature


class Scanner:
    def __init__(self, config: Config, store: Store, index_path: Path | None = None) -> None:
        self.config = config
        self.store = store
        self.index_path = index_path
        self.signature = analysis_signature(build_detectors(config))

    def plan(
        self, roots: Sequence[Path], retry_errors: bool = False
    ) -> tuple[WalkResult, list[str], dict[str, KnownFile]]:
        library = self.config.library
        walked = walk(roots, library.exclusions, library.follow_symlinks)
        known = self.store.known_files(roots)
        todo = [
            path
            for path, st in walked.files.items()
            if not _unchanged(known.get(path), st, self.signature, retry_errors)
        ]
        return walked, todo, known

    def scan(
        self,
        roots: Sequence[Path],
        *,
        retry_errors: bool = False,
        workers: int | None = None,
        progress: Progress | None = None,
        on_plan: Callable[[int], None] | None = None,
    ) -> ScanSummary:
        started = time.monotonic()
        roots = [Path(os.path.abspath(r)) for r in roots]
        walked, todo, known = self.plan(roots, retry_errors)
        summary = ScanSummary(found=len(walked.files), unchanged=len(walked.files) - len(todo))
        if on_plan:
            on_plan(len(todo))
        self.store.mark_pending(todo)
        for result in analyse_paths(
            todo,
            self.config,
            known=self.store.signature_for,
            known_source=signature_source(self.index_path),
            workers=workers or self.config.scan.effective_workers(),
        ):
            self.store.save(result)
            self._count(result, summary)
            if progress:
                progress(result)
        self._forget_deleted(walked, known, summary)
        # A one-off scan has no split moves to wait for: unreferenced analyses go now.
        self.store.forget_orphans(timedelta(0))
        self._record_walk(roots, walked, summary)
        in_error = sum(1 for f in self.store.known_files(roots).values() if f.status == ERROR)
        summary.errors = in_error + len(walked.errors)
        summary.seconds = round(time.monotonic() - started, 3)
        return summary

    @staticmethod
    def _count(result: AnalysisResult, summary: ScanSummary) -> None:
        problem = result.file_error or result.error
        if problem:
            summary.new_errors += 1
            summary.problems.append({"path": result.path, "error": problem})
            log.info("%s: %s", result.path, problem)
        elif result.linked:
            summary.moved += 1
        else:
            summary.indexed += 1
        for run in result.runs:
            if run.error:
                summary.problems.append(
                    {"path": result.path, "error": f"detector {run.detector}: {run.error}"}
                )
                log.info("%s: detector %s failed: %s", result.path, run.detector, run.error)

    def _forget_deleted(self, walked: WalkResult, known: dict[str, KnownFile], summary: ScanSummary) -> None:
        # Vanished, excluded or no longer photo-like: forgotten, unless their folder was unreadable.
        gone = [path for path in known if path not in walked.files and not walked.is_incomplete(path)]
        summary.deleted = self.store.remove_files(gone)

    def _record_walk(self, roots: Sequence[Path], walked: WalkResult, summary: ScanSummary) -> None:
        self.store.clear_scan_errors(roots)
        for path, stage, message in walked.errors:
            self.store.record_scan_error(path, stage, message)
            summary.new_errors += 1
            summary.problems.append({"path": path, "error": message})
            log.info("%s: %s", path, message)
        for path, reason in walked.skipped:
            summary.skipped += 1
            log.info("skipped %s: %s", path, reason)
