"""Save the README's screenshots of the TUI: docs/screenshots/<screen>.svg at 110x34.

    .venv/bin/python docs/make_screenshots.py [--root /tmp/shadowlens-demo] [--rebuild]

Uses the TUI tests' seeded library (tests/seeded_library.py: the shared corpus's faces and GPS
series, photos at home with a payment card and a phone number, beer and coffee on them), built
at ``--root``; an index already there is reused. The same measures as the snapshot tests keep
the pictures reproducible: a library built on its own pinned day, a frozen clock, pictures as
half-cells, and the daemon not running.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.*, when run as a script

import pytest  # noqa: E402
from shadowlens.daemon.index.reads.browse import PhotoFilter  # noqa: E402
from shadowlens.tui.app import ShadowlensApp  # noqa: E402
from shadowlens.tui.library import Library  # noqa: E402

from tests.conftest import LIBRARY_NOW, Env  # noqa: E402
from tests.test_tui_snapshots import build_fixed_index, freeze_the_tui, settle  # noqa: E402
from tests.tui_support import library_of  # noqa: E402

SIZE = (110, 34)
SCREENS = ("profile", "photos", "people", "places", "brands", "alerts", "status")
DEFAULT_ROOT = Path("/tmp/shadowlens-demo")
DEFAULT_OUT = REPO / "docs" / "screenshots"
RANDOM_ID = re.compile(r"\bterminal-\d+-")


def index_at(root: Path, rebuild: bool) -> Env:
    env = Env(root / "home", now=LIBRARY_NOW)
    if rebuild or not env.index.exists():
        # Rebuilding starts by deleting the root: never do that to a folder of something else.
        if root.exists() and any(root.iterdir()) and {p.name for p in root.iterdir()} - {"home", "library"}:
            raise SystemExit(f"{root} holds more than a demo library (home/, library/): pick another --root")
        print(f"building the demo library at {root} ...", flush=True)
        return build_fixed_index(root)
    return env


def riskiest_photo(library: Library) -> str:
    try:
        rows = library.photos(PhotoFilter(), sort="exposure", descending=True, limit=1)
    finally:
        library.close()
    if not rows:
        raise SystemExit("the demo index has no photos")
    return rows[0].path


async def shoot(app: ShadowlensApp, out: Path, name: str) -> Path:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        path = Path(app.save_screenshot(f"{name}.svg", str(out)))
    # Rich names the SVG's classes after a random number; the screen's name keeps them unique
    # per file and the file the same from one run to the next, so only real changes show in git.
    path.write_text(RANDOM_ID.sub(f"terminal-{name}-", path.read_text(encoding="utf-8")), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--root", type=Path, default=DEFAULT_ROOT, help="where the demo library and index live"
    )
    parser.add_argument("--rebuild", action="store_true", help="build the demo library again from nothing")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the SVGs")
    args = parser.parse_args()

    env = index_at(args.root.absolute(), args.rebuild)
    args.out.mkdir(parents=True, exist_ok=True)
    riskiest = riskiest_photo(library_of(env))
    shots: list[tuple[str, ShadowlensApp]] = [
        (screen, ShadowlensApp(library_of(env), start=screen)) for screen in SCREENS
    ]
    # The photo detail, opened over the photos list as pressing enter there would.
    shots.insert(2, ("photo", ShadowlensApp(library_of(env), start="photos", photo=riskiest)))
    with pytest.MonkeyPatch.context() as patch:
        freeze_the_tui(patch)
        for name, app in shots:
            print(asyncio.run(shoot(app, args.out, name)))


if __name__ == "__main__":
    main()
