"""What a cluster worker runs: the daemon's analysis job, on another machine's view of the library.

Each job carries the paths as the daemon sees them, the daemon's config (JSON) and its
``[cluster] path_map``. The worker maps the paths to its own mount of the library, analyses
them with the daemon's detectors and returns the results, as plain data, under the daemon's
paths. It never opens the index, so nothing is linked by content here (``known=None``): the
daemon decides what needs analysing before it sends a job.

The pipeline is built from the config the job carries, not from the worker machine's own: the
detectors, their settings and so the analysis signature must be the daemon's, or every photo a
worker analysed would look out of date to the daemon and be analysed again.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import os
import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shadowlens.daemon.analysis.findings import Finding
from shadowlens.daemon.analysis.results import AnalysisResult, FileStat
from shadowlens.daemon.config import Config, ConfigError, parse_config

if TYPE_CHECKING:
    from shadowlens.daemon.analysis.pipeline import Pipeline

# The sections analysis reads. The others describe the daemon's machine (its library folders,
# a segments file that must exist) and need not even validate on a worker.
ANALYSIS_SECTIONS = ("decode", "models", "detectors")
CONFIG_SOURCE = "the daemon's config (as sent to this worker)"
# Network shares round file times (SMB to 100 ns, a FAT-formatted NAS disk to 2 s), so the
# worker's mtime of an unchanged file can differ from the daemon's by that much.
MTIME_SLACK_NS = 2_000_000_000
# How a file the worker cannot see starts its error: the daemon can tell it from a file's own fault.
NOT_ON_WORKER = "not found on cluster worker"


class WorkerSetupError(RuntimeError):
    """This worker cannot analyse with the daemon's config at all (not one photo's problem)."""


class PathMap:
    """The library's folders as the daemon names them -> the same folders as a worker mounts them.

    Prefixes match whole path components ("/volume1/photos2" is not under "/volume1/photos"),
    the longest first; a path under no prefix passes through unchanged (both machines then
    mount the library at the same place).
    """

    def __init__(self, mapping: Mapping[str, str]) -> None:
        pairs = [(_trim(daemon), _trim(worker)) for daemon, worker in mapping.items()]
        self._forward = sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)
        self._backward = sorted(((w, d) for d, w in pairs), key=lambda pair: len(pair[0]), reverse=True)

    def to_worker(self, path: str) -> str:
        return _replace(path, self._forward)

    def to_daemon(self, path: str) -> str:
        return _replace(path, self._backward)

    def __bool__(self) -> bool:
        return bool(self._forward)


def _trim(prefix: str) -> str:
    return prefix.rstrip("/") or "/"


def _rest(path: str, prefix: str) -> str | None:
    """What follows ``prefix`` in ``path`` ("" or "/..."), None when ``path`` is not under it."""
    base = prefix.rstrip("/")  # "" for the root, under which every absolute path is
    if path == base or path.startswith(base + "/"):
        return path[len(base) :]
    return None


def _replace(path: str, pairs: list[tuple[str, str]]) -> str:
    for source, target in pairs:
        rest = _rest(path, source)
        if rest is not None:
            return (target.rstrip("/") + rest) or "/"
    return path


def config_for_workers(config: Config) -> str:
    """The daemon's side: the config a job carries (``analyse_remote`` reads any Config's JSON)."""
    return config.model_dump_json(include=set(ANALYSIS_SECTIONS))


def worker_config(config_json: str) -> Config:
    """The daemon's analysis settings, validated here; ConfigError if this worker refuses them."""
    data: dict[str, Any] = json.loads(config_json)
    config = parse_config({k: data[k] for k in ANALYSIS_SECTIONS if k in data}, CONFIG_SOURCE)
    # The daemon's model folders are its own machine's; here they would only warn at every
    # start. The worker finds its models in its own data folder (`shadowlens models build`).
    config.models.search_paths = [p for p in config.models.search_paths if p.is_dir()]
    return config


