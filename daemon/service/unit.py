"""The systemd user unit: rendered from systemd/shadowlens.service with this machine's paths."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

from shadowlens.daemon.config import FolderSettings
from shadowlens.daemon.paths import AppPaths

UNIT_NAME = "shadowlens.service"
XDG_VARS = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_PICTURES_DIR")
# Words made only of these need no quotes in a unit file.
_PLAIN = re.compile(r"[\w./+:@,=-]+")


def template_text() -> str:
    # daemon/service/shadowlens.service links to systemd/shadowlens.service, so wheels carry the template.
    return resources.files("shadowlens.daemon.service").joinpath(UNIT_NAME).read_text(encoding="utf-8")


def unit_word(text: str, exec_line: bool = False) -> str:
    """``text`` as one word of a unit file setting, quoted only when it has to be.

    Path lists (ReadWritePaths=...), Environment= and Exec lines all split on spaces, honour
    double quotes with backslash escapes, and expand ``%`` specifiers; Exec lines also expand
    ``$VARIABLES``. A line break cannot be written into a unit at all.
    """
    if "\n" in text or "\r" in text:
        raise ValueError(f"{text!r}: a line break cannot be written into a systemd unit")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{text!r}: not valid UTF-8, which a systemd unit must be") from None
    text = text.replace("%", "%%")
    if exec_line:
        text = text.replace("$", "$$")
    if _PLAIN.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _path_list(paths: Iterable[Path], optional: bool = False) -> str:
    # "-" (inside the quotes is fine) makes a missing path not an error.
    return " ".join(unit_word(("-" if optional else "") + str(p)) for p in paths)


def _absolute(path: Path) -> Path:
    # systemd ignores relative paths (with a warning); the config already expanded "~".
    return Path(os.path.abspath(path))


def _unique(paths: Iterable[Path]) -> list[Path]:
    return list(dict.fromkeys(_absolute(p) for p in paths))


def watched_folders(folders: Sequence[FolderSettings | Path]) -> list[Path]:
    return _unique(f.path if isinstance(f, FolderSettings) else f for f in folders)


def safe_copy_folders(folders: Sequence[FolderSettings | Path]) -> list[Path]:
    """The configured ``safe_copies`` folders: the only places outside shadowlens's own files the
    service may write. One that is also a watched folder stays read-only (the daemon never
    copies into the folder it watches)."""
    watched = set(watched_folders(folders))
    twins = _unique(f.safe_copies for f in folders if isinstance(f, FolderSettings) and f.safe_copies)
    return [twin for twin in twins if twin not in watched]


def executable(config_file: Path | None) -> str:
    script = Path(sys.executable).with_name("shadowlens")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "shadowlens.daemon.cli"]
    if config_file is not None:
        command += ["--config", str(config_file.resolve())]
    return " ".join(unit_word(word, exec_line=True) for word in command)


# Kernel settings under which an unprivileged user manager cannot make a user namespace.
_USERNS_REFUSED = {
    "/proc/sys/kernel/unprivileged_userns_clone": ("0", "kernel.unprivileged_userns_clone=0"),
    "/proc/sys/user/max_user_namespaces": ("0", "user.max_user_namespaces=0"),
    "/proc/sys/kernel/apparmor_restrict_unprivileged_userns": (
        "1",
        "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1)",
    ),
}


def user_namespaces_refused(proc: Path = Path("/")) -> str | None:
    """Why this machine would refuse the service's user namespace (and so fail to start it with
    PrivateUsers=yes), or None."""
    for file, (refused, why) in _USERNS_REFUSED.items():
        try:
            if (proc / file.lstrip("/")).read_text().strip() == refused:
                return why
        except OSError:
            continue
    return None


def render(
    paths: AppPaths,
    index: Path,
    folders: Sequence[FolderSettings | Path],
    config_file: Path | None,
    private_users: bool = True,
    cluster_listen: str | None = None,
) -> str:
    """The unit for this config. ``folders`` are the configured folders (a bare Path is a folder
    without safe copies): they are mounted read-only, and each one's safe-copy folder writable.

    Raises ValueError for a path that a unit file cannot hold (a line break in it).
    """
    env = [f"Environment={unit_word(f'{var}={os.environ[var]}')}" for var in XDG_VARS if os.environ.get(var)]
    writable = _unique([paths.data_dir, paths.state_dir, paths.cache_dir, index.parent])
    watched = watched_folders(folders)
    twins = [twin for twin in safe_copy_folders(folders) if twin not in writable]
    text = template_text()
    replacements = {
        "@EXEC@": executable(config_file),
        "@ENVIRONMENT@": "\n".join(env) if env else "# (no XDG overrides)",
        "@WRITABLE@": _path_list(writable),
        "@FOLDERS@": _path_list(watched, optional=True) or "-/nonexistent",
        # systemd cannot mount a missing folder writable, and inside the sandbox the daemon cannot
        # create it; "+" runs this one command outside the sandbox, "-" lets a failure pass.
        "@MAKE_SAFE_COPIES@": (
            "ExecStartPre=-+mkdir -p -m 0700 -- " + " ".join(unit_word(str(t), exec_line=True) for t in twins)
            if twins
            else "# (no safe-copy folders to create)"
        ),
        "@PRIVATE_USERS@": (
            "PrivateUsers=yes"
            if private_users
            else "# PrivateUsers=yes is left out: this kernel refuses the user namespace, so the\n"
            "# settings below are not enforced (see `shadowlens service install`'s warning)."
        ),
        "@NETWORK@": network_lines(cluster_listen),
        "@SAFE_COPIES@": (
            f"ReadWritePaths={_path_list(twins, optional=True)}" if twins else "# (no safe-copy folders)"
        ),
    }
    for key, value in replacements.items():
        text = text.replace(key, value)
    return text


def network_lines(cluster_listen: str | None) -> str:
    """No network at all; with a cluster, the sockets its scheduler and enrolment need."""
    if cluster_listen is None:
        return (
            "# Nothing leaves the machine: no network at all.\n"
            "PrivateNetwork=yes\nIPAddressDeny=any\nRestrictAddressFamilies=AF_UNIX"
        )
    return (
        f"# [cluster] listen = {cluster_listen}: joined workers reach the scheduler and the enrolment\n"
        "# service over TCP (mutual TLS), so the network is not cut off. Nothing else connects out.\n"
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"
    )


def unit_path() -> Path:
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "systemd" / "user" / UNIT_NAME
