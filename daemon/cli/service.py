"""``shadowlens service install|uninstall|status``: the systemd user service."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
from shadowlens.daemon.cli.context import AppContext, fail, handle_errors, pass_app
from shadowlens.daemon.paths import ensure_private_dir
from shadowlens.daemon.service.unit import (
    UNIT_NAME,
    render,
    safe_copy_folders,
    unit_path,
    user_namespaces_refused,
)


def _systemctl(args: list[str], dry_run: bool, check: bool = True) -> int:
    command = ["systemctl", "--user", *args]
    click.echo(f"{'would run' if dry_run else 'running'}: {shlex.join(command)}", err=True)
    if dry_run:
        return 0
    if shutil.which("systemctl") is None:
        fail("systemctl not found: this system does not run systemd; start `shadowlens watch` another way")
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0 and check:
        reason = " ".join((proc.stderr or proc.stdout).split()) or f"exit status {proc.returncode}"
        fail(f"{shlex.join(command)} failed: {reason}")
    return proc.returncode


def _make_safe_copy_folders(twins: list[Path]) -> None:
    """Inside its sandbox the service can write a safe-copy folder only if it exists when the
    service starts (systemd mounts it writable then), and cannot create one inside a read-only
    photo folder; so it is created now."""
    for twin in twins:
        if twin.is_dir():
            continue
        if twin.exists():
            fail(f"safe-copy folder {twin} exists but is not a folder")
        try:
            ensure_private_dir(twin)
        except OSError as exc:
            click.echo(
                f"warning: cannot create safe-copy folder {twin} ({exc.strerror or exc}); "
                "the service tries again each time it starts and makes no safe copies there until it exists",
                err=True,
            )
            continue
        click.echo(f"created safe-copy folder: {twin} (mode 0700)", err=True)


@click.group()
def service() -> None:
    """Install shadowlens as a systemd user service."""


@service.command()
@click.option("--dry-run", is_flag=True, help="Print the unit and the commands; change nothing.")
@pass_app
@handle_errors
def install(app: AppContext, dry_run: bool) -> None:
    """Write the user unit, reload systemd and start the service now and at every login."""
    folders = app.config.library.folders
    refused = user_namespaces_refused()
    if refused:
        click.echo(
            f"warning: {refused}: the service runs without its file-system sandbox "
            "(read-only photos, no writes outside its own folders); allow user namespaces to get it",
            err=True,
        )
    try:
        text = render(
            app.paths,
            app.index_path,
            folders,
            app.config_path,
            private_users=refused is None,
            cluster_listen=app.config.cluster.listen,
        )
    except ValueError as exc:
        fail(f"cannot write the unit: {exc}")
    target = unit_path()
    if dry_run:
        click.echo(text)
        for twin in safe_copy_folders(folders):
            if not twin.exists():
                click.echo(f"would create safe-copy folder: {twin} (mode 0700)", err=True)
        click.echo(f"would write: {target}", err=True)
    else:
        # The unit may write only these; they must exist before systemd mounts them writable.
        for folder in (app.paths.data_dir, app.paths.state_dir, app.paths.cache_dir, app.index_path.parent):
            ensure_private_dir(folder)
        _make_safe_copy_folders(safe_copy_folders(folders))
        ensure_private_dir(target.parent)
        target.write_text(text, encoding="utf-8")
        click.echo(f"wrote: {target}", err=True)
    _systemctl(["daemon-reload"], dry_run)
    _systemctl(["enable", "--now", UNIT_NAME], dry_run)
    if not dry_run:
        click.echo("shadowlens is watching; `shadowlens status` shows what it is doing", err=True)


@service.command()
@click.option("--dry-run", is_flag=True, help="Print the commands; change nothing.")
@handle_errors
def uninstall(dry_run: bool) -> None:
    """Stop and disable the service and remove its unit (the index is kept)."""
    target = unit_path()
    _systemctl(["disable", "--now", UNIT_NAME], dry_run, check=False)
    if dry_run:
        click.echo(f"would remove: {target}", err=True)
    elif target.exists():
        target.unlink()
        click.echo(f"removed: {target}", err=True)
    _systemctl(["daemon-reload"], dry_run)


@service.command(name="status")
@click.option("--dry-run", is_flag=True, help="Print the command; run nothing.")
@handle_errors
def service_status(dry_run: bool) -> None:
    """What systemd says about the service."""
    target = unit_path()
    click.echo(f"unit file: {target} ({'installed' if target.exists() else 'not installed'})", err=True)
    if dry_run:
        click.echo(f"would run: systemctl --user status {UNIT_NAME} --no-pager", err=True)
        return
    if shutil.which("systemctl") is None:
        fail("systemctl not found: this system does not run systemd")
    proc = subprocess.run(["systemctl", "--user", "status", UNIT_NAME, "--no-pager"], check=False)
    sys.exit(0 if proc.returncode in (0, 3) else proc.returncode)
