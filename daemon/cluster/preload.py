"""The Dask preload of `shadowlens worker`: readies each worker process before it joins.

``dask worker --preload`` runs ``dask_setup`` in every worker process, before the worker
registers with the scheduler; ``--preload-nanny`` runs it in the launching process (where the
nannies live), which is tied to `shadowlens worker` here.

The pipeline itself is not built here but by the first job, from the config that job carries
(``jobs.analyse_remote``), and kept for the next ones. A worker starts before it knows the
daemon's config, and the config is what decides the detectors and the analysis signature: a
pipeline built here from the worker machine's own config (or an extra round trip to fetch the
daemon's before starting) could disagree with the daemon, and a daemon restarted with other
settings would leave it stale. The first job pays for building the pipeline (less than a
second: the detectors load their models when first used, as in the local pool); what can be
done earlier is, here: the thread budget, quiet logs, and importing the analysis code and every
detector, so that a broken install shows at start rather than in the first job.
"""

from __future__ import annotations

import logging
import os
import sys

from distributed import Nanny, Worker
from shadowlens.daemon.analysis.pool import die_with_parent
from shadowlens.daemon.cluster.worker import LAUNCHER_ENV, VERBOSE_ENV
from shadowlens.models.sessions import WORKERS_ENV, cpu_count

log = logging.getLogger(__name__)


def dask_setup(server: Worker | Nanny) -> None:
    if isinstance(server, Nanny):
        tie_to_launcher()
    else:
        prepare_worker_process()


def tie_to_launcher() -> None:
    """The `dask worker` process ends with the `shadowlens worker` that started it, even one
    killed with SIGKILL (it has its own session, so no terminal signal would reach it). Its
    worker processes already end with it: Dask watches a pipe to their parent."""
    launcher = os.environ.get(LAUNCHER_ENV)
    if launcher and launcher.isdigit():
        die_with_parent(int(launcher))


def prepare_worker_process() -> None:
    # onnxruntime sizes each session's thread pool as cores / worker processes; `shadowlens
    # worker` says how many processes it starts. A `dask worker` started by hand does not:
    # one thread each is the setting that cannot oversubscribe the cores.
    os.environ.setdefault(WORKERS_ENV, str(cpu_count()))
    quiet_logging(verbose=bool(os.environ.get(VERBOSE_ENV)))
    from shadowlens.daemon.analysis import pipeline  # noqa: F401  (the first job's imports, now)
    from shadowlens.daemon.analysis.plugins import discover

    for name, info in sorted(discover().items()):
        if info.load_error:
            log.warning("detector %s cannot be loaded on this worker: %s", name, info.load_error)


def quiet_logging(verbose: bool) -> None:
    """Warnings (and errors) only, one line each, named: as the daemon writes them."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    own = logging.getLogger("shadowlens")
    own.handlers = [handler]
    own.propagate = False
    own.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        import onnxruntime
    except ImportError:
        return
    # Its own C++ log: provider probing and graph-optimisation notes are not the user's concern.
    onnxruntime.set_default_logger_severity(1 if verbose else 3)
