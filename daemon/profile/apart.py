"""The profile's heavy numeric libraries, kept out of the daemon's own process.

Clustering places (scikit-learn's DBSCAN) and re-clustering faces (SciPy, FAISS) import close to
100 MB of libraries that a process can never unload. The daemon runs the profile for as long as
it lives, so once it has asked for ``keep_heavy_libraries_out``, those calls run in a child
process spawned for the call, which takes its memory with it when it ends. The functions are
pure (arrays in, labels out), so their results are the same wherever they run. Everywhere else
(a scan, the CLI, the tests) they run in the caller's process, as before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import ParamSpec, TypeVar

from shadowlens.daemon.analysis.pool import (
    QuietContext,
    die_with_parent,
    ignore_ctrl_c,
    release_resource_tracker,
)

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
_apart = False


def keep_heavy_libraries_out() -> None:
    """From now on, ``run`` calls its function in a child process (the daemon asks at start)."""
    global _apart
    _apart = True


def _init_child(parent: int) -> None:
    ignore_ctrl_c()  # the daemon decides when its children stop
    die_with_parent(parent)


def run(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``, in a short-lived child process if the daemon asked for that.

    ``fn`` must be a module-level function, its arguments and result picklable. A child that
    dies (the OOM killer) raises BrokenProcessPool, which the profile's guard logs; the work is
    tried again at the next refresh. If no child can start at all, the work is done here rather
    than not at all.
    """
    if not _apart:
        return fn(*args, **kwargs)
    try:
        child = ProcessPoolExecutor(
            1, mp_context=QuietContext(), initializer=_init_child, initargs=(os.getpid(),)
        )
    except OSError as exc:
        log.warning("no child process for %s (%s); running it in the daemon", fn.__name__, exc)
        return fn(*args, **kwargs)
    try:
        with child:
            return child.submit(fn, *args, **kwargs).result()
    finally:
        del child
        # Unless the worker pool still runs (it needs the tracker), the spawn's tracker goes too.
        release_resource_tracker()
