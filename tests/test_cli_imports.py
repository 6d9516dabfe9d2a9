"""Starting the CLI imports only what the command that runs needs.

Every ``shadowlens`` process pays for its imports before it does anything: importing every
command up front cost half a second of detector classes, SQLAlchemy, Alembic and numpy, most of
the TUI's first paint. Each check runs in a new interpreter, because this one has imported
everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from shadowlens.daemon.cli.context import EXIT_CONFIG, EXPECTED_FAILURES, expected_failure
from shadowlens.daemon.cli.main import COMMANDS, cli, load_command
from shadowlens.tui.app import WARM_UP
from shadowlens.tui.library import PROFILE_KEY, stored_profile

from tests.conftest import Env

# What README.md's "Using the CLI" lists.
DOCUMENTED = {
    "scan", "photos", "show", "doctor", "watch", "status", "pause", "resume",
    "service", "models", "profile", "alerts", "tui", "scrub", "cluster", "worker",
}  # fmt: skip
# Model runtimes, image and array libraries, the index's ORM and its migrations, the UI: none
# is needed to parse a command line or print help.
HEAVY = (
    "onnxruntime", "cv2", "dlib", "insightface", "rapidocr", "faiss", "numpy", "PIL", "scipy",
    "sklearn", "sqlalchemy", "alembic", "pydantic", "textual", "textual_image", "watchdog",
)  # fmt: skip
# What the TUI's first screen may not wait for. numpy and Pillow are not here: textual-image
# imports both when it asks the terminal about graphics, which must happen before the app starts.
NOT_FOR_THE_FIRST_PAINT = (
    "onnxruntime", "cv2", "dlib", "insightface", "rapidocr", "faiss", "scipy", "sklearn",
    "sqlalchemy", "alembic", "watchdog", "shadowlens.daemon.analysis", "shadowlens.daemon.detectors",
    "shadowlens.daemon.index.db", "shadowlens.daemon.index.schema", "shadowlens.daemon.profile.face_matrix",
)  # fmt: skip


def modules_after(code: str) -> set[str]:
    """The modules a new interpreter holds after running ``code``."""
    script = f"import json, sys\n{code}\nprint('MODULES ' + json.dumps(sorted(sys.modules)))"
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert child.returncode == 0, child.stderr
    line = next(line for line in child.stdout.splitlines() if line.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def command_modules(modules: set[str]) -> list[str]:
    own = {"shadowlens.daemon.cli.main", "shadowlens.daemon.cli.context"}
    return sorted(m for m in modules if m.startswith("shadowlens.daemon.cli.") and m not in own)


def test_importing_the_entry_module_imports_no_command() -> None:
    modules = modules_after("import shadowlens.daemon.cli.main")
    assert not loaded(modules, HEAVY)
    assert not command_modules(modules)


def test_help_imports_no_command() -> None:
    code = (
        "from shadowlens.daemon.cli.main import cli\n"
        "try:\n    cli(['--help'], prog_name='shadowlens')\nexcept SystemExit:\n    pass"
    )
    modules = modules_after(code)
    assert not loaded(modules, HEAVY)
    assert not command_modules(modules)


def test_the_console_script_help_lists_every_documented_command(env: Env) -> None:
    shown = env.run("--help").stdout
    lines = shown.split("Commands:", 1)[1].splitlines()
    listed = {line.split()[0] for line in lines if line.startswith("  ") and line[2:3].strip()}
    assert listed == DOCUMENTED == set(COMMANDS)


def test_the_table_matches_the_commands_it_imports() -> None:
    """The help lines come from the table; they must be the commands' own, at any width."""
    for name, entry in COMMANDS.items():
        command = load_command(name)
        assert command.name == name
        for limit in (30, 45, 200):
            table = click.Command(name, help=entry.help).get_short_help_str(limit)
            assert table == command.get_short_help_str(limit), name


def test_each_command_imports_its_module_when_it_runs() -> None:
    modules = modules_after(
        "import click\nfrom shadowlens.daemon.cli.main import cli\n"
        "cli.get_command(click.Context(cli), 'status')"
    )
    assert command_modules(modules) == ["shadowlens.daemon.cli.watch"]
    assert cli.get_command(click.Context(cli), "no-such-command") is None


def test_the_tui_command_and_its_first_screen_import_no_engine() -> None:
    modules = modules_after(
        "import click\nfrom shadowlens.daemon.cli.main import cli\n"
        "cli.get_command(click.Context(cli), 'tui')\n"
        "from shadowlens.daemon.config import load_config\n"
        "from shadowlens.tui.app import ShadowlensApp, screen_class\n"
        "from shadowlens.tui.library import Library\n"
        "screen_class('profile')"
    )
    assert not loaded(modules, NOT_FOR_THE_FIRST_PAINT)
    assert command_modules(modules) == ["shadowlens.daemon.cli.tui_cmd"]
    screens = sorted(m for m in modules if m.startswith("shadowlens.tui.screens."))
    assert screens == ["shadowlens.tui.screens.profile"], "only the first screen's module"


