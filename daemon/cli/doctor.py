"""``shadowlens doctor``: paths, index, schema, detectors and inotify limits at a glance."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import click
from shadowlens.daemon.analysis.plugins import DetectorInfo, detector_settings, discover
from shadowlens.daemon.analysis.readers import readers
from shadowlens.daemon.analysis.states import CANNOT_LOAD, DISABLED, MODEL_PROBLEM, DetectorState, describe
from shadowlens.daemon.cli.context import EXIT_CONFIG, AppContext, fail, handle_errors, pass_app
from shadowlens.daemon.config import Config, ConfigError, parse_config
from shadowlens.daemon.index.db import current_revision, head_revision, make_engine
from shadowlens.daemon.index.reads.queries import Reader

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


def load(app: AppContext) -> tuple[Config, ConfigError | None]:
    """The config, or the defaults and the error: doctor is where a user goes when it is broken."""
    try:
        return app.config, None
    except ConfigError as exc:
        return parse_config({}, "<defaults>"), exc


def detector_states(config: Config, available: dict[str, DetectorInfo]) -> dict[str, DetectorState]:
    """Each detector as the daemon would run it now: the enabled ones are built (models load
    lazily, so this is cheap) and describe themselves through the version they compute."""
    settings = detector_settings(config, available)
    states: dict[str, DetectorState] = {}
    for name, info in sorted(available.items()):
        chosen = settings.get(name)
        if info.cls is None or chosen is None or not chosen.enabled:
            enabled = bool(chosen and chosen.enabled)
            states[name] = describe(name, None, enabled=enabled, load_error=info.load_error)
            continue
        try:
            info.cls.configure(config)
            detector = info.cls(chosen)
            version = detector.version
            detector.close()
        except Exception as exc:  # a third-party detector may fail any way it likes
            states[name] = describe(name, None, load_error=f"{type(exc).__name__}: {exc}")
            continue
        states[name] = describe(name, version)
    return states


def collect(app: AppContext) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    paths = app.paths
    config, config_error = load(app)
    index = config.index_path(paths)
    report: dict[str, Any] = {
        "config": {
            "file": str(paths.config_file),
            "exists": paths.config_file.exists(),
            "source": config.source,
            "error": (
                None
                if config_error is None
                else {
                    "file": config_error.file,
                    "key": config_error.key,
                    "problem": config_error.problem,
                    "message": str(config_error),
                }
            ),
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
    states = detector_states(config, available)
    report["detectors"] = [
        {
            "name": name,
            "version": getattr(info.cls, "version", None),
            "origin": info.origin,
            "enabled": states[name].state not in (DISABLED, CANNOT_LOAD),
            "error": info.load_error,
            **states[name].to_json(),
        }
        for name, info in sorted(available.items())
    ]
    warnings += [
        f"detector {n}: {s.summary}" for n, s in states.items() if s.state in (MODEL_PROBLEM, CANNOT_LOAD)
    ]
    # What really runs per role; `models list` has every model, present or not.
    report["models"] = {
        name: state.models_text() for name, state in states.items() if any(m.model for m in state.models)
    }
    report["readers"] = readers()
    report["inotify"] = _inotify()
    watches = report["inotify"]["max_user_watches"]
    if watches is not None and watches < LOW_WATCHES:
        warnings.append(
            f"fs.inotify.max_user_watches is {watches}; for large photo trees run: "
            "sudo sysctl fs.inotify.max_user_watches=524288"
        )
    report["warnings"] = warnings
    return report, warnings


def _config_line(report: dict[str, Any]) -> str:
    config = report["config"]
    if config["error"]:
        error = config["error"]
        where = f"{error['key']}: " if error["key"] else ""
        return (
            f"config     {error['file']}: ERROR {where}{error['problem']}; "
            "the rest of this report uses the defaults"
        )
    return f"config     {config['file']} ({'in use' if config['exists'] else 'defaults'})"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@pass_app
@handle_errors
def doctor(app: AppContext, as_json: bool) -> None:
    """Check the config, paths, the index, detectors, models and inotify limits.

    A broken config is reported as the first check and the rest of the report uses the defaults.
    Exit status: 0 when the report ran, warnings included; 2 when the config has an error (as
    every other command); 1 when the index cannot be opened.
    """
    report, warnings = collect(app)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print(report)
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
    if report["config"]["error"]:
        fail(f"config error: {report['config']['error']['message']}", EXIT_CONFIG)


def _print(report: dict[str, Any]) -> None:
    click.echo(_config_line(report))
    for key, value in report["paths"].items():
        click.echo(f"{key:10} {', '.join(value) if isinstance(value, list) else value}")
    idx = report["index"]
    click.echo(f"index      {idx['path']} ({'mode ' + idx['mode'] if idx['exists'] else 'not created yet'})")
    if idx["exists"]:
        click.echo(f"schema     {idx['schema']} (current: {idx['schema_head']})")
        click.echo("contents   " + ", ".join(f"{v} {k}" for k, v in idx["counts"].items()))
    for det in report["detectors"]:
        click.echo(f"detector   {det['name']} {det['version'] or ''} ({det['summary']}) from {det['origin']}")
    for name, models in report["models"].items():
        click.echo(f"models     {name}: {models}")
    for kind, reader in report["readers"].items():
        click.echo(f"reader     {kind}: {reader}")
    click.echo("inotify    " + ", ".join(f"{k}={v}" for k, v in report["inotify"].items()))
