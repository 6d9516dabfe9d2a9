"""Painting the TUI's first screen: in this process under ``run_test``, or in a new interpreter
that imports what ``shadowlens tui`` imports, as a user waits for it."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from harness import run_child
from tui_library import Index

SIZE = (120, 40)
POLL_S = 0.005  # how often the paint rows look at the screen
PAINT_TIMEOUT_S = 60.0
MARKER = "TUI-PAINT "


async def paint(index: Index) -> tuple[float, str, str]:
    from shadowlens.tui.app import ShadowlensApp
    from shadowlens.tui.library import Library

    started = time.perf_counter()
    app = ShadowlensApp(Library(index.path, index.state_dir))
    async with app.run_test(size=SIZE):
        while not getattr(app.screen, "loaded", False):
            if time.perf_counter() - started > PAINT_TIMEOUT_S:
                raise TimeoutError(f"the first screen did not load in {PAINT_TIMEOUT_S:.0f} s")
            await asyncio.sleep(POLL_S)
        elapsed = (time.perf_counter() - started) * 1000
        screen = app.screen
        found = screen.query("#profile-sentences")
        shown = str(found.first().render()) if found else ""
        return elapsed, type(screen).__name__, shown


def painted_wrong(index: Index, screen: str, shown: str) -> str | None:
    """The profile screen, showing the stored profile (not the 'no profile yet' note)."""
    if screen != "ProfileScreen":
        return f"the first screen was {screen}, not ProfileScreen"
    if "tell a marketer" not in shown or f"{index.picks.photos:,}" not in shown:
        return f"the profile screen did not show the profile: {shown[:80]!r}"
    return None


# The child: time.time() stamps compare with the parent's spawn time, perf_counter() splits it.
# Its one argument is JSON: spawn time, index, state dir, size, timeout, poll interval, marker.
CHILD = """
import time
top_wall, top = time.time(), time.perf_counter()
import asyncio, json, sys
from pathlib import Path
args = json.loads(sys.argv[1])
import click
from shadowlens.daemon.cli.main import cli as group  # the console script's module
group.get_command(click.Context(group), "tui")  # as `shadowlens tui` finds its command
cli = time.perf_counter()
from shadowlens.daemon.config import load_config  # what the tui command imports, in its order
from shadowlens.tui.app import ShadowlensApp
from shadowlens.tui.library import Library
import textual_image.widget  # tui.app.run() imports it before the app starts
imported = time.perf_counter()
load_config()

async def main():
    app = ShadowlensApp(Library(Path(args["index"]), Path(args["state"])))
    async with app.run_test(size=tuple(args["size"])):
        while not getattr(app.screen, "loaded", False):
            if time.perf_counter() - top > args["timeout"]:
                raise SystemExit("the first screen did not load in time")
            await asyncio.sleep(args["poll"])
        return time.time(), time.perf_counter(), time.process_time(), type(app.screen).__name__

loaded_wall, loaded, cpu, screen = asyncio.run(main())
try:  # this process's own peak: wait4's ru_maxrss would include the parent's RSS at fork
    status = Path("/proc/self/status").read_text().splitlines()
    peak_mb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
except (OSError, StopIteration):
    peak_mb = None
print(args["marker"] + json.dumps({
    "total_ms": (loaded_wall - args["spawned"]) * 1000,
    "startup_ms": (top_wall - args["spawned"]) * 1000,
    "cli_import_ms": (cli - top) * 1000,
    "tui_import_ms": (imported - cli) * 1000,
    "app_ms": (loaded - imported) * 1000,
    "cpu_ms": cpu * 1000,
    "screen": screen,
    "peak_mb": peak_mb,
}), flush=True)
"""


def paint_in_child(index: Index, env: dict[str, str]) -> dict[str, Any]:
    """One run of CHILD: its timings (ms), the screen it reached and its peak RSS."""
    args: dict[str, Any] = {"index": str(index.path), "state": str(index.state_dir), "size": SIZE}
    args.update(timeout=PAINT_TIMEOUT_S, poll=POLL_S, marker=MARKER, spawned=time.time())
    child = run_child([sys.executable, "-c", CHILD, json.dumps(args)], env, timeout=PAINT_TIMEOUT_S * 2)
    lines = [line for line in child.stdout.splitlines() if line.startswith(MARKER)]
    if child.returncode != 0 or not lines:
        raise RuntimeError(f"the child exited {child.returncode}: {child.stderr.strip()[-400:]}")
    run: dict[str, Any] = json.loads(lines[-1].removeprefix(MARKER))
    run["wall_ms"] = child.wall_seconds * 1000
    return run