def test_expected_failures_are_named_by_real_exception_classes() -> None:
    """handle_errors names the classes it turns into one line; a rename must not go unnoticed."""
    import importlib

    for module, name, _prefix, _code in EXPECTED_FAILURES:
        found = getattr(importlib.import_module(module), name)
        assert isinstance(found, type) and issubclass(found, Exception), (module, name)


def test_expected_failures_become_one_line_and_others_pass_through() -> None:
    from shadowlens.daemon.config import ConfigError
    from shadowlens.daemon.index.db import IndexError_

    problem = ConfigError("config.toml", "faces.x", "unknown key")
    assert expected_failure(problem) == ("config error: config.toml: faces.x: unknown key", EXIT_CONFIG)
    assert expected_failure(IndexError_("locked")) == ("index error: locked", 1)
    assert expected_failure(KeyError("x")) is None
    assert expected_failure(click.UsageError("no")) is None


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_every_command_has_help(env: Env, name: str) -> None:
    shown = env.run(name, "--help").stdout
    assert f"Usage: shadowlens {name}" in shown


# -- the TUI's first screen ------------------------------------------------------------------------

PROFILE = {"photo_count": 3, "claims": [{"id": "place.home", "kind": "place", "text": "You live in Lyon"}]}


def _index_with_profile(path: Path, profile: dict[str, Any] | None) -> Path:
    from shadowlens.daemon.index.writer import Store

    store = Store.open(path)
    try:
        if profile is not None:
            with store.transaction():
                store.profile.save_profile(profile)
    finally:
        store.close()
    return path


@pytest.mark.parametrize("profile", [PROFILE, None])
def test_the_start_screen_reads_the_profile_as_the_reader_does(
    tmp_path: Path, profile: dict[str, Any] | None
) -> None:
    """The Library reads the stored profile with sqlite3 alone; it must be the Reader's profile."""
    from shadowlens.daemon.index.profile_writes import PROFILE_KEY as STORED_KEY
    from shadowlens.daemon.index.reads.queries import Reader

    index = _index_with_profile(tmp_path / "index.sqlite3", profile)
    reader = Reader.open(index)
    try:
        assert stored_profile(index) == reader.profile() == profile
    finally:
        reader.close()
    assert PROFILE_KEY == STORED_KEY


# In the child: the modules held when the start screen first shows its data (the end of its
# _show, before the app handles FirstLoad), then those held once the warm-up has run.
PAINT = """
import asyncio
from pathlib import Path
from shadowlens.tui.app import ShadowlensApp
from shadowlens.tui.base import LibraryScreen
from shadowlens.tui.library import Library

at_first_paint = []
shown = LibraryScreen._show

def _show(screen, data):
    shown(screen, data)
    at_first_paint.append(sorted(sys.modules))

LibraryScreen._show = _show

async def main():
    app = ShadowlensApp(Library(Path(sys.argv[1]), Path(sys.argv[2])))
    async with app.run_test(size=(120, 40)) as pilot:
        while not getattr(app.screen, "loaded", False):
            await pilot.pause(0.01)
        assert type(app.screen).__name__ == "ProfileScreen"
        await app.workers.wait_for_complete()
        await pilot.pause(0.05)
        await app.workers.wait_for_complete()

asyncio.run(main())
print("FIRST " + json.dumps(at_first_paint[0]))
"""


def test_the_first_paint_waits_for_neither_the_orm_nor_other_screens(tmp_path: Path) -> None:
    """And once it is shown, the rest is imported in the background, ready for the next screen."""
    index = _index_with_profile(tmp_path / "index.sqlite3", PROFILE)
    script = f"import json, sys\n{PAINT}\nprint('MODULES ' + json.dumps(sorted(sys.modules)))"
    child = subprocess.run(
        [sys.executable, "-c", script, str(index), str(tmp_path / "state")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    lines = dict(
        line.split(" ", 1) for line in child.stdout.splitlines() if line.startswith(("FIRST", "MODULES"))
    )
    first, later = set(json.loads(lines["FIRST"])), set(json.loads(lines["MODULES"]))
    assert not loaded(first, NOT_FOR_THE_FIRST_PAINT)
    assert sorted(m for m in first if m.startswith("shadowlens.tui.screens.")) == [
        "shadowlens.tui.screens.profile"
    ]
    assert set(WARM_UP) <= later, f"not warmed up: {sorted(set(WARM_UP) - later)}"
    assert "sqlalchemy" in later
