"""The analysis pipeline: hash -> (known? link) -> decode -> detectors, assembled in one place.

It is pure with respect to the index: it reads whether a content hash is already analysed
and returns results; the store's single writer persists them.
"""

from __future__ import annotations

import hashlib
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from shadowlens.daemon.analysis.decode import (
    VERIFY_SIDE,
    DecodeError,
    UnsupportedFormat,
    open_photo,
    read_photo_bytes,
)
from shadowlens.daemon.analysis.detector import Detector, PhotoContext
from shadowlens.daemon.analysis.findings import Finding
from shadowlens.daemon.analysis.results import AnalysisResult, DetectorRun, FileStat
from shadowlens.daemon.analysis.signature import analysis_signature
from shadowlens.daemon.config import Config
from shadowlens.models.registry import sha256_file

KnownLookup = Callable[[str], str | None]
# Makes a KnownLookup inside a worker process: picklable (a module-level function or a partial
# of one), so the analysis layer never opens the index itself.
KnownSource = Callable[[], KnownLookup]
"""Maps a sha256 to the analysis signature stored for it, or None when it is new."""


class DetectorTimeout(Exception):
    """Raised inside a detector that ran past its time limit."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (main thread only: where workers run detectors).

    Native code (an ONNX session) is interrupted when it returns to Python, so a single long
    call overruns by its own length, but a detector never hangs the worker indefinitely.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise DetectorTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _one_line(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:300]


class Pipeline:
    def __init__(
        self, config: Config, detectors: Sequence[Detector], known: KnownLookup | None = None
    ) -> None:
        self.config = config
        self.detectors = list(detectors)
        self.known = known or (lambda _sha: None)
        self.signature = analysis_signature(self.detectors)
        pixel_needs = [d.needs.pixels for d in self.detectors if d.needs.pixels]
        full = any(d.needs.full_resolution for d in self.detectors)
        # None asks for full resolution; with no pixel detector we still decode, small, to prove
        # the file is whole.
        self.want_side: int | None = None if full else max(pixel_needs, default=VERIFY_SIDE)

    def analyse(self, paths: Sequence[Path | str], *, force: bool = False) -> list[AnalysisResult]:
        """One file at a time: hash it, decode it from the same bytes, run every detector on
        it, and let its pixels go before the next. A job's photos are not held together: eight
        decoded phone photos (and each detector's resized copies) took a worker over 1 GB, and
        no detector gains from seeing them at once."""
        results: list[AnalysisResult] = []
        for path in paths:
            result, data = self._hash(Path(path), force)
            results.append(result)
            if data is None or result.linked:
                continue
            context = self._decode(result, data)
            del data
            if context is not None:
                try:
                    self._detect([(result, context)])
                finally:
                    context.decoded.release()
        return results

    def _hash(self, path: Path, force: bool) -> tuple[AnalysisResult, bytes | None]:
        """The file's hash, and its bytes for the decoder (the file is read once)."""
        result = AnalysisResult(path=str(path), signature=self.signature)
        budget = self.config.decode.max_memory_mb
        data: bytes | None = None
        try:
            before = FileStat.of(path)
            try:
                data = read_photo_bytes(path, budget)
                digest = hashlib.sha256(data).hexdigest()
            except DecodeError as exc:
                # Empty, or too big to hold: hashed from disk, and the reason is the photo's error.
                result.error = str(exc)
                digest = sha256_file(path)
            after = FileStat.of(path)
        except FileNotFoundError:
            result.file_error = "vanished before it could be read"
            return result, None
        except PermissionError:
            result.file_error = "permission denied"
            return result, None
        except OSError as exc:
            result.file_error = f"cannot read: {_one_line(exc)}"
            return result, None
        if before != after:
            result.file_error = "changed while being read (still being written?)"
            return result, None
        result.stat, result.sha256 = after, digest
        result.linked = not force and self.known(digest) == self.signature
        return result, data

    def _decode(self, result: AnalysisResult, data: bytes) -> PhotoContext | None:
        try:
            decoded = open_photo(
                Path(result.path),
                want_side=self.want_side,
                max_megapixels=self.config.decode.max_megapixels,
                data=data,
                max_memory_mb=self.config.decode.max_memory_mb,
            )
        except UnsupportedFormat as exc:
            result.skipped = str(exc)
            return None
        except DecodeError as exc:
            result.error = str(exc)
            return None
        result.format, result.width, result.height = decoded.format, decoded.width, decoded.height
        result.error = decoded.error
        if decoded.missing_codec:
            # A valid file this build cannot show: indexed, and each pixel detector says why it
            # did not run, so the photo is not taken for one that has nothing to find.
            result.runs.extend(
                DetectorRun(d.name, d.version, [], f"not run: {decoded.missing_codec}")
                for d in self.detectors
                if d.needs.pixels is not None
            )
        return PhotoContext(path=Path(result.path), decoded=decoded)

    def _detect(self, items: list[tuple[AnalysisResult, PhotoContext]]) -> None:
        for detector in self.detectors:
            runnable = [
                (r, c) for r, c in items if detector.needs.pixels is None or c.decoded.image is not None
            ]
            if not runnable:
                continue
            outcomes: list[tuple[list[Finding], str | None, float]]
            if type(detector).detect_batch is Detector.detect_batch:
                outcomes = [self._detect_one(detector, c) for _, c in runnable]
            else:
                started = time.perf_counter()
                try:
                    batch = detector.detect_batch([c for _, c in runnable])
                    per_photo = (time.perf_counter() - started) / len(runnable)
                    outcomes = [(f, None, per_photo) for f in batch]
                except Exception:
                    outcomes = [self._detect_one(detector, c) for _, c in runnable]
            for (result, context), (findings, error, seconds) in zip(runnable, outcomes, strict=True):
                context.findings.extend(findings)
                run = DetectorRun(detector.name, detector.version, findings, error, seconds)
                run.timings = detector.pop_timings(context)
                result.runs.append(run)

    @staticmethod
    def _detect_one(detector: Detector, context: PhotoContext) -> tuple[list[Finding], str | None, float]:
        """Run one photo alone, so a failure is charged to that photo and detector only."""
        started = time.perf_counter()
        limit = detector.settings.time_limit_seconds
        try:
            with time_limit(limit):
                findings = detector.detect(context)
            return findings, None, time.perf_counter() - started
        except DetectorTimeout:
            return [], f"timed out after {limit:g} s (detectors.{detector.name}.time_limit_seconds)", limit
        except Exception as exc:
            return [], f"{type(exc).__name__}: {_one_line(exc)}", time.perf_counter() - started

    def close(self) -> None:
        for detector in self.detectors:
            detector.close()
