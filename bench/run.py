"""Run the shadowlens benchmarks: ``make bench`` or ``.venv/bin/python bench/run.py [--quick]``.

Rows come from every ``bench/rows_*.py`` module (see ``harness.py`` for the ``@row`` API), so a
new benchmark is a new module and nothing here changes. Results go to stdout as a table and to
``bench/results/latest.json`` plus a timestamped copy, with enough machine detail to tell
whether two result files are comparable.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
# Row modules import harness and corpus as top-level modules, whatever the working directory.
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from corpus import Corpus  # noqa: E402
from harness import REGISTRY, XDG_VARS, Context, Measurement, Row, Skip  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="SUBSTR",
        help="run rows whose name contains SUBSTR (repeatable)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller sizes and one repetition: checks the harness, not the code",
    )
    parser.add_argument("--list", action="store_true", help="list the rows and exit")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=Corpus.default_root(REPO),
        help="the shared corpus (default: %(default)s)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=BENCH_DIR / "results",
        help="where JSON results go (default: %(default)s)",
    )
    return parser.parse_args(argv)


def discover() -> list[Row]:
    for path in sorted(BENCH_DIR.glob("rows_*.py")):
        importlib.import_module(path.stem)
    return list(REGISTRY)


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": platform.processor() or None,
    }
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        info["memory_mb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20)
    except (OSError, ValueError):
        pass
    return info


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    # Numbers from a dirty tree are not reproducible from the commit alone; say so.
    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


def run_row(entry: Row, ctx: Context) -> dict[str, Any]:
    record: dict[str, Any] = {"name": entry.name, "unit": entry.unit, "module": entry.module, "extra": {}}
    started = time.perf_counter()
    try:
        if entry.needs_corpus:
            ctx.need_corpus()
        outcome = entry.func(ctx)
        result = outcome if isinstance(outcome, Measurement) else Measurement(float(outcome))
        status = "check-failed" if result.check_failed else "ok"
        notes = (
            f"CHECK FAILED: {result.check_failed}; {result.notes}" if result.check_failed else result.notes
        )
        record.update(value=result.value, notes=notes, status=status, extra=result.extra)
    except Skip as exc:
        record.update(value=None, notes=f"skipped: {exc}", status="skipped")
    except Exception as exc:
        traceback.print_exc()
        record.update(value=None, notes=f"error: {type(exc).__name__}: {exc}", status="error")
    record["row_seconds"] = round(time.perf_counter() - started, 3)
    return record


def format_value(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.1f}"


def print_table(records: list[dict[str, Any]]) -> None:
    header = ("row", "value", "unit", "notes")
    lines = [(r["name"], format_value(r["value"]), r["unit"], r["notes"]) for r in records]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(3)]
    for line in [header, (*("-" * w for w in widths), "-----"), *lines]:
        print(f"{line[0]:<{widths[0]}}  {line[1]:>{widths[1]}}  {line[2]:<{widths[2]}}  {line[3]}")


def write_results(report: dict[str, Any], results: Path, now: datetime) -> Path:
    results.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=2) + "\n"
    copy = results / f"{stamp}{'-quick' if report['quick'] else ''}.json"
    copy.write_text(text, encoding="utf-8")
    (results / "latest.json").write_text(text, encoding="utf-8")
    return copy


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = [r for r in discover() if not args.only or any(s in r.name for s in args.only)]
    if args.list:
        for r in rows:
            print(f"{r.name}  [{r.unit}]  ({r.module})")
        return 0
    if not rows:
        print(f"bench: no row name contains any of {args.only}; see --list", file=sys.stderr)
        return 2
    corpus = Corpus.load(args.corpus)
    needing = [r.name for r in rows if r.needs_corpus]
    if corpus is None and needing:
        print(
            f"bench: no corpus at {args.corpus} (expected manifest.csv there); "
            f"skipping {len(needing)} row(s) that need it. Put the shared corpus beside the repo "
            f"or pass --corpus PATH.",
            file=sys.stderr,
        )
    with tempfile.TemporaryDirectory(prefix="shadowlens-bench-") as scratch:
        # Before any row imports shadowlens: nothing may read or write the user's real dirs.
        for var in XDG_VARS:
            os.environ[var] = str(Path(scratch, "harness-xdg", var.lower()))
        ctx = Context(quick=args.quick, repo=REPO, scratch=Path(scratch), corpus=corpus)
        records = []
        for r in rows:
            print(f"bench: {r.name} ...", file=sys.stderr, flush=True)
            records.append(run_row(r, ctx))
    now = datetime.now(UTC)
    report = {
        "date": now.isoformat(timespec="seconds"),
        "quick": args.quick,
        "only": args.only,
        "machine": machine_info(),
        "git": git_info(),
        "corpus": str(args.corpus) if corpus else None,
        "corpus_files_copied": corpus.copied if corpus else 0,
        "rows": records,
    }
    print_table(records)
    print(f"\nresults: {write_results(report, args.results, now)}")
    failed = [r["name"] for r in records if r["status"] in ("error", "check-failed")]
    if failed:
        print(f"bench: {len(failed)} row(s) failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
