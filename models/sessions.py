"""Loading models lazily, sharing them across a worker's photos, and unloading them when idle.

A worker process analyses many photos with the same models, so each model is loaded once, on first
use, and shared. A daemon that waits for new photos should not keep hundreds of MB of weights
resident, so a model idle longer than its TTL is unloaded, and loaded again when a photo arrives.
onnxruntime's thread pool is sized so that all workers together use about one thread per core,
and each model's graph is optimised once per machine, not once per worker (models/onnx_cache.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import logging
import os
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

WORKERS_ENV = "SHADOWLENS_WORKERS"


class InferenceSession(Protocol):
    """What onnxruntime.InferenceSession offers and tests can swap with a tiny real graph."""

    def run(self, output_names: list[str] | None, input_feed: dict[str, Any]) -> list[Any]: ...

    def get_inputs(self) -> list[Any]: ...

    def get_outputs(self) -> list[Any]: ...


def cpu_count() -> int:
    # The CPUs this process may run on: a container or `taskset` can allow fewer than the machine has.
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_per_worker(workers: int | None = None) -> int:
    """onnxruntime intra-op threads for one of ``workers`` processes (env SHADOWLENS_WORKERS if None)."""
    if workers is None:
        try:
            workers = int(os.environ.get(WORKERS_ENV, "1"))
        except ValueError:
            workers = 1
    return max(1, cpu_count() // max(1, workers))


def optimised_graphs() -> Path:
    """Where workers keep the optimised graphs of the models they open (models/onnx_cache.py)."""
    from shadowlens.daemon.paths import app_paths

    return app_paths().cache_dir / "onnx-optimised"


def onnx_session(path: Path, threads: int | None = None, cache: Path | None = None) -> InferenceSession:
    """An onnxruntime CPU session whose thread pool fits the worker pool, opened from the graph
    optimised for this machine in ``cache`` (default: ``optimised_graphs()``), which the first
    session of ``path`` saves there."""
    import onnxruntime as ort  # deferred: importing onnxruntime costs ~50 MB the idle daemon doesn't need
    from shadowlens.models import onnx_cache

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or threads_per_worker()
    # Parallelism comes from the worker processes; a second pool per session would oversubscribe.
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # Spinning threads burn a core each while a worker decodes the next photo.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # The arena keeps the largest buffers any input ever needed (a photo with many faces, a
    # large crop) and the memory patterns keep a plan per input shape, for the worker's life:
    # without them a worker stayed 150 MB smaller after 40 phone photos, at the same speed
    # (bench: scan.default_set.peak_rss_mb and photos_per_s in one run).
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.log_severity_level = 3

    def session(graph: Path, optimised: bool = False, save_to: Path | None = None) -> InferenceSession:
        options.graph_optimization_level = (
            ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            if optimised
            else ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        )
        options.optimized_model_filepath = str(save_to or "")
        opened: InferenceSession = ort.InferenceSession(
            str(graph), sess_options=options, providers=["CPUExecutionProvider"]
        )
        return opened

    return onnx_cache.open_session(path, cache or optimised_graphs(), ort.__version__, session)


_instances: weakref.WeakSet[LazyModel] = weakref.WeakSet()
_instances_lock = threading.Lock()


class LazyModel(ABC):
    """A model that loads on first use and can be unloaded when idle.

    Subclasses implement ``_load`` and ``_unload`` and wrap each prediction in ``with
    self.using():`` so that the reaper never unloads a model in the middle of a prediction.
    """

    ttl_seconds: float

    def __init__(self, ttl_seconds: float = 300.0) -> None:
        self.ttl_seconds = ttl_seconds
        self._lock = threading.RLock()
        self._loaded = False
        self._busy = 0
        self._last_used = time.monotonic()
        self.load_count = 0
        with _instances_lock:
            _instances.add(self)

    @property
    def loaded(self) -> bool:
        return self._loaded

    def ensure_loaded(self) -> None:
        with self._lock:
            if not self._loaded:
                started = time.monotonic()
                self._load()
                self._loaded = True
                self.load_count += 1
                log.debug("loaded %s in %.2f s", type(self).__name__, time.monotonic() - started)
            self._last_used = time.monotonic()

    def touch(self) -> None:
        self._last_used = time.monotonic()

    @contextmanager
    def using(self) -> Iterator[None]:
        """Load if needed and keep the model loaded until the block ends."""
        with self._lock:
            self.ensure_loaded()
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                self.touch()

    def unload(self) -> None:
        with self._lock:
            if self._loaded:
                self._unload()
                self._loaded = False
                log.debug("unloaded %s", type(self).__name__)

    def idle_for(self, now: float | None = None) -> float:
        """Seconds since last use; 0 while unloaded or in use, as there is nothing to reap then."""
        if not self._loaded or self._busy:
            return 0.0
        return max(0.0, (time.monotonic() if now is None else now) - self._last_used)

    def _unload_if_idle(self, now: float) -> bool:
        with self._lock:
            if self._loaded and not self._busy and self.idle_for(now) > self.ttl_seconds:
                self.unload()
                return True
        return False

    @abstractmethod
    def _load(self) -> None: ...

    @abstractmethod
    def _unload(self) -> None: ...


def unload_idle(now: float | None = None) -> int:
    """Unload every model idle longer than its TTL; returns how many were unloaded."""
    moment = time.monotonic() if now is None else now
    with _instances_lock:
        models = list(_instances)
    unloaded = sum(1 for model in models if model._unload_if_idle(moment))
    if unloaded:
        gc.collect()
        release_heap()
    return unloaded


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    # find_library runs ldconfig in a subprocess: once per process, not once per photo.
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None  # not glibc: nothing to trim this way


def release_heap() -> None:
    """Give the heap's free pages back to the system: glibc keeps freed arenas mapped, so without
    malloc_trim an unloaded model, or a burst of recorded results, still counts in RSS."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


_reaper: threading.Thread | None = None
_reaper_lock = threading.Lock()


def start_idle_reaper(interval: float = 30.0) -> None:
    """Call ``unload_idle`` every ``interval`` seconds in a daemon thread (once per process)."""
    global _reaper
    with _reaper_lock:
        if _reaper is not None and _reaper.is_alive():
            return

        def loop() -> None:
            while True:
                time.sleep(interval)
                try:
                    unload_idle()
                except Exception:  # a model's _unload failing must not end the reaper
                    log.exception("unloading idle models failed")

        _reaper = threading.Thread(target=loop, name="shadowlens-model-reaper", daemon=True)
        _reaper.start()
