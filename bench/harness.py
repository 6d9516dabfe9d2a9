"""The benchmark registry and the helpers every row module shares.

A row module is any ``bench/rows_*.py``; ``bench/run.py`` imports each one, which registers its
rows through the ``@row`` decorator. A row is a function ``(ctx: Context) -> Measurement | float``.
Rows that share expensive work (one set of scans feeding a throughput row and a memory row) cache
it with ``ctx.memo`` rather than module globals, so ``--only`` still runs the work on demand.

Row modules should import shadowlens inside their row functions: ``run.py`` points the XDG
variables at a scratch directory before any row runs, and an import-time side effect must never
see the user's real config or index.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from corpus import Corpus
from proc_memory import TreeRss

T = TypeVar("T")
XDG_VARS = ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")
# The models `shadowlens models build` made in the real user's model directory, read before
# run.py points the XDG variables at a scratch directory; rows name it in `[models] search_paths`.
BUILT_MODELS = (
    Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "shadowlens" / "models"
)
# The checked members of the package archives those models were built from (the build keeps them).
BUILT_ARCHIVES = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "shadowlens" / "archives"


@dataclass
class Measurement:
    """A row's result. ``check_failed`` says the measured run did not do what the row assumes,
    so the number is kept for inspection but the run exits non-zero."""

    value: float | None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    check_failed: str | None = None


class Skip(Exception):
    """Raised by a row that cannot run on this machine (no corpus, no model); not a failure."""


RowFunc = Callable[["Context"], "Measurement | float"]


@dataclass(frozen=True)
class Row:
    name: str
    unit: str
    func: RowFunc
    needs_corpus: bool
    module: str


REGISTRY: list[Row] = []


def row(name: str, *, unit: str, needs_corpus: bool = False) -> Callable[[RowFunc], RowFunc]:
    """Register a benchmark row. Names are dotted (``area.what.metric``) so ``--only`` can pick
    a whole area by prefix; they must be unique because results are compared across runs by name."""

    def register(func: RowFunc) -> RowFunc:
        if any(r.name == name for r in REGISTRY):
            raise ValueError(f"benchmark row {name!r} is registered twice")
        REGISTRY.append(Row(name, unit, func, needs_corpus, func.__module__))
        return func

    return register


@dataclass
class Context:
    """What a row may use: the run's options, a scratch area, the corpus and a shared cache."""

    quick: bool
    repo: Path
    scratch: Path
    corpus: Corpus | None
    _memo: dict[str, Any] = field(default_factory=dict)
    _dirs: int = 0

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = compute()
        return cast(T, self._memo[key])

    def tempdir(self, label: str) -> Path:
        """A fresh, empty directory under the run's scratch area (removed when the run ends)."""
        self._dirs += 1
        path = self.scratch / f"{self._dirs:03d}-{label}"
        path.mkdir(parents=True)
        return path

    def need_corpus(self) -> Corpus:
        if self.corpus is None:
            raise Skip("the shared corpus is missing")
        return self.corpus

    def shadowlens_cli(self) -> list[str]:
        """The installed console script beside the interpreter running the benchmarks."""
        script = Path(sys.executable).with_name("shadowlens")
        if not script.exists():
            raise Skip(f"{script} not found: run the benchmarks with the venv's python (make bench)")
        return [str(script)]


def xdg_env(base: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """An environment whose XDG dirs all live under ``base``, so a child never touches the
    user's config, index or model cache."""
    env = dict(os.environ)
    for var in XDG_VARS:
        path = base / var.removeprefix("XDG_").removesuffix("_HOME").lower()
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    env.update(extra or {})
    return env


@dataclass
class ChildRun:
    returncode: int
    stdout: str
    stderr: str
    wall_seconds: float
    # The largest of the tree's own peaks (VmHWM, sampled until each process ends): the child or
    # one of its descendants (a pool worker), never a sum.
    max_rss_mb: float
    # Each process's own peak, by role (main, worker, child), largest first.
    peaks: list[dict[str, Any]] = field(default_factory=list)


def run_child(argv: Sequence[str], env: dict[str, str], timeout: float = 600.0) -> ChildRun:
    """Run a command and measure it alone.

    Memory is each process's own peak from /proc (see proc_memory): ``getrusage`` and ``wait4``
    would report at least the benchmark process's own size, carried across exec.
    """
    # Files, not pipes: a chatty child cannot fill a pipe and stall while we poll wait4.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        try:
            with TreeRss(proc.pid, every=0.05) as tree:
                status = _wait(proc, started + timeout, tree)
        except TimeoutError:
            proc.kill()
            proc.wait()
            raise
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return ChildRun(
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", errors="replace"),
            stderr=err.read().decode("utf-8", errors="replace"),
            wall_seconds=wall,
            max_rss_mb=max((p["hwm_mb"] for p in tree.table()), default=0.0),
            peaks=tree.table(),
        )


def _wait(proc: subprocess.Popen[bytes], deadline: float, tree: TreeRss) -> int:
    # Poll with WNOHANG so a hung child cannot hang the whole benchmark run. The child is reaped
    # only after a last sample: a zombie has no memory lines, and a reaped one no /proc entry.
    while True:
        if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            tree.sample()
            _, status = os.waitpid(proc.pid, 0)
            return status
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{proc.args!r} did not finish in time")
        time.sleep(0.01)


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """Every sample, for the notes: a median hides a noisy machine, the samples show it."""
    return "[" + ", ".join(fmt.format(v) for v in values) + "]"


def goal_note(value: float, goal: float, unit: str = "ms") -> str:
    """How a median compares with its goal, for the notes."""
    return f"goal < {goal:.0f} {unit} ({'met' if value < goal else 'MISSED'})"


def over_goal(value: float, goal: float, unit: str = "ms", digits: int = 0) -> str | None:
    """The ``check_failed`` of a row whose median missed its goal, else None."""
    return f"median {value:.{digits}f} {unit} >= goal {goal:.0f} {unit}" if value >= goal else None


def only_detectors(*keep: str) -> str:
    """Config text that turns off every installed detector but ``keep``: rows named after a set of
    detectors measure that set, whatever later issues install."""
    from importlib.metadata import entry_points

    names = sorted({ep.name for ep in entry_points(group="shadowlens.detectors")} - set(keep))
    return "".join(f"[detectors.{name}]\nenabled = false\n" for name in names)


def write_config(base: Path, text: str) -> None:
    folder = base / "config" / "shadowlens"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(text, encoding="utf-8")
