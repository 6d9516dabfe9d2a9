""" "Make a safe copy" from the TUI: ``shadowlens scrub`` in a worker, the result as a notice."""

from __future__ import annotations

from pathlib import Path

from shadowlens.daemon.index.reads.browse import PhotoFilter
from shadowlens.tui.formats import plural
from shadowlens.tui.library import Library, default_safe_copies_dir
from textual.screen import Screen

EVERY_PHOTO = 100_000


def flagged_paths(library: Library) -> list[str]:
    """Every photo at or over the alert threshold: what the alerts call risky."""
    rows = library.photos(PhotoFilter(min_exposure=library.alert_threshold), limit=EVERY_PHOTO)
    return [row.path for row in rows]


def run_safe_copies(screen: Screen[None], library: Library, paths: list[str]) -> None:
    """Call from a worker thread; reports go back to the screen as notifications."""
    if not paths:
        screen.app.call_from_thread(screen.notify, "No photo to copy.", severity="warning")
        return
    screen.app.call_from_thread(
        screen.notify, f"Making {len(paths)} safe cop{'y' if len(paths) == 1 else 'ies'}…"
    )
    try:
        reports = library.safe_copies(paths)
    except (RuntimeError, OSError, ValueError) as exc:
        screen.app.call_from_thread(screen.notify, f"Safe copy failed: {exc}", severity="error")
        return
    good = [r for r in reports if r.get("ok")]
    bad = [r for r in reports if not r.get("ok")]
    if len(reports) == 1 and good:
        r = good[0]
        message = f"Safe copy: exposure {r['exposure_before']} → {r['exposure_after']}\n{r['copy']}"
    else:
        message = f"{plural(len(good), 'safe copy', 'safe copies')} in {default_safe_copies_dir()}"
    if bad:
        first = bad[0]
        problem = "; ".join(first.get("problems", []))[:200]
        message += f"\n{len(bad)} failed, e.g. {Path(str(first['source'])).name}: {problem}"
    screen.app.call_from_thread(
        screen.notify, message, severity="warning" if bad else "information", timeout=10
    )
