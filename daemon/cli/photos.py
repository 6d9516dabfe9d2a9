"""``shadowlens photos`` and ``shadowlens show``: read the index."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from shadowlens.daemon.cli.context import EXIT_CONFIG, AppContext, fail, handle_errors, pass_app, path_problem
from shadowlens.daemon.cli.context import echo as say
from shadowlens.daemon.fsnames import json_text
from shadowlens.daemon.index.reads.findings import show_with
from shadowlens.daemon.index.reads.queries import STATUSES, Reader
from shadowlens.daemon.library.walk import NOT_AN_IMAGE, looks_like_photo
from shadowlens.daemon.profile.facts import installed_hooks
from shadowlens.daemon.wording import device_name

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


# Keys for sorted(): the path breaks ties, so the order is the same on every run.
SORTS: dict[str, Callable[[dict[str, Any]], tuple[Any, ...]]] = {
    "date": lambda i: (i["taken_at"] is None, _negated(i["taken_at"] or ""), i["path"]),
    "exposure": lambda i: (-(i["exposure"] if i["exposure"] is not None else -1), i["path"]),
    "path": lambda i: (i["path"],),
}
HEADER = f"{'STATUS':8} {'EXP':>3} {'TAKEN':16} {'PLACE':24} PATH"


def _negated(stamp: str) -> tuple[int, ...]:
    # ISO local times sort as text; negating their code points puts the newest first.
    return tuple(-ord(c) for c in stamp[:19])


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array on stdout.")
@click.option("--status", type=click.Choice(STATUSES), help="Only photos with this status.")
@click.option(
    "--sort",
    type=click.Choice(list(SORTS)),
    default="date",
    show_default=True,
    help="date: newest first (undated last); exposure: riskiest first; path: A to Z.",
)
@pass_app
@handle_errors
def photos(app: AppContext, as_json: bool, status: str | None, sort: str) -> None:
    """List indexed photos (one entry per file)."""
    show_with(installed_hooks())  # each finding's "shown": in its detector's words
    items = sorted(read_index(app, lambda reader: reader.photos(status)), key=SORTS[sort])
    if as_json:
        click.echo(json_text(items, indent=1))
        return
    if not items:
        say("No photos" + (f" with status {status}." if status else " indexed yet."), err=True)
        return
    say(HEADER)
    for item in items:
        say(_line(item))


def _line(item: dict[str, Any]) -> str:
    exposure = "-" if item["exposure"] is None else str(item["exposure"])
    taken = (item["taken_at"] or "-")[:16]
    if item["status"] != "indexed":
        problem = item["error"] or "waiting to be analysed"
        return f"{item['status']:8} {exposure:>3} {taken:16} {'-':24} {item['path']}: {problem}"
    place = item["place"]
    where = ", ".join(p for p in (place["city"], place["country_code"]) if p) if place else "-"
    return f"{'indexed':8} {exposure:>3} {taken:16} {where[:24]:24} {item['path']}"


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the photo as JSON on stdout.")
@pass_app
@handle_errors
def show(app: AppContext, path: Path, as_json: bool) -> None:
    """Everything the index knows about one photo."""
    show_with(installed_hooks())  # each finding in its detector's words
    item = read_index(app, lambda reader: reader.photo(os.path.abspath(path)))
    if item is None:
        fail(*_why_not_indexed(path))
    if as_json:
        click.echo(json_text(item, indent=2))
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
            say(f"{key:9} {_plain(item[key])}")
    if item["width"]:
        say(f"{'size':9} {item['width']}x{item['height']}")
    for reason in item["reasons"]:
        say(f"{'':9} +{reason['points']:<3} {reason['text']}")
    for other in item["other_paths"]:
        say(f"{'same as':9} {other}")
    for finding in item["findings"]:
        # The detector's own words first (its ``shown`` hook), then everything else it stored.
        attrs = ", ".join(f"{k}={v}" for k, v in finding["attrs"].items() if v not in (None, "", [], {}))
        box = f" at {finding['bbox']}" if finding["bbox"] else ""
        say(f"  {finding['shown']}{box}" + (f"  ({attrs})" if attrs else ""))
    for failure in item["detector_errors"]:
        say(f"  detector {failure['detector']} failed: {failure['error']}")


def _why_not_indexed(path: Path) -> tuple[str, int]:
    """One line for each way a path can be absent from the index, and its exit status."""
    problem = path_problem(path)
    if problem:
        return f"{path}: {problem}, and the index has no photo at that path", EXIT_CONFIG
    if path.is_dir():
        return f"{path} is a folder; show takes one photo (`shadowlens photos` lists a library)", EXIT_CONFIG
    if not looks_like_photo(str(path)):
        return f"{path} is never indexed: {NOT_AN_IMAGE}", EXIT_CONFIG
    return f"{path} is not indexed yet; run `shadowlens scan {path}`", 1


def _plain(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"make", "model"}:  # the device, named once
        return device_name(value["make"], value["model"]) or "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items() if v is not None)
    return str(value)
