"""``shadowlens watch``, ``status``, ``pause`` and ``resume``."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from shadowlens.daemon import clock
from shadowlens.daemon.cli.context import AppContext, echo, fail, handle_errors, pass_app, require_existing
from shadowlens.daemon.fsnames import json_text
from shadowlens.daemon.index.state import AlreadyRunning, DaemonLock, daemon_status, set_paused
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.service.announce import say, show_without_verbose
from shadowlens.daemon.wording import plural


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--workers", type=click.IntRange(min=1), help="Worker processes (default: config, else one per core)."
)
@pass_app
@handle_errors
def watch(app: AppContext, paths: tuple[Path, ...], workers: int | None) -> None:
    """Watch PATH... (default: the configured folders) and analyse new photos as they arrive."""
    folders = list(paths) or app.config.library.paths
    require_existing(folders, given=bool(paths), what="folder")
    if not app.verbose:
        show_without_verbose(sys.stderr)
    try:
        from shadowlens.daemon.service.daemon import Daemon

        bar = sys.stderr if sys.stderr.isatty() else None
        daemon = Daemon(app.config, app.index_path, app.paths.state_dir, folders, workers, bar)
        raise SystemExit(daemon.run())
    except AlreadyRunning as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        # Ctrl-C before the daemon took over the signal: nothing was started, so nothing is lost.
        say("stopping; 0 jobs requeued")


def collect_status(app: AppContext) -> dict[str, Any]:
    return daemon_status(app.paths.state_dir, app.index_path)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON on stdout.")
@pass_app
@handle_errors
def status(app: AppContext, as_json: bool) -> None:
    """Is the daemon running, how long is its queue, how fast is it going."""
    info = collect_status(app)
    if as_json:
        click.echo(json_text(info, indent=2))
        return
    state = f"running (pid {info['pid']})" if info["running"] else "not running"
    click.echo(f"daemon     {state}{', paused' if info['paused'] else ''}")
    click.echo(f"queue      {info['queued']} waiting, {info.get('running_jobs', 0)} in progress")
    click.echo(
        f"index      {info['indexed']} indexed, {plural(int(info['errors']), 'error')}, {info['pending']} pending"
    )
    if info.get("rate_per_minute") is not None:
        click.echo(f"rate       {info['rate_per_minute']:.0f} photos/min")
    if info.get("last_photo"):
        echo(f"last photo {info['last_photo']}")
    for worker in info.get("cluster_workers") or []:
        gpu = ", GPU" if worker["gpu"] else ""
        click.echo(
            f"worker     {worker['name']} on {worker['host']}: {plural(int(worker['threads']), 'thread')}{gpu}, "
            f"{worker['photos']} photos, {worker['photos_per_s']:.1f} photos/s"
        )
    if info.get("heartbeat_at") and info["running"]:
        age = clock.now() - datetime.fromisoformat(info["heartbeat_at"])
        if age.total_seconds() > 30:
            click.echo(
                f"warning: no heartbeat for {age.total_seconds():.0f} s; the daemon may be stuck", err=True
            )


def _set_paused(app: AppContext, paused: bool) -> None:
    store = Store.open(app.index_path)
    try:
        set_paused(store, paused)
    finally:
        store.close()
    running = DaemonLock(app.paths.state_dir).holder() is not None
    word = "paused" if paused else "resumed"
    tail = "" if running else " (the daemon is not running; this applies when it starts)"
    click.echo(f"shadowlens {word}{tail}", err=True)


@click.command()
@pass_app
@handle_errors
def pause(app: AppContext) -> None:
    """Stop analysing new photos until `resume` (remembered across restarts)."""
    _set_paused(app, True)


@click.command()
@pass_app
@handle_errors
def resume(app: AppContext) -> None:
    """Analyse photos again after `pause`."""
    _set_paused(app, False)
