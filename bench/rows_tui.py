"""The TUI at library scale: first paint and every screen's query on 100,000 photos.

The index is ``rows_profile``'s synthetic library (100,000 photos, 300,000 faces, ~1M findings),
built again here into its own directory because the profile rows change theirs (new photos, a
recluster). One full ``ProfileUpdater.refresh(force=True)`` then stores the complete profile a
running daemon keeps (places, brands, people, habits: ~5 MB of JSON at full size; the build's
own snapshot only knows home and the owner), and every photo at or over the alert threshold
gets the ``new`` alert the daemon would have raised. Building (~1 min) and refreshing (~40 s)
happen once for all ``tui.*`` rows.

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
  PLAN`` of the statements they ran in ``extra["plans"]`` (and in the notes).

The machine's load average is in the notes: these rows are sensitive to whatever else runs.

``--quick``: rows_profile's quick library (10,000 photos, 30,000 faces); 3 calls per query.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from harness import Context, Measurement, median, row, run_child, spread, xdg_env
from rows_profile import TRIPS, Built, _build, _stamp

PAINT_GOAL_MS = 1000.0
QUERY_GOAL_MS = 50.0
PAINT_RUNS = 3
QUERY_RUNS, QUICK_QUERY_RUNS = 5, 3
SIZE = (120, 40)
PAGE = 200  # the photos screen's page
POLL_S = 0.005  # how often the paint rows look at the screen
PAINT_TIMEOUT_S = 60.0
BUDGET_S = 20.0  # a query still running after this is interrupted
SLOW_MS = 2000.0  # a first call this slow is not repeated
TRIP_RADIUS_M = 5000.0  # what the places screen uses for a place without a radius
MARKER = "TUI-PAINT "

QUERIES = (
    "profile",
    "photos_by_exposure",
    "photos_by_date",
    "photos_by_place",
    "photos_by_person",
    "photos_by_brand",
    "photos_filtered",
    "photos_search",
    "photo_count",
    "photo_detail",
    "persons",
    "person_faces",
    "place_photos",
    "brand_photos",
    "alerts",
    "status",
)


# -- the library ----------------------------------------------------------------------------------


@dataclass
class Picks:
    """What the query rows look at, chosen from the index as a user would find it."""

    photos: int  # indexed, not orphaned: what the photos screen counts
    persons: int
    search: str  # a trip city
    search_hits: int
    detail_path: str  # the photo with the most findings
    detail_findings: int
    person_id: int  # the person with the most faces
    person_faces: int
    home: tuple[float, float, float]  # lat, lon, radius in metres, as the places screen asks
    home_photos: int
    brand: str  # the brand in the most photos
    alerts: int


@dataclass
class Index:
    built: Built
    state_dir: Path
    refresh_s: float
    picks: Picks

    @property
    def path(self) -> Path:
        return self.built.path

    @property
    def made(self) -> str:
        return f"index built in {self.built.seconds:.0f} s, profile refreshed in {self.refresh_s:.0f} s"


def _index(ctx: Context) -> Index:
    def make() -> Index:
        from shadowlens.daemon.config import Config
        from shadowlens.daemon.index.writer import Store
        from shadowlens.daemon.profile.updater import ProfileUpdater

        built = _build(ctx.tempdir("tui-index") / "index.db", ctx.quick)
        config = Config()
        store = Store.open(built.path)
        try:
            started = time.perf_counter()
            snapshot = ProfileUpdater(store, config).refresh(force=True)
            refresh_s = time.perf_counter() - started
        finally:
            store.close()
        assert snapshot is not None
        _add_alerts(built, config.alerts.threshold)
        picks = _picks(built.path, snapshot)
        return Index(built, ctx.tempdir("tui-state"), refresh_s, picks)

    return ctx.memo("tui.index", make)


def _add_alerts(built: Built, threshold: int) -> None:
    """A ``new`` alert per photo at or over the threshold, five minutes apart in photo order."""
    con = sqlite3.connect(built.path, isolation_level=None)
    try:
        risky = con.execute(
            "SELECT id, exposure, exposure_reasons FROM photos "
            "WHERE status = 'indexed' AND marked_safe = 0 AND exposure >= ? ORDER BY id",
            (threshold,),
        ).fetchall()
        rows = []
        for n, (photo_id, exposure, reasons) in enumerate(risky):
            stamp = _stamp(built.end - timedelta(minutes=5 * (len(risky) - n)))
            rows.append((photo_id, exposure, reasons, "new", stamp, stamp))
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO alerts (photo_id, score, reasons, state, created_at, updated_at) VALUES (?,?,?,?,?,?)",
            rows,
        )
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def _picks(path: Path, snapshot: dict[str, Any]) -> Picks:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:

        def one(sql: str, *params: Any) -> Any:
            return con.execute(sql, params).fetchone()

        (photos,) = one("SELECT count(*) FROM photos WHERE status = 'indexed' AND orphaned_at IS NULL")
        (persons,) = one("SELECT count(*) FROM persons")
        trips = [t[0] for t in TRIPS]
        marks = ",".join("?" * len(trips))
        search, hits = one(
            f"SELECT city, count(*) FROM photos WHERE city IN ({marks}) GROUP BY city ORDER BY 2 DESC, 1 LIMIT 1",
            *trips,
        )
        detail_id, findings = one(
            "SELECT photo_id, count(*) FROM findings GROUP BY photo_id ORDER BY 2 DESC, 1 LIMIT 1"
        )
        (detail_path,) = one("SELECT min(path) FROM files WHERE photo_id = ?", detail_id)
        person_id, faces = one("SELECT id, face_count FROM persons ORDER BY face_count DESC, id LIMIT 1")
        (alerts,) = one("SELECT count(*) FROM alerts WHERE state = 'new'")
    finally:
        con.close()
    home = next((p for p in snapshot.get("places", []) if p.get("label") == "home"), None)
    if home is None:
        home = {**snapshot["home"], "photo_count": 0}
    radius = float(home.get("radius_m") or TRIP_RADIUS_M)
    brand = max(snapshot["brands"], key=lambda b: int(b["photo_count"]))["name"]
    return Picks(
        photos=int(photos),
        persons=int(persons),
        search=str(search),
        search_hits=int(hits),
        detail_path=str(detail_path),
        detail_findings=int(findings),
        person_id=int(person_id),
        person_faces=int(faces),
        home=(float(home["lat"]), float(home["lon"]), radius),
        home_photos=int(home.get("photo_count") or 0),
        brand=str(brand),
        alerts=int(alerts),
    )


# -- first paint ----------------------------------------------------------------------------------


async def _paint(index: Index) -> tuple[float, str, str]:
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


def _painted_wrong(index: Index, screen: str, shown: str) -> str | None:
    """The profile screen, showing the stored profile (not the 'no profile yet' note)."""
    if screen != "ProfileScreen":
        return f"the first screen was {screen}, not ProfileScreen"
    if "tell a marketer" not in shown or str(index.picks.photos) not in shown:
        return f"the profile screen did not show the profile: {shown[:80]!r}"
    return None


def _goal(value: float, goal: float) -> str:
    return f"goal < {goal:.0f} ms ({'met' if value < goal else 'MISSED'})"


@row("tui.first_paint_ms", unit="ms")
def first_paint_ms(ctx: Context) -> Measurement:
    index = _index(ctx)
    import shadowlens.tui.app  # noqa: F401  (the module, not the screens: those load on mount)

    samples, problems = [], []
    for _ in range(PAINT_RUNS):
        elapsed, screen, shown = asyncio.run(_paint(index))
        samples.append(elapsed)
        problem = _painted_wrong(index, screen, shown)
        if problem:
            problems.append(problem)
    value = median(samples)
    notes = (
        f"{index.built.size}; ShadowlensApp(Library) to the loaded profile screen, run_test {SIZE[0]}x{SIZE[1]}, "
        f"{_goal(value, PAINT_GOAL_MS)}; ms {spread(samples, '{:.0f}')} (the first also imports the screens); "
        f"{index.made}; {_load()}"
    )
    failed = problems[0] if problems else None
    if failed is None and value >= PAINT_GOAL_MS:
        failed = f"median {value:.0f} ms >= goal {PAINT_GOAL_MS:.0f} ms"
    extra = {"ms": samples, "build_s": index.built.seconds, "refresh_s": index.refresh_s}
    return Measurement(value, notes, extra=extra, check_failed=failed)


# The child: time.time() stamps compare with the parent's spawn time, perf_counter() splits it.
# Its one argument is JSON: spawn time, index, state dir, size, timeout, poll interval, marker.
CHILD = """
import time
top_wall, top = time.time(), time.perf_counter()
import asyncio, json, sys
from pathlib import Path
args = json.loads(sys.argv[1])
import shadowlens.daemon.cli.main  # the console script's module: every command, as `shadowlens tui`
cli = time.perf_counter()
import textual_image.widget  # what the tui command imports, in its order
from shadowlens.daemon.config import load_config
from shadowlens.tui.app import ShadowlensApp
from shadowlens.tui.library import Library
imported = time.perf_counter()
load_config()

