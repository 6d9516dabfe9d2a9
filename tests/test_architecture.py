"""House rules that a reviewer would otherwise have to remember.

Which module may import which is not here: `lint-imports` checks it (the contracts in
pyproject.toml's [tool.importlinter], run by `make lint`), including that Textual stays in tui/
and that the TUI never loads detectors, models or the daemon."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_no_top_level_daemon_or_tui_package_is_installed(tmp_path: Path) -> None:
    # Run from an unrelated folder: the repo root on sys.path would hide what is really installed.
    code = (
        "import importlib.util, json, shadowlens.daemon, shadowlens.migrations, shadowlens.models, shadowlens.tui;"
        "print(json.dumps({n: getattr(importlib.util.find_spec(n), 'origin', None) "
        "for n in ('daemon', 'tui', 'models', 'migrations')}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    origins = json.loads(proc.stdout)
    leaked = {name: origin for name, origin in origins.items() if origin and origin.startswith(str(REPO))}
    assert leaked == {}, f"installed as top-level packages: {leaked}"


WRITERS = {
    Path("daemon/index/writer.py"),
    Path("daemon/index/profile_writes.py"),
    Path("daemon/index/queue.py"),
    Path("daemon/index/db.py"),
    # The photos screen's stored sort keys: called by the writer and the profile writes, in their transactions.
    Path("daemon/index/sort_keys.py"),
}
_SQL_WRITE = re.compile(
    r"^\s*(INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|REPLACE\s+INTO)\b", re.IGNORECASE
)


def test_only_the_store_writer_module_writes() -> None:
    """One write path: SQL writes and ORM unit-of-work calls live in daemon/index/writer.py."""
    offenders = []
    for path in sorted((REPO / "daemon").rglob("*.py")):
        relative = path.relative_to(REPO)
        if relative in WRITERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
                offenders += [
                    f"{relative}: imports {a.name}"
                    for a in node.names
                    if a.name in {"insert", "update", "delete"}
                ]
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and _SQL_WRITE.match(node.value)
            ):
                offenders.append(f"{relative}: SQL write {node.value[:30]!r}")
            elif (
                isinstance(node, ast.Attribute)
                and node.attr in {"commit", "add", "add_all", "merge", "flush"}
                and isinstance(node.value, ast.Name)
                and "session" in node.value.id
            ):
                offenders.append(f"{relative}: session.{node.attr}")
    assert offenders == []


def test_built_in_detectors_register_through_entry_points() -> None:
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="shadowlens.detectors")}
    assert {"metadata", "place"} <= names


def test_every_package_is_listed_for_a_regular_install() -> None:
    """The editable install finds any folder; a wheel only holds the packages pyproject lists."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        "shadowlens." + ".".join(init.parent.relative_to(REPO).parts)
        for top in ("daemon", "tui", "models", "migrations")
        for init in (REPO / top).rglob("__init__.py")
    }
    assert found - listed == set()
