"""The TUI at library scale: first paint and every screen's query on 100,000 photos.

The library is ``synthetic_index``'s (100,000 photos, 300,000 faces, ~1M findings) with the full
profile and the alerts a running daemon keeps: ``tui_library`` builds it once for all ``tui.*``
rows (~1 min, and ~40 s for the profile).

Rows:

* ``tui.first_paint_ms``: from creating ``ShadowlensApp(Library(index, state_dir))`` to the
  profile screen showing its data (``screen.loaded``) under ``run_test(size=(120, 40))``,
  median of 3 runs, each with a fresh Library. The first run also imports the screens.
  Goal: < 1000 ms.
* ``tui.first_paint_process_ms``: the same in a new interpreter, from spawning it to the loaded
  profile screen: interpreter start, the CLI entry module, what ``shadowlens tui`` imports, then
  the app under ``run_test``. What a user waits for; median of 3 after one unmeasured run that
  compiles the bytecode into the scratch area (as an installed shadowlens has it; this repo's
  environment sets PYTHONDONTWRITEBYTECODE). Same goal.
* ``tui.query_ms.<name>``: each screen's read through the ``Library`` API, median of 5 calls on
  one warm Library, as a TUI session makes them. Goal: < 50 ms each. A call still running after
  20 s is interrupted (``sqlite3.Connection.interrupt``) and the row reports that lower bound;
  a first call over 2 s is not repeated. Rows over the goal keep SQLite's ``EXPLAIN QUERY
  PLAN`` of the statements they ran in ``extra["plans"]`` (and in the notes). The notes also
  give each call's CPU time (``extra["cpu_ms"]``): on a busy machine the wall clock counts the
  waits for a CPU too, and the CPU time tells a loaded run from a slow query.

The machine's load average is in the notes: these rows are sensitive to whatever else runs.

``--quick``: the quick synthetic library (10,000 photos, 30,000 faces); 3 calls per query.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from harness import Context, Measurement, goal_note, median, over_goal, row, spread, xdg_env
from tui_library import load_note, tui_index, tui_session
from tui_paint import SIZE, paint, paint_in_child, painted_wrong
from tui_probe import BUDGET_S, plans, time_calls
from tui_queries import QUERIES, screen_queries

PAINT_GOAL_MS = 1000.0
PAINT_GOAL_PHOTOS = 100_000  # the library size the goal is set for (--quick paints 10,000)
QUERY_GOAL_MS = 50.0
PAINT_RUNS = 3
QUERY_RUNS, QUICK_QUERY_RUNS = 5, 3


@row("tui.first_paint_ms", unit="ms")
def first_paint_ms(ctx: Context) -> Measurement:
    index = tui_index(ctx)
    import shadowlens.tui.app  # noqa: F401  (the module, not the screens: those load on mount)

    samples, problems = [], []
    for _ in range(PAINT_RUNS):
        elapsed, screen, shown = asyncio.run(paint(index))
        samples.append(elapsed)
        problem = painted_wrong(index, screen, shown)
        if problem:
            problems.append(problem)
    value = median(samples)
    notes = (
        f"{index.built.size}; ShadowlensApp(Library) to the loaded profile screen, run_test {SIZE[0]}x{SIZE[1]}, "
        f"{goal_note(value, PAINT_GOAL_MS)}; ms {spread(samples, '{:.0f}')} (the first also imports the screens); "
        f"{index.made}; {load_note()}"
    )
    failed = problems[0] if problems else over_goal(value, PAINT_GOAL_MS)
    extra = {"ms": samples, "build_s": index.built.seconds, "refresh_s": index.refresh_s}
    return Measurement(value, notes, extra=extra, check_failed=failed)


@row("tui.first_paint_process_ms", unit="ms")
def first_paint_process_ms(ctx: Context) -> Measurement:
    index = tui_index(ctx)
    # Bytecode as an installed shadowlens has it: compiled once (by the unmeasured first run) into
    # the scratch area, not recompiled from source in every child (PYTHONDONTWRITEBYTECODE would).
    env = xdg_env(ctx.tempdir("tui-process-xdg"), {"PYTHONPYCACHEPREFIX": str(ctx.tempdir("tui-pycache"))})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    first, *runs = [paint_in_child(index, env) for _ in range(PAINT_RUNS + 1)]  # first: compiles
    problems = [
        f"the first screen was {run['screen']}, not ProfileScreen"
        for run in [first, *runs]
        if run["screen"] != "ProfileScreen"
    ]
    value = median(r["total_ms"] for r in runs)

    def part(key: str) -> str:
        values = [r[key] for r in runs if r[key] is not None]
        return f"{median(values):.0f}" if values else "?"

    notes = (
        f"{index.built.size}; new interpreter to the loaded profile screen, "
        f"{goal_note(value, PAINT_GOAL_MS)} at {PAINT_GOAL_PHOTOS:,} photos; "
        f"median ms: interpreter start {part('startup_ms')}, CLI entry import {part('cli_import_ms')}, "
        f"tui imports {part('tui_import_ms')}, app to loaded {part('app_ms')}; CPU {part('cpu_ms')} "
        f"(less than the wall time when the machine is busy); "
        f"ms {spread([r['total_ms'] for r in runs], '{:.0f}')} after one unmeasured run that compiled the "
        f"bytecode ({first['total_ms']:.0f} ms); peak RSS {part('peak_mb')} MB (VmHWM); {load_note()}"
    )
    failed = problems[0] if problems else over_goal(value, PAINT_GOAL_MS)
    return Measurement(value, notes, extra={"runs": runs, "first_run": first}, check_failed=failed)


def _query_row(name: str) -> None:
    @row(f"tui.query_ms.{name}", unit="ms")
    def measure(ctx: Context) -> Measurement:
        index, session = tui_index(ctx), tui_session(ctx)
        queries = screen_queries(session.library, index.picks)
        assert set(queries) == set(QUERIES), "QUERIES and screen_queries disagree"
        what, call, check = queries[name]
        cpu: list[float] = []

        def call_on_cpu() -> Any:
            # SQLite works in the calling thread: its CPU time is what the call costs on an idle
            # machine, where the wall clock also counts the waits for the other jobs' CPUs.
            started = time.thread_time()
            try:
                return call()
            finally:
                cpu.append((time.thread_time() - started) * 1000)

        timed = time_calls(call_on_cpu, QUICK_QUERY_RUNS if ctx.quick else QUERY_RUNS)
        value = median(timed.samples)
        if timed.interrupted:
            value = timed.samples[-1]
            verdict = f"INTERRUPTED after {BUDGET_S:.0f} s, so at least {value:,.0f} ms"
        else:
            verdict = goal_note(value, QUERY_GOAL_MS)
        notes = (
            f"{index.built.size}; {what}; {verdict}; ms {spread(timed.samples, '{:.1f}')}; "
            f"CPU ms {spread(cpu, '{:.1f}')}; connect + SELECT 1 alone {session.floor_ms:.1f} ms; {load_note()}"
        )
        extra: dict[str, Any] = {"ms": timed.samples, "cpu_ms": cpu, "interrupted": timed.interrupted}
        failed = (
            verdict if timed.interrupted else check(timed.result) or over_goal(value, QUERY_GOAL_MS, digits=1)
        )
        if timed.interrupted or value >= QUERY_GOAL_MS:
            extra["plans"] = plans(index.path, timed.statements)
            notes += "; plan: " + " || ".join(" / ".join(p["plan"]) for p in extra["plans"])
        return Measurement(value, notes, extra=extra, check_failed=failed)


for _name in QUERIES:
    _query_row(_name)
