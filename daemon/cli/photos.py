"""``shadowlens photos`` and ``shadowlens show``: read the index."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from shadowlens.daemon.cli.context import AppContext, fail, handle_errors, pass_app
from shadowlens.daemon.store.queries import STATUSES, Reader

T = TypeVar("T")


def read_index(app: AppContext, query: Callable[[Reader], T]) -> T:
    """One short read of the index; a clear error when there is no index yet."""
    if not app.index_path.exists():
        fail(f"no index yet at {app.index_path}; run `shadowlens scan` first")
    reader = Reader.open(app.index_path)
    try:
        return query(reader)
    finally:
        reader.close()


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array on stdout.")
@click.option("--status", type=click.Choice(STATUSES), help="Only photos with this status.")
@pass_app
@handle_errors
def photos(app: AppContext, as_json: bool, status: str | None) -> None:
    """List indexed photos (one entry per file)."""
    items = read_index(app, lambda reader: reader.photos(status))
    if as_json:
        click.echo(json.dumps(items, indent=1, ensure_ascii=False))
        return
    for item in items:
        click.echo(_line(item))
    if not items:
        click.echo("No photos" + (f" with status {status}." if status else " indexed yet."), err=True)


def _line(item: dict[str, Any]) -> str:
    if item["status"] != "indexed":
        return f"{item['status']:8} {item['path']}: {item['error'] or 'waiting to be analysed'}"
    place = item["place"]
    where = ", ".join(p for p in (place["city"], place["country_code"]) if p) if place else "-"
    exposure = "-" if item["exposure"] is None else str(item["exposure"])
    taken = (item["taken_at"] or "-")[:16]
    return f"{'indexed':8} {exposure:>3} {taken:16} {where[:24]:24} {item['path']}"


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the photo as JSON on stdout.")
@pass_app
@handle_errors
def show(app: AppContext, path: Path, as_json: bool) -> None:
    """Everything the index knows about one photo."""
    item = read_index(app, lambda reader: reader.photo(os.path.abspath(path)))
    if item is None:
        fail(f"{path} is not in the index; run `shadowlens scan` on its folder")
    if as_json:
        click.echo(json.dumps(item, indent=2, ensure_ascii=False))
        return
    for key in (
        "path",
        "status",
        "error",
        "sha256",
        "format",
        "taken_at",
        "gps",
        "place",
        "device",
        "exposure",
    ):
        if item.get(key) is not None:
            click.echo(f"{key:9} {_plain(item[key])}")
    if item["width"]:
        click.echo(f"{'size':9} {item['width']}x{item['height']}")
    for reason in item["reasons"]:
        click.echo(f"{'':9} +{reason['points']:<3} {reason['text']}")
    for other in item["other_paths"]:
        click.echo(f"{'same as':9} {other}")
    for finding in item["findings"]:
        attrs = ", ".join(f"{k}={v}" for k, v in finding["attrs"].items() if v not in (None, "", [], {}))
        box = f" at {finding['bbox']}" if finding["bbox"] else ""
        click.echo(f"  {finding['kind']:14} {finding['label']}{box}" + (f"  ({attrs})" if attrs else ""))
    for failure in item["detector_errors"]:
        click.echo(f"  detector {failure['detector']} failed: {failure['error']}")


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items() if v is not None)
    return str(value)
