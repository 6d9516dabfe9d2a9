"""Where shadowlens keeps its files, following the XDG base directory spec via platformdirs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP = "shadowlens"
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


@dataclass(frozen=True)
class AppPaths:
    config_file: Path
    data_dir: Path
    state_dir: Path
    cache_dir: Path

    @property
    def index_file(self) -> Path:
        return self.data_dir / "index.sqlite3"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "log"


def app_paths(config_file: Path | None = None) -> AppPaths:
    """Resolve paths now, so XDG_* variables set by the caller (or a test) are honoured."""
    dirs = platformdirs.PlatformDirs(APP, appauthor=False)
    return AppPaths(
        config_file=config_file or Path(dirs.user_config_dir) / "config.toml",
        data_dir=Path(dirs.user_data_dir),
        state_dir=Path(dirs.user_state_dir),
        cache_dir=Path(dirs.user_cache_dir),
    )


def pictures_dir() -> Path:
    return Path(platformdirs.user_pictures_dir())


def ensure_private_dir(path: Path) -> Path:
    """Create a directory, and any missing parents, readable by their owner only.

    Only directories created here, or shadowlens's own (named ``shadowlens``), are made 0700:
    an existing folder of the user's, say /tmp or ~/Documents, is never re-moded.
    """
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        directory.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        os.chmod(directory, PRIVATE_DIR_MODE)
    if path.name == APP and path.stat().st_mode & 0o777 != PRIVATE_DIR_MODE:
        os.chmod(path, PRIVATE_DIR_MODE)
    return path


def ensure_private_file(path: Path) -> Path:
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE_FILE_MODE)
    os.close(fd)
    os.chmod(path, PRIVATE_FILE_MODE)
    return path


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs: a scratch folder named after a dead one is left over."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