# One pipeline per worker process, for the config of the jobs it is sent: its models stay
# loaded from job to job. A new config (the daemon restarted with other settings) replaces it
# and frees the old one's models, rather than keeping both in memory.
_cached: tuple[str, Pipeline] | None = None
# Jobs run one at a time per process, as in the local pool: the detectors and their models
# assume it, and `--nthreads 1` makes it so; the lock keeps it so under any other setting.
_lock = threading.Lock()


def _pipeline(config_json: str) -> Pipeline:
    global _cached
    key = hashlib.sha256(config_json.encode("utf-8")).hexdigest()
    if _cached is not None and _cached[0] == key:
        return _cached[1]
    from shadowlens.daemon.analysis.pool import build_pipeline
    from shadowlens.models.sessions import release_heap, start_idle_reaper

    if _cached is not None:
        previous, _cached = _cached[1], None
        previous.close()
        del previous
        gc.collect()
        release_heap()
    try:
        pipeline = build_pipeline(worker_config(config_json), None)
    except ConfigError as exc:
        raise WorkerSetupError(
            f"cluster worker {socket.gethostname()} cannot analyse with {exc} "
            "(are shadowlens and its detectors the same version as the daemon's?)"
        ) from None
    # Models unload after their idle TTL, so a helper machine idle for the night stays small.
    start_idle_reaper()
    _cached = (key, pipeline)
    return pipeline


def analyse_remote(paths: list[str], config_json: str, path_map: dict[str, str]) -> list[AnalysisResult]:
    """The cluster's analysis task: a result for each of the daemon's ``paths``, in order."""
    from shadowlens.models.sessions import release_heap

    mapping = PathMap(path_map)
    local = [mapping.to_worker(path) for path in paths]
    with _lock:
        try:
            results = _pipeline(config_json).analyse(local)
        finally:
            # As in the local pool: the heap a job's photos scattered goes back to the system,
            # so a worker's peak stays one photo above its models.
            release_heap()
    for daemon_path, worker_path, result in zip(paths, local, results, strict=True):
        result.path = daemon_path
        if result.file_error is not None and not os.path.exists(worker_path):
            result.file_error = (
                f"{NOT_ON_WORKER} {socket.gethostname()} at {worker_path}: deleted since, or the library "
                "is not mounted there ([cluster] path_map maps the daemon's folders to the workers' mounts)"
            )
        if mapping:
            for run in result.runs:
                run.findings = [_finding_to_daemon(finding, mapping) for finding in run.findings]
    return results


def _finding_to_daemon(finding: Finding, mapping: PathMap) -> Finding:
    """A finding that names another file (a raw photo's JPEG twin) names it as the daemon does."""
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(finding):
        value = getattr(finding, field.name)
        if isinstance(value, str) and (mapped := mapping.to_daemon(value)) != value:
            changes[field.name] = mapped
    extra = {k: mapping.to_daemon(v) if isinstance(v, str) else v for k, v in finding.extra.items()}
    if extra != finding.extra:
        changes["extra"] = extra
    return dataclasses.replace(finding, **changes) if changes else finding


def daemon_stat(result: AnalysisResult) -> AnalysisResult:
    """The daemon's side: ``result`` with the file's stat as the daemon sees it.

    A worker's stat has its mount's device and inode numbers, which the daemon's next walk
    would take for a changed file, and analyse again, forever. The daemon's own stat is taken
    when it is of the same content (same size, same modification time within the shares'
    rounding); otherwise the file changed since the worker read it.
    """
    if result.stat is None:
        return result
    try:
        here = FileStat.of(Path(result.path))
    except OSError as exc:
        return _unstored(result, f"cannot be read here after a cluster worker read it: {exc.strerror or exc}")
    if here.size != result.stat.size or abs(here.mtime_ns - result.stat.mtime_ns) > MTIME_SLACK_NS:
        return _unstored(result, "changed while a cluster worker read it (still being written?)")
    result.stat = here
    return result


def _unstored(result: AnalysisResult, problem: str) -> AnalysisResult:
    # As the pipeline reports a file that changed under it: no content, only the file's error.
    return AnalysisResult(path=result.path, signature=result.signature, file_error=problem)
