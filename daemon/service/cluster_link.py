"""The daemon's side of a cluster ([cluster] listen): its Dask scheduler, the enrolment service
for new workers, and the remote workers handed to the dispatcher.

Off by default. When on, the daemon still owns the queue and is the index's only writer; joined
workers only analyse. A scheduler that cannot start is said in one line and the daemon goes on
with its local pool alone, as if the cluster were off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from shadowlens.daemon import clock
from shadowlens.daemon.cluster.remote import RemoteWorkers
from shadowlens.daemon.config import Config
from shadowlens.daemon.paths import AppPaths

log = logging.getLogger(__name__)


class ClusterLink:
    def __init__(self, config: Config, paths: AppPaths, signature: Callable[[], str]) -> None:
        self.config = config
        self.paths = paths
        self.signature = signature
        self.scheduler: Any = None
        self.enrolment: Any = None
        self.remote: RemoteWorkers | None = None

    def start(self) -> RemoteWorkers | None:
        """The remote workers, or None when the cluster is off or cannot start."""
        settings = self.config.cluster
        if settings.listen is None:
            return None
        from shadowlens.daemon.cluster.enrol import EnrolmentServer
        from shadowlens.daemon.cluster.files import daemon_files
        from shadowlens.daemon.cluster.jobs import config_for_workers
        from shadowlens.daemon.cluster.scheduler import SchedulerProcess, split_listen

        files = daemon_files(self.paths)
        try:
            self.scheduler = SchedulerProcess(files, settings.listen, self.paths.log_dir / "scheduler.log")
            client = self.scheduler.start()
            host, _ = split_listen(settings.listen)
            self.enrolment = EnrolmentServer(files, host, settings.enrol_port)
            self.enrolment.start()
        except Exception as exc:
            log.error("the cluster is off: %s", " ".join(str(exc).split())[:300])
            self.stop()
            return None
        self.remote = RemoteWorkers(
            client,
            config_json=config_for_workers(self.config),
            path_map=dict(settings.path_map),
            expected_signature=self.signature,
            now=clock.monotonic,
        )
        return self.remote

    def workers(self) -> list[dict[str, Any]]:
        """The joined workers, for the heartbeat (`shadowlens status`, the TUI)."""
        if self.remote is None:
            return []
        now = clock.monotonic()
        return [
            {
                "name": w.name,
                "host": w.host,
                "threads": w.threads,
                "gpu": w.gpu,
                "photos": w.photos,
                "photos_per_s": round(w.rate(now), 2),
            }
            for w in self.remote.known.values()
        ]

    def stop(self) -> None:
        if self.remote is not None:
            self.remote.close()
        if self.enrolment is not None:
            self.enrolment.stop()
        if self.scheduler is not None:
            self.scheduler.stop()
        self.remote = self.enrolment = self.scheduler = None
