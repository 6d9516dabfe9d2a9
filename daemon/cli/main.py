"""Entry point of the ``shadowlens`` command; each command lives in its own module.

A command's module is imported only when that command runs. Importing every command up front
cost half a second on each start (detector classes, SQLAlchemy, Alembic, numpy), which every
``shadowlens tui`` and ``shadowlens status`` paid for nothing. ``--help`` lists the commands from
the table below, so it imports none of them either; tests/test_cli_imports.py checks that the
table's help lines are the commands' own.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import NamedTuple

import click
from shadowlens.daemon import __version__, clock
from shadowlens.daemon.cli.context import EXIT_CONFIG, AppContext, fail, setup_logging


class Entry(NamedTuple):
    module: str  # under shadowlens.daemon.cli
    attribute: str
    help: str  # the first sentence of the command's docstring, as --help shows it


COMMANDS: dict[str, Entry] = {
    "scan": Entry("scan", "scan", "Index photos under PATH..."),
    "photos": Entry("photos", "photos", "List indexed photos (one entry per file)."),
    "show": Entry("photos", "show", "Everything the index knows about one photo."),
    "doctor": Entry(
        "doctor", "doctor", "Check the config, paths, the index, detectors, models and inotify limits."
    ),
    "watch": Entry("watch", "watch", "Watch PATH..."),
    "status": Entry("watch", "status", "Is the daemon running, how long is its queue, how fast is it going."),
    "pause": Entry(
        "watch", "pause", "Stop analysing new photos until `resume` (remembered across restarts)."
    ),
    "resume": Entry("watch", "resume", "Analyse photos again after `pause`."),
    "service": Entry("service", "service", "Install shadowlens as a systemd user service."),
    "models": Entry(
        "models_cmd",
        "models",
        "The model files detectors use: list, fetch (the only command that uses the network), verify.",
    ),
    "profile": Entry("profile_cmd", "profile", "The shadow profile a marketer would build from your photos."),
    "alerts": Entry("profile_cmd", "alerts", "Risky photos: exposure at or over the alert threshold."),
    "tui": Entry("tui_cmd", "tui", "Browse what your photos reveal, act on alerts, check the daemon."),
    "scrub": Entry(
        "scrub_cmd",
        "scrub",
        "Write a sanitised, verified copy of each photo into --out; the originals are never changed.",
    ),
    "cluster": Entry(
        "cluster_cmd",
        "cluster",
        "Helper machines that analyse photos for this daemon: the cluster's CA and enrolment tokens.",
    ),
    "worker": Entry(
        "worker_cmd",
        "worker",
        "Analyse photos for the daemon on another machine: join its cluster as Dask workers.",
    ),
}


def load_command(name: str) -> click.Command:
    entry = COMMANDS[name]
    module = importlib.import_module(f"shadowlens.daemon.cli.{entry.module}")
    command: click.Command = getattr(module, entry.attribute)
    return command


class LazyGroup(click.Group):
    """Commands from ``COMMANDS``, imported on first use; ``add_command`` still works (tests)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in COMMANDS:
            command = self.commands[cmd_name] = load_command(cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            added = self.commands.get(name)
            if added is not None and added.hidden:
                continue
            # A bare Command shortens the table's line exactly as the real one would its own.
            shown = added or click.Command(name, help=COMMANDS[name].help)
            rows.append((name, shown.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def main() -> None:
    cli(prog_name="shadowlens")
