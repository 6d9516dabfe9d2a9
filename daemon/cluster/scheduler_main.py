"""`dask scheduler`, tied to the daemon that starts it: ``python -m
shadowlens.daemon.cluster.scheduler_main DAEMON_PID [dask scheduler options]``.

A daemon killed outright (SIGKILL, the OOM killer) must not leave its scheduler holding the
port, or the next daemon could not start its own. The scheduler asks the kernel for a signal
when its parent dies, itself, after exec: a ``preexec_fn`` would do it between fork and exec in
a daemon with threads, where a lock held by another thread can deadlock the child.
"""

from __future__ import annotations

import sys

from shadowlens.daemon.analysis.pool import die_with_parent


def main() -> None:
    die_with_parent(int(sys.argv[1]))
    sys.argv = ["dask scheduler", *sys.argv[2:]]
    from distributed.cli.dask_scheduler import main as scheduler

    scheduler()


if __name__ == "__main__":
    main()
