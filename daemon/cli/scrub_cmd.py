"""``shadowlens scrub PATH... --out DIR``: verified safe copies of photos."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from shadowlens.daemon.analysis.formats import is_image_name
from shadowlens.daemon.cli.context import EXIT_CONFIG, AppContext, fail, handle_errors, pass_app, path_problem
from shadowlens.daemon.cli.context import echo as say
from shadowlens.daemon.config import Config
from shadowlens.daemon.fsnames import json_text

if TYPE_CHECKING:
    from shadowlens.daemon.scrub.runner import ScrubReport

BLUR_CHOICES = ("faces", "others", "children", "none")
REDACT_CHOICES = ("pii", "all-pii", "names", "places", "dates", "text", "none")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Folder for the copies (created if missing).",
)
@click.option(
    "--strip-metadata/--keep-metadata",
    default=True,
    help="Drop EXIF (GPS, time, device), XMP, IPTC, ICC and thumbnails (default), or keep them.",
)
@click.option(
    "--blur",
    type=click.Choice(BLUR_CHOICES),
    help="Faces to pixelate: all, all but the owner's, children's, none (default: [scrub] blur, others).",
)
@click.option(
    "--redact",
    type=click.Choice(REDACT_CHOICES),
    help="Text to cover: every kind of personal data (pii, all-pii), only names, places or dates,"
    " all text, none (default: [scrub] redact, pii).",
)
@click.option("--allow-in-library", is_flag=True, help="Allow --out inside a watched folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the per-photo reports as JSON on stdout.")
@pass_app
@handle_errors
def scrub(
    app: AppContext,
    paths: tuple[Path, ...],
    out_dir: Path,
    strip_metadata: bool,
    blur: str | None,
    redact: str | None,
    allow_in_library: bool,
    as_json: bool,
) -> None:
    """Write a sanitised, verified copy of each photo into --out; the originals are never changed."""
    photos = _photos(paths, out_dir)
    config = app.config
    _check_out(config, out_dir, allow_in_library)
    if out_dir.exists() and not out_dir.is_dir():
        fail(f"--out {out_dir} is a file; give a folder for the copies", EXIT_CONFIG)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create --out {out_dir}: {exc.strerror or exc}", EXIT_CONFIG)
    if not os.access(out_dir, os.W_OK | os.X_OK):
        fail(f"--out {out_dir} is not writable", EXIT_CONFIG)

    # Imported here: the runner pulls in the profile code (scikit-learn), which every other
    # command would otherwise pay for at start-up.
    from shadowlens.daemon.scrub.runner import Scrubber, ScrubOptions

    options = ScrubOptions.from_settings(
        config.scrub, strip_metadata=strip_metadata, blur=blur, redact=redact
    )
    scrubber = Scrubber(config, app.index_path)
    reports = []
    try:
        for photo in photos:
            report = scrubber.scrub(photo, out_dir, options)
            reports.append(report)
            if not as_json:
                _print_line(report)
    finally:
        scrubber.close()
    if as_json:
        click.echo(json_text([r.as_dict() for r in reports], indent=2))
    elif reports and reports[-1].verified_by:
        # Which detectors re-ran on the copies, with their models: what "verified" means here.
        say(f"verified by: {', '.join(reports[-1].verified_by)}")
    failed = sum(not r.ok for r in reports)
    if failed:
        say(f"{failed} of {len(reports)} photos failed; no copy was kept for them.", err=True)
        sys.exit(1)


def _check_out(config: Config, out_dir: Path, allow_in_library: bool) -> None:
    """A copy inside a watched folder would be scanned, alerted on and synced like a new photo."""
    if allow_in_library:
        return
    target = out_dir.expanduser().resolve()
    for folder in config.library.paths:
        if target.is_relative_to(folder.expanduser().resolve()):
            fail(
                f"--out {out_dir} is inside the watched folder {folder}; choose another folder "
                "or pass --allow-in-library",
                EXIT_CONFIG,
            )


def _photos(paths: tuple[Path, ...], out_dir: Path) -> list[Path]:
    """Files as given; folders expanded to the photos under them (not those already in --out)."""
    out = out_dir.expanduser().resolve()
    found: list[Path] = []
    for path in paths:
        problem = path_problem(path)
        if problem:
            fail(f"{path}: {problem}", EXIT_CONFIG)
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and is_image_name(p) and not p.resolve().is_relative_to(out)
            )
        else:
            found.append(path)
    if not found:
        given = ", ".join(str(p) for p in paths)
        fail(f"no photos found in {given} (photos already inside --out are skipped)", EXIT_CONFIG)
    return found


def _print_line(report: ScrubReport) -> None:
    if report.ok:
        say(f"ok  {report.exposure_before:>3} -> {report.exposure_after:<3} {report.copy}")
    else:
        say(f"FAIL {report.source}: {'; '.join(report.problems) or 'no copy written'}")
    if report.checked:
        # What the stricter read proved (or failed to): lines read, values looked for.
        say(f"     checked: {'; '.join(report.checked)}")
