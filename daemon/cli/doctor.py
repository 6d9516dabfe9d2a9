"""``shadowlens doctor``: paths, index, schema, detectors and inotify limits at a glance."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import click
from shadowlens.daemon.cli.context import AppContext, handle_errors, pass_app
from shadowlens.daemon.cli.models_cmd import registry_for
from shadowlens.daemon.registry import detector_settings, discover
from shadowlens.daemon.store.db import current_revision, head_revision, make_engine
from shadowlens.daemon.store.queries import Reader

INOTIFY = Path("/proc/sys/fs/inotify")
# Below this many watches a large photo tree cannot be watched folder by folder.
LOW_WATCHES = 65536


def _mode(path: Path) -> str | None:
    return oct(stat.S_IMODE(path.stat().st_mode)) if path.exists() else None


def _inotify() -> dict[str, int | None]:
    values: dict[str, int | None] = {}
    for name in ("max_user_watches", "max_user_instances", "max_queued_events"):
        try:
            values[name] = int((INOTIFY / name).read_text().strip())
        except (OSError, ValueError):
            values[name] = None
    return values


def collect(app: AppContext) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    paths, config = app.paths, app.config
    index = app.index_path
    report: dict[str, Any] = {
        "config": {
            "file": str(paths.config_file),
            "exists": paths.config_file.exists(),
            "source": config.source,
        },
        "paths": {
            "data": str(paths.data_dir),
            "state": str(paths.state_dir),
            "cache": str(paths.cache_dir),
            "folders": [str(f) for f in config.library.paths],
        },
        "index": {
            "path": str(index),
            "exists": index.exists(),
            "mode": _mode(index),
            "schema": None,
            "schema_head": head_revision(),
        },
    }
    for folder in config.library.paths:
        if not folder.exists():
            warnings.append(f"folder {folder} does not exist")
    if index.exists():
        engine = make_engine(index, writer=False)
        try:
            report["index"]["schema"] = current_revision(engine)
            report["index"]["size_bytes"] = index.stat().st_size
            reader = Reader(engine)
            report["index"]["counts"] = reader.counts()
        finally:
            engine.dispose()
        if report["index"]["mode"] != "0o600":
            warnings.append(f"index {index} has mode {report['index']['mode']}, expected 0o600")
        if report["index"]["schema"] != report["index"]["schema_head"]:
            warnings.append(
                "index schema is not current; it is upgraded the next time shadowlens writes to it"
            )
    available = discover()
    settings = detector_settings(config, available)
    report["detectors"] = [
        {
            "name": name,
            "version": getattr(info.cls, "version", None),
            "origin": info.origin,
            "enabled": bool(settings.get(name) and settings[name].enabled),
            "error": info.load_error,
        }
        for name, info in sorted(available.items())
    ]
    warnings += [f"detector {d['name']} cannot load: {d['error']}" for d in report["detectors"] if d["error"]]
    registry = registry_for(app)
    report["models"] = {
        role: (spec.id if (spec := registry.best_for(role)) else None)
        for role in ("detector", "embedder", "agesex", "expression", "landmarks68")
    }
    report["inotify"] = _inotify()
    watches = report["inotify"]["max_user_watches"]
    if watches is not None and watches < LOW_WATCHES:
        warnings.append(
            f"fs.inotify.max_user_watches is {watches}; for large photo trees run: "
            "sudo sysctl fs.inotify.max_user_watches=524288"
        )
    report["warnings"] = warnings
    return report, warnings


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@pass_app
@handle_errors
def doctor(app: AppContext, as_json: bool) -> None:
    """Check paths, the index, detectors, models and inotify limits."""
    report, warnings = collect(app)
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(
        f"config     {report['config']['file']} ({'in use' if report['config']['exists'] else 'defaults'})"
    )
    for key, value in report["paths"].items():
        click.echo(f"{key:10} {', '.join(value) if isinstance(value, list) else value}")
    idx = report["index"]
    click.echo(f"index      {idx['path']} ({'mode ' + idx['mode'] if idx['exists'] else 'not created yet'})")
    if idx["exists"]:
        click.echo(f"schema     {idx['schema']} (current: {idx['schema_head']})")
        click.echo("contents   " + ", ".join(f"{v} {k}" for k, v in idx["counts"].items()))
    for det in report["detectors"]:
        state = "enabled" if det["enabled"] else ("broken" if det["error"] else "disabled")
        click.echo(f"detector   {det['name']} {det['version'] or ''} ({state}) from {det['origin']}")
    chosen = ", ".join(f"{role}={model or 'none'}" for role, model in report["models"].items())
    click.echo(f"models     best present: {chosen} (details: shadowlens models list)")
    click.echo("inotify    " + ", ".join(f"{k}={v}" for k, v in report["inotify"].items()))
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
