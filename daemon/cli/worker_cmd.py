"""``shadowlens worker``: lend this machine to the daemon's analysis, over mutual TLS."""

from __future__ import annotations

import click
from shadowlens.daemon.cli.context import AppContext, echo, fail, handle_errors, pass_app


@click.command()
@click.option(
    "--join",
    "join",
    required=True,
    metavar="HOST[:PORT]",
    help="The daemon's machine and its [cluster] listen port (default 8786).",
)
@click.option(
    "--token",
    help="One-time token from `shadowlens cluster token` on the daemon's machine (the first time only).",
)
@click.option(
    "--nworkers",
    type=click.IntRange(min=1),
    help="Worker processes, one photo at a time each (default: one per core).",
)
@click.option(
    "--enrol-port",
    type=click.IntRange(1, 65535),
    default=8788,
    show_default=True,
    help="The daemon's enrolment port ([cluster] enrol_port), used with --token.",
)
@click.option(
    "--name",
    help="This machine's name among the workers (default: its host name); two workers may not share one.",
)
@pass_app
@handle_errors
def worker(
    app: AppContext, join: str, token: str | None, nworkers: int | None, enrol_port: int, name: str | None
) -> None:
    """Analyse photos for the daemon on another machine: join its cluster as Dask workers.

    The photos are read from the same library, mounted here (NFS or SMB); the daemon's
    [cluster] path_map says where, when the mount point differs. Results go back to the
    daemon, which alone writes the index. Ctrl-C or SIGTERM stops the workers.
    """
    import functools
    import socket

    from shadowlens.daemon.cluster.files import ClusterSetupError, worker_files
    from shadowlens.daemon.cluster.worker import (
        available_providers,
        enrol,
        has_gpu,
        parse_join,
        require_identity,
        serve,
        tls_address,
        worker_argv,
        worker_env,
    )
    from shadowlens.models.sessions import cpu_count

    try:
        host, port = parse_join(join)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--join") from None
    files = worker_files(app.paths)
    count = nworkers or cpu_count()
    name = name or socket.gethostname()
    say = functools.partial(echo, err=True)
    try:
        if token is not None:
            enrol(host, enrol_port, token, files, name)
            say(f"enrolled with {host}: this machine's certificate is in {files.folder}")
        require_identity(files, host)
        providers = available_providers()
        gpu = ", GPU" if has_gpu(providers) else ""
        say(
            f"worker {name}: {count} process(es){gpu} for the daemon at {tls_address(host, port)}; Ctrl-C stops"
        )
        argv = worker_argv(host, port, files, count, name, providers)
        code = serve(host, port, files, argv, worker_env(count, app.verbose), say)
    except ClusterSetupError as exc:
        fail(str(exc))
    except KeyboardInterrupt:  # while waiting for the scheduler: no worker to stop yet
        code = 0
    raise SystemExit(code)
