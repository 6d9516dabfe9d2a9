"""``shadowlens cluster init|token``: the cluster's CA and one-time enrolment tokens."""

from __future__ import annotations

import shlex
import socket
from datetime import datetime

import click
from shadowlens.daemon import clock
from shadowlens.daemon.cli.context import EXIT_CONFIG, AppContext, echo, fail, handle_errors, pass_app
from shadowlens.daemon.cluster.files import ClusterSetupError, daemon_files
from shadowlens.daemon.wording import plural

# Addresses that mean "every interface": a worker cannot reach the daemon by them.
WILDCARDS = {"", "0.0.0.0", "::", "*"}
DEFAULT_SCHEDULER_PORT = 8786
DEFAULT_ENROL_PORT = 8788


def _listen(app: AppContext) -> tuple[str, int] | None:
    """The scheduler's host and port from [cluster] listen, the host as a worker would name it."""
    listen = app.config.cluster.listen
    if listen is None:
        return None
    host, _, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    return (socket.gethostname() if host in WILDCARDS else host), int(port)


@click.group()
def cluster() -> None:
    """Helper machines that analyse photos for this daemon: the cluster's CA and enrolment tokens.

    Workers and the daemon talk over mutual TLS only: `init` makes the cluster's CA and the
    daemon's certificate, `token` a one-time token with which a helper machine receives its own.
    """


@cluster.command()
@click.option(
    "--host",
    "hosts",
    multiple=True,
    metavar="HOST",
    help="A name or address workers reach this machine by (repeatable); "
    "localhost and this machine's name are always in.",
)
@click.option(
    "--force", is_flag=True, help="Make a new CA even if there is one: every worker must enrol again."
)
@pass_app
@handle_errors
def init(app: AppContext, hosts: tuple[str, ...], force: bool) -> None:
    """Create the cluster's CA and this daemon's certificate; an existing CA is kept."""
    from shadowlens.daemon.cluster.certs import init_ca

    files = daemon_files(app.paths)
    kept = files.ca_cert.is_file() and not force
    listen = _listen(app)
    names = [*hosts, *([listen[0]] if listen else [])]
    try:
        init_ca(files, names, force=force)
    except ClusterSetupError as exc:
        fail(str(exc), EXIT_CONFIG)
    if kept:
        echo(
            f"kept the cluster's CA: {files.ca_cert} (--force makes a new one; every worker must then enrol again)"
        )
    else:
        echo(
            f"created the cluster's CA: {files.ca_cert} (its key, {files.ca_key.name}, never leaves this machine)"
        )
    echo(f"daemon certificate: {files.cert}")
    if listen is None:
        echo('the cluster is off until [cluster] listen is set in the config, e.g. listen = "0.0.0.0:8786"')


@cluster.command()
@pass_app
@handle_errors
def token(app: AppContext) -> None:
    """Print a one-time enrolment token and the command that uses it on a helper machine."""
    from shadowlens.daemon.cluster.tokens import issue_token

    settings = app.config.cluster
    listen = _listen(app)
    if listen is None:
        fail('the cluster is off: set listen = "0.0.0.0:8786" under [cluster] in the config', EXIT_CONFIG)
    host, port = listen
    now = clock.now().timestamp()
    try:
        value = issue_token(daemon_files(app.paths), now, settings.token_minutes * 60)
    except ClusterSetupError as exc:
        fail(str(exc), EXIT_CONFIG)
    until = datetime.fromtimestamp(now + settings.token_minutes * 60).strftime("%H:%M")
    span = settings.token_minutes
    minutes = plural(int(span), "minute") if span.is_integer() else f"{span:g} minutes"
    echo(f"token: {value}")
    echo(f"valid once, for {minutes} (until {until}), while the daemon runs; on the helper machine run:")
    echo(f"  shadowlens worker --join {shlex.quote(host)} --token {value}")
    if (port, settings.enrol_port) != (DEFAULT_SCHEDULER_PORT, DEFAULT_ENROL_PORT):
        echo(f"(the daemon enrols on port {settings.enrol_port} and schedules on port {port})")
    if host == socket.gethostname():
        echo(f"({host} is this machine's name; use its address if the helper cannot resolve it)")
