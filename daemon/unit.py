"""The systemd user unit: rendered from systemd/shadowlens.service with this machine's paths."""

from __future__ import annotations

import os
import shlex
import sys
from importlib import resources
from pathlib import Path

from shadowlens.daemon.paths import AppPaths

UNIT_NAME = "shadowlens.service"
XDG_VARS = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_PICTURES_DIR")


def template_text() -> str:
    # daemon/shadowlens.service links to systemd/shadowlens.service, so wheels carry the template.
    return resources.files("shadowlens.daemon").joinpath(UNIT_NAME).read_text(encoding="utf-8")


def executable(config_file: Path | None) -> str:
    script = Path(sys.executable).with_name("shadowlens")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "shadowlens.daemon.cli"]
    if config_file is not None:
        command += ["--config", str(config_file.resolve())]
    return shlex.join(command)


def _quote(path: Path | str, optional: bool = False) -> str:
    # systemd path lists are space-separated; "-" makes a missing path not an error.
    text = ("-" if optional else "") + str(path)
    return f'"{text}"' if " " in text else text


def render(paths: AppPaths, index: Path, folders: list[Path], config_file: Path | None) -> str:
    env = [f'Environment="{var}={os.environ[var]}"' for var in XDG_VARS if os.environ.get(var)]
    writable = [paths.data_dir, paths.state_dir, paths.cache_dir]
    if index.parent not in writable:
        writable.append(index.parent)
    text = template_text()
    replacements = {
        "@EXEC@": executable(config_file),
        "@ENVIRONMENT@": "\n".join(env) if env else "# (no XDG overrides)",
        "@WRITABLE@": " ".join(_quote(p) for p in writable),
        "@FOLDERS@": " ".join(_quote(p, optional=True) for p in folders) or "-/nonexistent",
    }
    for key, value in replacements.items():
        text = text.replace(key, value)
    return text


def unit_path() -> Path:
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "systemd" / "user" / UNIT_NAME
