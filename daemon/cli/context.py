"""What every command shares: the loaded config, the paths, and clean one-line errors."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from shadowlens.daemon.fsnames import shown
from shadowlens.daemon.paths import AppPaths, app_paths, ensure_private_dir, ensure_private_file

if TYPE_CHECKING:
    from shadowlens.daemon.config import Config

F = TypeVar("F", bound=Callable[..., Any])
EXIT_CONFIG = 2
# The failures every command reports as one line: (module, class, prefix, exit status). Named,
# not imported: the modules are heavy (pydantic, Alembic, the worker pool), and an exception
# of a class whose module was never imported cannot have been raised.
EXPECTED_FAILURES = (
    ("shadowlens.daemon.config", "ConfigError", "config error: ", EXIT_CONFIG),
    ("shadowlens.daemon.clock", "ClockError", "", EXIT_CONFIG),
    ("shadowlens.daemon.index.db", "IndexError_", "index error: ", 1),
    ("shadowlens.daemon.analysis.pool", "WorkerStartError", "", 1),
)


@dataclass
class AppContext:
    config_path: Path | None
    verbose: int
    _config: Config | None = None

    @property
    def paths(self) -> AppPaths:
        return app_paths(self.config_path)

    @property
    def config(self) -> Config:
        if self._config is None:
            from shadowlens.daemon.analysis.plugins import detector_settings, discover
            from shadowlens.daemon.config import load_config

            config = load_config(self.config_path)
            # Check every detector's section now, before anything touches the index.
            detector_settings(config, discover())
            self._config = config
        return self._config

    @property
    def index_path(self) -> Path:
        return self.config.index_path(self.paths)


def echo(message: str = "", err: bool = False) -> None:
    """``click.echo`` for text that may quote a file name: undecodable bytes print as ``\\xNN``."""
    click.echo(shown(message), err=err)


def fail(message: str, code: int = 1) -> NoReturn:
    echo(f"shadowlens: {message}", err=True)
    sys.exit(code)


def path_problem(path: Path, what: str = "file or folder") -> str | None:
    """Why ``path`` cannot be used at all, in a few words, or None. A folder that exists but
    cannot be listed is not refused here: the walk reports it and the rest is scanned."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return f"no such {what}"
    except NotADirectoryError:
        return f"no such {what} (a part of the path is a file)"
    except PermissionError:
        return "permission denied (a folder on the way cannot be entered)"
    except OSError as exc:
        return f"cannot read: {(exc.strerror or str(exc)).lower()}"
    return None


def require_existing(paths: list[Path], given: bool, what: str = "file or folder") -> None:
    """Exit 2 with one line for the first path that cannot be used at all."""
    for path in paths:
        problem = path_problem(path, what)
        if problem:
            hint = "" if given else " (set [library] folders in the config, or give a PATH)"
            fail(f"{path}: {problem}{hint}", EXIT_CONFIG)


def handle_errors(func: F) -> F:
    """Turn the expected failures into one line on stderr and a documented exit status."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            expected = expected_failure(exc)
            if expected is None:
                raise
            fail(*expected)

    return wrapper  # type: ignore[return-value]


def expected_failure(exc: BaseException) -> tuple[str, int] | None:
    """The one line and exit status for an expected failure, None for anything else."""
    for module_name, class_name, prefix, code in EXPECTED_FAILURES:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, class_name)):
            return f"{prefix}{exc}", code
    return None


def setup_logging(verbose: int) -> None:
    """Messages on stderr (journald reads them under systemd) and a private log in the state dir."""
    level = logging.WARNING - 10 * min(verbose, 2)
    root = logging.getLogger()
    root.setLevel(min(level, logging.INFO))
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(console)
    # Libraries' routine chatter is noise in the journal; their warnings still come through.
    for name in ("alembic", "apscheduler", "watchdog"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    try:
        paths = app_paths()
        ensure_private_dir(paths.state_dir)
        log_file = ensure_private_file(paths.log_dir / "shadowlens.log")
        handler = RotatingFileHandler(
            log_file, maxBytes=5_000_000, backupCount=3, encoding="utf-8", errors="backslashreplace"
        )
    except OSError as exc:
        console.handle(
            logging.makeLogRecord(
                {
                    "msg": f"cannot write the log file: {exc}",
                    "levelno": 30,
                    "levelname": "WARNING",
                    "name": "shadowlens",
                }
            )
        )
        return
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)


pass_app = click.make_pass_decorator(AppContext)
