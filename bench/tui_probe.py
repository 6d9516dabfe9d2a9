"""Timing the TUI's reads: a budget per call, and the SQL they ran for EXPLAIN QUERY PLAN.

A call still running after BUDGET_S is interrupted (``sqlite3.Connection.interrupt``) and the
row reports that lower bound; a first call over SLOW_MS is not repeated.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUDGET_S = 20.0  # a query still running after this is interrupted
SLOW_MS = 2000.0  # a first call this slow is not repeated


class Probe:
    """While active: every SQLite connection SQLAlchemy opens (so a runaway query can be
    interrupted) and every statement it runs (for EXPLAIN QUERY PLAN)."""

    def __init__(self) -> None:
        self.connections: list[Any] = []
        self.statements: list[tuple[str, Any]] = []
        self._on_connect = self._connected
        self._on_execute = self._executing

    def __enter__(self) -> Probe:
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


def time_calls(call: Callable[[], Any], runs: int) -> Timed:
    from sqlalchemy.exc import OperationalError

    samples: list[float] = []
    result: Any = None
    interrupted = False
    with Probe() as probe:
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


def plans(path: Path, statements: list[tuple[str, Any]]) -> list[dict[str, Any]]:
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
