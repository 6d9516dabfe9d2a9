"""``shadowlens tui``: the Textual app. Imported lazily, so the engine never loads the UI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from shadowlens.daemon.cli.context import AppContext, handle_errors, pass_app

if TYPE_CHECKING:
    from shadowlens.daemon.config import Config
    from shadowlens.daemon.paths import AppPaths
    from shadowlens.tui.library import Library

SCREENS = ("profile", "photos", "people", "places", "brands", "alerts", "status")


@click.command()
@click.option("--screen", type=click.Choice(SCREENS), default="profile", help="Screen to start on.")
@click.option("--photo", type=click.Path(path_type=Path), help="Open this photo's detail at once.")
@click.option("--light", is_flag=True, help="Start with the light theme (ctrl+t switches).")
@pass_app
@handle_errors
def tui(app: AppContext, screen: str, photo: Path | None, light: bool) -> None:
    """Browse what your photos reveal, act on alerts, check the daemon."""
    from shadowlens.daemon.config import load_config
    from shadowlens.tui.app import run

    # The plain config, not app.config: that one loads every detector class to check its
    # section, which would import the models' runtimes and slow the first paint for nothing.
    library = open_library(load_config(app.config_path), app.paths)
    theme = "textual-light" if light else "textual-dark"
    run(library, start=screen, photo=str(photo) if photo else None, theme=theme)


def open_library(config: Config, paths: AppPaths) -> Library:
    """The index the config names, seen with the config's alert threshold: the screens call a
    photo risky (red, "Copy risky") exactly when the daemon would raise an alert for it."""
    from shadowlens.tui.library import Library

    return Library(config.index_path(paths), paths.state_dir, alert_threshold=config.alerts.threshold)
