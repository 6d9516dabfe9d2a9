"""The cluster's workers as the daemon's dispatcher sees them: somewhere to send analysis
batches besides the local pool.

Batches go out as Dask tasks and come back as concurrent.futures futures, so the dispatcher
waits on local and remote work alike. What can go wrong remotely is told apart:

* a worker that dies mid-task: Dask itself reruns the task elsewhere (distributed's
  ``allowed-failures``), so the dispatcher never hears of it;
* a task that killed worker after worker (``KilledWorker``): ``RemoteCrash``;
* every worker gone: Dask would keep the tasks waiting for a worker that may be switched off for
  the night, so ``refresh`` hands them back (``WorkersGone``);
* a worker with other models (its results' analysis signature is not the daemon's): stored, its
  photos would be analysed again at the next walk, forever; ``OtherModels`` instead;
* a worker that cannot read the files (the library not mounted, or no path_map for it):
  ``NotOnWorker``.

The dispatcher gives each of these batches to its local pool and never back to the cluster:
the local pool runs them, and blames a file that kills one of its workers, as for its own
crashes. No attempt is counted for the cluster's failure.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from shadowlens.daemon import clock

log = logging.getLogger(__name__)


class RemoteCrash(Exception):
    """The batch killed the workers it ran on."""


class WorkersGone(Exception):
    """No cluster worker is left to run the batch."""


class OtherModels(Exception):
    """The worker's detectors are not the daemon's."""


class NotOnWorker(Exception):
    """The worker cannot read the batch's files: the library is not mounted there, or
    [cluster] path_map does not say where."""


@dataclass
class WorkerInfo:
    """One joined worker, for `shadowlens status` and the TUI's status screen."""

    name: str
    host: str
    threads: int
    gpu: bool
    photos: int = 0
    joined_at: float = 0.0

    def rate(self, now: float) -> float:
        """Photos a second since it joined."""
        return self.photos / max(now - self.joined_at, 1e-9)


def run_remote(paths: list[str], config_json: str, path_map: dict[str, str]) -> tuple[str, list[Any]]:
    """The Dask task: the batch's results, and which worker made them (for the status)."""
    from distributed import get_worker
    from shadowlens.daemon.cluster.jobs import analyse_remote

    return str(get_worker().name), analyse_remote(paths, config_json, path_map)


class RemoteWorkers:
    def __init__(
        self,
        client: Any,
        config_json: str,
        path_map: dict[str, str],
        expected_signature: Callable[[], str] = lambda: "",
        now: Callable[[], float] = clock.monotonic,
    ) -> None:
        """``client`` is a connected ``distributed.Client``; ``expected_signature`` gives the
        daemon's analysis signature once known ("" until then: any is taken)."""
        self.client = client
        self.config_json, self.path_map = config_json, path_map
        self.expected_signature = expected_signature
        self.now = now
        self.known: dict[str, WorkerInfo] = {}
        self.threads = 0
        self._pending: dict[Future[list[Any]], Any] = {}
        self._lock = threading.Lock()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return len(self._pending)

    def capacity(self) -> int:
        """Batches the cluster may hold at once: two for each of its threads, as the local pool
        holds two for each worker (one running, one ready)."""
        return 2 * self.threads

    def free(self) -> int:
        return max(0, self.capacity() - self.in_flight)

    def refresh(self) -> None:
        """Learn who is joined; when nobody is, hand every waiting batch back."""
        try:
            # Asked of the scheduler each time: the client's own scheduler_info() may answer from
            # a cache that its periodic update refills without the workers, which looked like
            # every worker leaving (about one call in 70,000; twice in 15 benchmark runs).
            identity = self.client.sync(self.client.scheduler.identity, n_workers=-1)
            workers = identity.get("workers", {})
        except Exception as exc:  # the scheduler is gone or unreachable: like no workers
            log.warning("the cluster's scheduler does not answer (%s)", " ".join(str(exc).split())[:200])
            workers = {}
        seen: dict[str, WorkerInfo] = {}
        for address, info in workers.items():
            name = str(info.get("name") or address)
            known = self.known.get(name)
            seen[name] = known or WorkerInfo(
                name=name,
                host=str(info.get("host") or address),
                threads=int(info.get("nthreads") or 1),
                gpu=bool((info.get("resources") or {}).get("GPU")),
                joined_at=self.now(),
            )
            if known is None:
                log.info("cluster worker %s joined (%d thread(s))", name, seen[name].threads)
        for name in set(self.known) - set(seen):
            log.warning("cluster worker %s left", name)
        self.known = seen
        self.threads = sum(w.threads for w in seen.values())
        if not seen:
            self._give_back()

    def submit(self, paths: list[str]) -> Future[list[Any]]:
        proxy: Future[list[Any]] = Future()
        task = self.client.submit(run_remote, paths, self.config_json, self.path_map, pure=False)
        with self._lock:
            self._pending[proxy] = task
        task.add_done_callback(lambda done: self._settle(proxy, done))
        return proxy

    def _settle(self, proxy: Future[list[Any]], task: Any) -> None:
        with self._lock:
            if self._pending.pop(proxy, None) is None:
                return  # already handed back
        if task.status == "cancelled":
            proxy.set_exception(WorkersGone("the cluster's workers left before the batch ran"))
            return
        error = task.exception() if task.status == "error" else None
        if error is not None:
            if type(error).__name__ == "KilledWorker":
                proxy.set_exception(RemoteCrash(f"it killed the cluster workers that ran it ({error})"))
            else:
                proxy.set_exception(error)
            return
        from shadowlens.daemon.cluster.jobs import NOT_ON_WORKER, daemon_stat

        name, results = task.result()
        missing = next(
            (r.file_error for r in results if (r.file_error or "").startswith(NOT_ON_WORKER)), None
        )
        if missing is not None:
            proxy.set_exception(NotOnWorker(missing))
            return
        expected = self.expected_signature()
        other = next((r.signature for r in results if expected and r.signature != expected), None)
        if other is not None:
            proxy.set_exception(
                OtherModels(f"worker {name} analyses with other models ({other}, not {expected})")
            )
            return
        if name in self.known:
            self.known[name].photos += len(results)
        # The worker's stat has its mount's device and inode: stored, the next walk would take
        # every such photo for a changed one.
        proxy.set_result([daemon_stat(result) for result in results])

    def _give_back(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for proxy, task in pending.items():
            task.cancel()
            proxy.set_exception(WorkersGone("every cluster worker left"))

    def close(self) -> None:
        self._give_back()
