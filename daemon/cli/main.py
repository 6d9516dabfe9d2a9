"""Entry point of the ``shadowlens`` command; each command lives in its own module."""

from __future__ import annotations

from pathlib import Path

import click
from shadowlens.daemon import __version__, clock
from shadowlens.daemon.cli.context import EXIT_CONFIG, AppContext, fail, setup_logging
from shadowlens.daemon.cli.doctor import doctor
from shadowlens.daemon.cli.models_cmd import models
from shadowlens.daemon.cli.photos import photos, show
from shadowlens.daemon.cli.profile_cmd import alerts, profile
from shadowlens.daemon.cli.scan import scan
from shadowlens.daemon.cli.scrub_cmd import scrub
from shadowlens.daemon.cli.service import service
from shadowlens.daemon.cli.tui_cmd import tui
from shadowlens.daemon.cli.watch import pause, resume, status, watch


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shadowlens")
@click.option(
    "--config",
    "config_path",
    # Checked when it is read, so a problem is one "config error" line, not a usage screen.
    type=click.Path(path_type=Path),
    envvar="SHADOWLENS_CONFIG",
    help="Config file (default: $XDG_CONFIG_HOME/shadowlens/config.toml).",
)
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: int) -> None:
    """shadowlens: see what marketers can learn from your photos. Nothing leaves this machine."""
    setup_logging(verbose)
    try:
        clock.now()  # a mistyped SHADOWLENS_NOW is one line here, not a traceback later
    except clock.ClockError as exc:
        fail(str(exc), EXIT_CONFIG)
    ctx.obj = AppContext(config_path=config_path, verbose=verbose)


cli.add_command(scan)
cli.add_command(photos)
cli.add_command(show)
cli.add_command(doctor)
for command in (watch, status, pause, resume, service, models, profile, alerts, tui, scrub):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="shadowlens")