async def main():
    app = ShadowlensApp(Library(Path(args["index"]), Path(args["state"])))
    async with app.run_test(size=tuple(args["size"])):
        while not getattr(app.screen, "loaded", False):
            if time.perf_counter() - top > args["timeout"]:
                raise SystemExit("the first screen did not load in time")
            await asyncio.sleep(args["poll"])
        return time.time(), time.perf_counter(), type(app.screen).__name__

loaded_wall, loaded, screen = asyncio.run(main())
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
    "screen": screen,
    "peak_mb": peak_mb,
}), flush=True)
"""


@row("tui.first_paint_process_ms", unit="ms")
def first_paint_process_ms(ctx: Context) -> Measurement:
    index = _index(ctx)
    # Bytecode as an installed shadowlens has it: compiled once (by the unmeasured first run) into
    # the scratch area, not recompiled from source in every child (PYTHONDONTWRITEBYTECODE would).
    env = xdg_env(ctx.tempdir("tui-process-xdg"), {"PYTHONPYCACHEPREFIX": str(ctx.tempdir("tui-pycache"))})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    runs: list[dict[str, Any]] = []
    first: dict[str, Any] = {}
    problems = []
    for n in range(PAINT_RUNS + 1):
        args = {"index": str(index.path), "state": str(index.state_dir), "size": SIZE}
        args.update(timeout=PAINT_TIMEOUT_S, poll=POLL_S, marker=MARKER, spawned=time.time())
        child = run_child([sys.executable, "-c", CHILD, json.dumps(args)], env, timeout=PAINT_TIMEOUT_S * 2)
        lines = [line for line in child.stdout.splitlines() if line.startswith(MARKER)]
        if child.returncode != 0 or not lines:
            raise RuntimeError(f"the child exited {child.returncode}: {child.stderr.strip()[-400:]}")
        run = json.loads(lines[-1].removeprefix(MARKER))
        run["wall_ms"] = child.wall_seconds * 1000
        if run["screen"] != "ProfileScreen":
            problems.append(f"the first screen was {run['screen']}, not ProfileScreen")
        if n == 0:
            first = run  # compiled the bytecode
        else:
            runs.append(run)
    value = median(r["total_ms"] for r in runs)

    def part(key: str) -> str:
        values = [r[key] for r in runs if r[key] is not None]
        return f"{median(values):.0f}" if values else "?"

    notes = (
        f"{index.built.size}; new interpreter to the loaded profile screen, {_goal(value, PAINT_GOAL_MS)}; "
        f"median ms: interpreter start {part('startup_ms')}, CLI entry import {part('cli_import_ms')}, "
        f"tui imports {part('tui_import_ms')}, app to loaded {part('app_ms')}; "
        f"ms {spread([r['total_ms'] for r in runs], '{:.0f}')} after one unmeasured run that compiled the "
        f"bytecode ({first['total_ms']:.0f} ms); peak RSS {part('peak_mb')} MB (VmHWM); {_load()}"
    )
    failed = problems[0] if problems else None
    if failed is None and value >= PAINT_GOAL_MS:
        failed = f"median {value:.0f} ms >= goal {PAINT_GOAL_MS:.0f} ms"
    return Measurement(value, notes, extra={"runs": runs, "first_run": first}, check_failed=failed)


def _load() -> str:
    """The machine's load: these rows share it with whatever else runs."""
    one, five, _ = os.getloadavg()
    return f"load avg {one:.1f}/{five:.1f} (1/5 min) on {os.cpu_count()} CPUs"


