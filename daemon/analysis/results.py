"""What an analysis produces, as plain data: the pipeline fills it, the store's writer saves it.

Kept apart from the pipeline so that readers of the index (the TUI) never import detector code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from shadowlens.daemon.analysis.findings import Finding


@dataclass(frozen=True)
class FileStat:
    size: int
    mtime_ns: int
    inode: int
    device: int

    @classmethod
    def of(cls, path: Path) -> FileStat:
        st = os.stat(path)
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


@dataclass
class DetectorRun:
    detector: str
    version: str
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class AnalysisResult:
    """What happened to one file. ``linked`` means its content was already analysed."""

    path: str
    stat: FileStat | None = None
    sha256: str | None = None
    linked: bool = False
    format: str | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None
    file_error: str | None = None
    # An image format nothing here reads, with nothing to read in it: the one-line reason.
    skipped: str | None = None
    runs: list[DetectorRun] = field(default_factory=list)
    signature: str = ""

    @property
    def problem(self) -> str | None:
        """Why the file is not (fully) indexed: unreadable, damaged, or in an unread format."""
        return self.file_error or self.error or self.skipped

    @property
    def findings(self) -> list[Finding]:
        return [f for run in self.runs for f in run.findings]
