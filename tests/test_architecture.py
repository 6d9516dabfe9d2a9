"""House rules that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_the_engine_never_imports_the_ui() -> None:
    code = (
        "import sys, shadowlens.daemon.cli.main, shadowlens.daemon.library.scan, shadowlens.daemon.analysis.pool;"
        "import shadowlens.daemon.service.daemon, shadowlens.daemon.service.watcher, shadowlens.daemon.service.dispatcher;"
        "from shadowlens.daemon.analysis.plugins import build_detectors;"
        "from shadowlens.daemon.config import Config; build_detectors(Config());"
        "bad = sorted(m for m in sys.modules if m.startswith(('shadowlens.tui', 'textual')));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"the engine imported UI modules: {proc.stdout}{proc.stderr}"


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


def test_the_tui_never_imports_detector_or_watcher_code() -> None:
    code = (
        "import sys, pkgutil, importlib, shadowlens.tui, shadowlens.tui.screens;"
        "[importlib.import_module(m.name) for p in (shadowlens.tui, shadowlens.tui.screens)"
        " for m in pkgutil.iter_modules(p.__path__, p.__name__ + '.')];"
        "bad = sorted(m for m in sys.modules if m.startswith(('shadowlens.daemon.detectors', "
        "'shadowlens.daemon.service.watcher', 'shadowlens.daemon.analysis.pipeline', 'shadowlens.daemon.service.daemon', "
        "'shadowlens.daemon.analysis.pool', 'watchdog', 'onnxruntime', 'insightface', 'rapidocr')));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"the TUI imported engine modules: {proc.stdout}{proc.stderr}"