# -- screen queries --------------------------------------------------------------------------------


@dataclass
class Session:
    """One Library, open for all query rows as a TUI session keeps it."""

    library: Any  # Library
    floor_ms: float  # a connection (the Reader does not pool) and SELECT 1


def _session(ctx: Context) -> Session:
    def make() -> Session:
        from shadowlens.tui.library import Library
        from sqlalchemy import text

        index = _index(ctx)
        library = Library(index.path, index.state_dir)
        samples = []
        for _ in range(20):
            started = time.perf_counter()
            with library.reader.engine.connect() as connection:
                connection.execute(text("SELECT 1")).all()
            samples.append((time.perf_counter() - started) * 1000)
        return Session(library, median(samples))

    return ctx.memo("tui.session", make)


class _Probe:
    """While active: every SQLite connection SQLAlchemy opens (so a runaway query can be
    interrupted) and every statement it runs (for EXPLAIN QUERY PLAN)."""

    def __init__(self) -> None:
        self.connections: list[Any] = []
        self.statements: list[tuple[str, Any]] = []
        self._on_connect = self._connected
        self._on_execute = self._executing

    def __enter__(self) -> _Probe:
        from sqlalchemy import Engine, event
        from sqlalchemy.pool import Pool

        event.listen(Pool, "connect", self._on_connect)
        event.listen(Engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *_exc: object) -> None:
        from sqlalchemy import Engine, event
        from sqlalchemy.pool import Pool

        event.remove(Pool, "connect", self._on_connect)
        event.remove(Engine, "before_cursor_execute", self._on_execute)

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        self.connections.append(dbapi_connection)

    def _executing(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        self.statements.append((statement, parameters))

    def reset(self) -> None:
        self.connections.clear()
        self.statements.clear()

    def interrupt(self) -> None:
        for connection in list(self.connections):
            with contextlib.suppress(Exception):  # closed already: that call is over
                connection.interrupt()


@dataclass
class Timed:
    samples: list[float]
    result: Any
    interrupted: bool
    statements: list[tuple[str, Any]]


def _time_calls(call: Callable[[], Any], runs: int) -> Timed:
    from sqlalchemy.exc import OperationalError

    samples: list[float] = []
    result: Any = None
    interrupted = False
    with _Probe() as probe:
        for _ in range(runs):
            probe.reset()
            timer = threading.Timer(BUDGET_S, probe.interrupt)
            timer.daemon = True
            timer.start()
            started = time.perf_counter()
            try:
                result = call()
            except OperationalError as exc:
                if "interrupted" not in str(exc):
                    raise
                interrupted = True
            finally:
                timer.cancel()
                samples.append((time.perf_counter() - started) * 1000)
            if interrupted or samples[-1] > SLOW_MS:
                break
        statements = list(probe.statements)
    return Timed(samples, result, interrupted, statements)


def _plans(path: Path, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """EXPLAIN QUERY PLAN of each distinct SELECT, its tree indented by depth."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for sql, params in statements:
            flat = " ".join(sql.split())
            if flat in seen or not flat.upper().startswith(("SELECT", "WITH")):
                continue
            seen.add(flat)
            depth: dict[int, int] = {0: -1}
            lines = []
            for node, parent, _unused, detail in con.execute("EXPLAIN QUERY PLAN " + sql, params or ()):
                depth[node] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node] + detail)
            out.append({"sql": flat, "plan": lines})
    finally:
        con.close()
    return out


Check = Callable[[Any], str | None]


def _queries(library: Any, picks: Picks) -> dict[str, tuple[str, Callable[[], Any], Check]]:
    """name: (what it asks, the call, a check of its answer returning a problem or None)."""
    from shadowlens.daemon.index.reads.browse import PhotoFilter
    from shadowlens.tui.screens.photos import DEFAULT_DESCENDING

    everything = PhotoFilter()
    filtered = PhotoFilter(min_exposure=60, has_gps=True, kind="face")

    def page(filters: PhotoFilter, sort: str) -> Callable[[], Any]:
        return lambda: library.photos(filters, sort, DEFAULT_DESCENDING.get(sort, False), PAGE, 0)

    def rows(expected: int) -> Check:
        return lambda got: None if len(got) == expected else f"{len(got)} rows, expected {expected}"

    def page_rows(got: Any) -> str | None:
        return rows(min(PAGE, picks.photos))(got)

    def search_rows(got: Any) -> str | None:
        wrong = [r.path for r in got if picks.search not in f"{r.city} {r.path} {r.brands}"]
        problem = rows(min(PAGE, picks.search_hits))(got)
        return problem or (f"{len(wrong)} rows do not mention {picks.search}" if wrong else None)

    def filtered_rows(got: Any) -> str | None:
        wrong = [r for r in got if (r.exposure or 0) < 60]
        return "no rows" if not got else (f"{len(wrong)} rows under exposure 60" if wrong else None)

    def brand_rows(got: Any) -> str | None:
        wrong = [r for r in got if picks.brand not in (r.brands or "")]
        return "no rows" if not got else (f"{len(wrong)} rows without {picks.brand}" if wrong else None)

    lat, lon, radius = picks.home
    return {
        "profile": (
            "library.profile(), the stored profile",
            library.profile,
            lambda got: None if got and got.get("photo_count") == picks.photos else "no full profile",
        ),
        "photos_by_exposure": (f"first page of {PAGE}, by exposure", page(everything, "exposure"), page_rows),
        "photos_by_date": (f"first page of {PAGE}, by date", page(everything, "date"), page_rows),
        "photos_by_place": (f"first page of {PAGE}, by place", page(everything, "place"), page_rows),
        "photos_by_person": (f"first page of {PAGE}, by people", page(everything, "person"), page_rows),
        "photos_by_brand": (f"first page of {PAGE}, by brand", page(everything, "brand"), page_rows),
        "photos_filtered": (
            "first page, exposure >= 60 + GPS + a face, by exposure",
            page(filtered, "exposure"),
            filtered_rows,
        ),
        "photos_search": (
            f"first page, search {picks.search!r} ({picks.search_hits:,} photos there)",
            page(PhotoFilter(search=picks.search), "exposure"),
            search_rows,
        ),
        "photo_count": (
            "photo_count() of the unfiltered photos screen",
            lambda: library.photo_count(everything),
            lambda got: None if got == picks.photos else f"{got} photos, expected {picks.photos}",
        ),
        "photo_detail": (
            f"photo(path) of the photo with the most findings ({picks.detail_findings})",
            lambda: library.photo(picks.detail_path),
            lambda got: rows(picks.detail_findings)(got["findings"]) if got else "photo not found",
        ),
        "persons": ("persons(), the people screen's list", library.persons, rows(picks.persons)),
        "person_faces": (
            f"person_faces() of the biggest person ({picks.person_faces:,} faces)",
            lambda: library.person_faces(picks.person_id),
            rows(min(60, picks.person_faces)),
        ),
        "place_photos": (
            f"photos_near(home, {radius:.0f} m), the places screen's evidence ({picks.home_photos:,} photos)",
            lambda: library.photos_near(lat, lon, radius),
            lambda got: None if got else "no photos near home",
        ),
        "brand_photos": (
            f"photos(brand={picks.brand!r}) by date, the brands screen's evidence",
            page(PhotoFilter(brand=picks.brand), "date"),
            brand_rows,
        ),
        "alerts": (
            f"alerts(), new ones ({picks.alerts:,}), up to 500",
            library.alerts,
            rows(min(500, picks.alerts)),
        ),
        "status": (
            "status(): daemon state, counts, queue, errors",
            library.status,
            lambda got: None if got.get("indexed") else "no indexed photos counted",
        ),
    }


def _query_row(name: str) -> None:
    @row(f"tui.query_ms.{name}", unit="ms")
    def measure(ctx: Context) -> Measurement:
        index, session = _index(ctx), _session(ctx)
        queries = _queries(session.library, index.picks)
        assert set(queries) == set(QUERIES), "QUERIES and _queries disagree"
        what, call, check = queries[name]
        timed = _time_calls(call, QUICK_QUERY_RUNS if ctx.quick else QUERY_RUNS)
        value = median(timed.samples)
        if timed.interrupted:
            value = timed.samples[-1]
            verdict = f"INTERRUPTED after {BUDGET_S:.0f} s, so at least {value:,.0f} ms"
        else:
            verdict = _goal(value, QUERY_GOAL_MS)
        notes = (
            f"{index.built.size}; {what}; {verdict}; ms {spread(timed.samples, '{:.1f}')}; "
            f"connect + SELECT 1 alone {session.floor_ms:.1f} ms; {_load()}"
        )
        extra: dict[str, Any] = {"ms": timed.samples, "interrupted": timed.interrupted}
        failed = None if timed.interrupted else check(timed.result)
        if failed is None and (timed.interrupted or value >= QUERY_GOAL_MS):
            failed = verdict if timed.interrupted else f"median {value:.1f} ms >= goal {QUERY_GOAL_MS:.0f} ms"
        if timed.interrupted or value >= QUERY_GOAL_MS:
            plans = _plans(index.path, timed.statements)
            extra["plans"] = plans
            notes += "; plan: " + " || ".join(" / ".join(p["plan"]) for p in plans)
        return Measurement(value, notes, extra=extra, check_failed=failed)


for _name in QUERIES:
    _query_row(_name)
