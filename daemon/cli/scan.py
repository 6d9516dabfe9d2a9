"""``shadowlens scan PATH...``"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import click
from shadowlens.daemon.analysis.results import AnalysisResult
from shadowlens.daemon.cli.context import (
    EXIT_CONFIG,
    AppContext,
    fail,
    handle_errors,
    pass_app,
    require_existing,
)
from shadowlens.daemon.cli.context import echo as say
from shadowlens.daemon.fsnames import json_text
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.library.scan import Scanner, ScanSummary
from shadowlens.daemon.library.walk import NOT_AN_IMAGE, looks_like_photo
from shadowlens.daemon.wording import plural

MAX_LISTED_PROBLEMS = 10
EXIT_INTERRUPTED = 130  # as a shell reports a command stopped by Ctrl-C


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("--retry-errors", is_flag=True, help="Analyse files that failed before even if unchanged.")
@click.option(
    "--workers", type=click.IntRange(min=1), help="Worker processes (default: config, else one per core)."
)
@pass_app
@handle_errors
def scan(
    app: AppContext, paths: tuple[Path, ...], as_json: bool, retry_errors: bool, workers: int | None
) -> None:
    """Index photos under PATH... (default: the configured folders), recursively."""
    roots = list(paths) or list(app.config.library.paths)
    require_existing(roots, given=bool(paths), what="file or folder")
    roots, not_images = _photo_roots(roots)
    store = Store.open(app.index_path)
    try:
        scanner = Scanner(app.config, store, app.index_path)
        summary = _run(scanner, roots, retry_errors, workers)
        summary.skipped += not_images
        summary.alerts = _update_profile(app, store, changed=bool(summary.indexed or summary.deleted))
    except KeyboardInterrupt:
        # Each photo is stored as its job finishes and the rest stay queued in the index: the
        # next scan of these folders runs them first. A second Ctrl-C must not cut this short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        fail(
            "interrupted; the photos analysed so far are kept: run the same scan to finish", EXIT_INTERRUPTED
        )
    finally:
        store.close()
    if as_json:
        click.echo(json_text(summary.as_dict(), indent=2))
    _print_summary(summary)


def _photo_roots(roots: list[Path]) -> tuple[list[Path], int]:
    """Folders, and the files that look like photos; a file that does not is named on stderr,
    and a scan of nothing but such files stops (exit 2) before it touches the index."""
    kept = []
    for root in roots:
        if root.is_dir() or looks_like_photo(str(root)):
            kept.append(root)
        else:
            say(f"shadowlens: {root}: {NOT_AN_IMAGE}; skipped", err=True)
    if not kept:
        fail("nothing to scan: no photo or folder among the given paths", EXIT_CONFIG)
    return kept, len(roots) - len(kept)


def _update_profile(app: AppContext, store: Store, changed: bool) -> int:
    """Persons, scores and the profile for what this scan analysed; alerts go out as one summary."""
    from shadowlens.daemon.service.schedule import ProfileJobs

    jobs = ProfileJobs(store, app.config)
    try:
        raised = jobs.updater.catch_up(alert=True)
        if not raised and changed:
            jobs.updater.refresh(force=True)
    finally:
        jobs.stop()
    return len(raised)


def _run(scanner: Scanner, roots: list[Path], retry_errors: bool, workers: int | None) -> ScanSummary:
    if not sys.stderr.isatty():
        return scanner.scan(roots, retry_errors=retry_errors, workers=workers)
    bars: list[Any] = []

    def on_plan(total: int) -> None:
        bar = click.progressbar(length=total, label="Analysing", file=sys.stderr, show_pos=True)
        bars.append(bar.__enter__())

    def progress(_result: AnalysisResult) -> None:
        bars[0].update(1)

    try:
        return scanner.scan(
            roots, retry_errors=retry_errors, workers=workers, progress=progress, on_plan=on_plan
        )
    finally:
        for bar in bars:
            bar.__exit__(None, None, None)


def _print_summary(summary: ScanSummary) -> None:
    say(
        f"Scanned {plural(summary.found, 'photo')} in {summary.seconds:.1f} s: {summary.indexed} indexed, "
        f"{summary.unchanged} unchanged, {summary.moved} moved or copied (matched by content), "
        f"{summary.deleted} removed from the index, {plural(summary.errors, 'error')}, {summary.skipped} skipped"
        + (f", {summary.alerts} risky (shadowlens alerts)." if summary.alerts else "."),
        err=True,
    )
    _listed(
        "Skipped, in formats nothing here reads (all: shadowlens photos --status skipped):", summary.skips
    )
    _listed("Problems in this scan (all errors: shadowlens photos --status error):", summary.problems)


def _listed(title: str, items: list[dict[str, str]]) -> None:
    """The first few paths of a list, each with its one-line reason."""
    if not items:
        return
    say(title, err=True)
    for item in items[:MAX_LISTED_PROBLEMS]:
        say(f"  {item['path']}: {item.get('reason') or item.get('error')}", err=True)
    if len(items) > MAX_LISTED_PROBLEMS:
        say(f"  ... and {len(items) - MAX_LISTED_PROBLEMS} more", err=True)
