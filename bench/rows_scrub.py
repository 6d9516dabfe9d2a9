"""Safe copies (``shadowlens scrub``) of the phone-size photos, verification included.

One ``shadowlens scrub`` process over all the photos, none of them indexed: each is analysed,
decoded at full size, edited, encoded, and analysed again, so a photo costs about two analyses.
The rate includes the process's start-up and model loading, as a user running the command sees it.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness import Context, Measurement, row, run_child, write_config, xdg_env

QUICK_PHOTOS = 3


def _run(ctx: Context) -> Measurement:
    corpus = ctx.need_corpus()
    photos = corpus.phone_size()[: QUICK_PHOTOS if ctx.quick else None]
    folder = ctx.tempdir("scrub-photos")
    for entry in photos:
        corpus.place(entry, folder / Path(entry.path).name)
    base = ctx.tempdir("scrub-xdg")
    models = ctx.repo.parent / "shared" / "models"
    write_config(base, f'[models]\nsearch_paths = ["{models}"]\n' if models.exists() else "")
    out = ctx.tempdir("scrub-out")
    child = run_child(
        [*ctx.shadowlens_cli(), "scrub", "--json", str(folder), "--out", str(out)], xdg_env(base)
    )
    # 1 means some copy failed its verification: still a measurement, reported below.
    if child.returncode not in (0, 1):
        raise RuntimeError(f"scrub exited {child.returncode}: {child.stderr.strip()[-400:]}")
    reports = json.loads(child.stdout)
    failed = [r for r in reports if not r["ok"]]
    per_photo = sorted(r["seconds"] for r in reports)
    median = per_photo[len(per_photo) // 2] if per_photo else 0.0
    notes = (
        f"{len(reports)} photos in {child.wall_seconds:.1f} s (start-up and model loading included), "
        f"median {median:.1f} s per photo, peak RSS {child.max_rss_mb:.0f} MB; "
        f"{len(reports) - len(failed)} copies kept, {len(failed)} failed verification"
    )
    if failed:
        first = failed[0]
        notes += f" (first: {Path(first['source']).name}: {'; '.join(first['problems'])[:200]})"
    return Measurement(
        len(reports) / child.wall_seconds,
        notes,
        extra={
            "wall_seconds": child.wall_seconds,
            "max_rss_mb": child.max_rss_mb,
            "failed": [Path(r["source"]).name for r in failed],
            "seconds_per_photo": per_photo,
        },
        check_failed=None
        if len(reports) == len(photos)
        else f"{len(reports)} reports for {len(photos)} photos",
    )


@row("scrub.photos_per_s", unit="photos/s", needs_corpus=True)
def scrub_photos_per_s(ctx: Context) -> Measurement:
    return ctx.memo("scrub.run", lambda: _run(ctx))
