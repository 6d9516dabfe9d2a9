"""The systemd user unit's sandbox: the service can write exactly what the config says it writes.

Units are rendered for several configs, checked by ``systemd-analyze --user verify`` and read
back with a small parser of the [Service] section that works out, for any path, whether the
sandbox leaves it writable (the most specific of ProtectSystem=, ProtectHome=, ReadOnlyPaths=
and ReadWritePaths= wins, as in systemd's namespace setup).
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from shadowlens.daemon.config import FolderSettings, parse_config
from shadowlens.daemon.paths import AppPaths
from shadowlens.daemon.service.unit import render, unit_word, user_namespaces_refused

from tests.conftest import Env

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
# A home that does not exist: rendering and verifying never touch the paths in the unit.
HOME = Path("/home/alice")
APP = AppPaths(
    config_file=HOME / ".config/shadowlens/config.toml",
    data_dir=HOME / ".local/share/shadowlens",
    state_dir=HOME / ".local/state/shadowlens",
    cache_dir=HOME / ".cache/shadowlens",
)
OWN_DIRS = [APP.data_dir, APP.state_dir, APP.cache_dir]


# --- A reader of the unit's sandbox ---------------------------------------------------------


def _unspecify(word: str, exec_line: bool = False) -> str:
    """Undo specifier (and, on Exec lines, variable) escaping, which systemd applies after unquoting."""
    word = word.replace("%%", "%")
    return word.replace("$$", "$") if exec_line else word


def service_settings(text: str) -> dict[str, list[str]]:
    """Each [Service] key with its assignments in order (comments and other sections dropped)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        if section == "Service":
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def path_list(assignments: list[str]) -> list[tuple[Path, bool]]:
    """A ReadWritePaths=-style list, accumulated over its lines (an empty one resets it), as
    (path, optional) pairs. systemd unquotes double-quoted words with backslash escapes, as shlex."""
    entries: list[tuple[Path, bool]] = []
    for value in assignments:
        if not value:
            entries = []
            continue
        for word in shlex.split(value):
            word = _unspecify(word)
            optional = word.startswith("-")
            path = Path(word.removeprefix("-"))
            assert path.is_absolute(), f"systemd ignores a relative path: {word!r}"
            entries.append((path, optional))
    return entries


@dataclass
class Sandbox:
    read_write: list[Path]
    read_only: list[Path]
    protect_system: str
    protect_home: str
    settings: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Sandbox:
        settings = service_settings(text)
        return cls(
            read_write=[p for p, _ in path_list(settings.get("ReadWritePaths", []))],
            read_only=[p for p, _ in path_list(settings.get("ReadOnlyPaths", []))],
            protect_system=settings.get("ProtectSystem", ["no"])[-1],
            protect_home=settings.get("ProtectHome", ["no"])[-1],
            settings=settings,
        )

    def writable(self, path: Path) -> bool:
        """Whether the service may write ``path``: the deepest rule above it decides."""
        rules: list[tuple[Path, bool]] = []
        if self.protect_system == "strict":
            rules.append((Path("/"), False))
        elif self.protect_system in ("yes", "true", "full"):
            rules.append((Path("/usr"), False))
        if self.protect_home in ("read-only", "yes", "true", "tmpfs"):
            rules += [(Path(p), False) for p in ("/home", "/root", "/run/user")]
        rules += [(p, False) for p in self.read_only] + [(p, True) for p in self.read_write]
        above = [(p, rw) for p, rw in rules if path.is_relative_to(p)]
        if not above:
            return True
        deepest = max(len(p.parts) for p, _ in above)
        decisions = {rw for p, rw in above if len(p.parts) == deepest}
        assert len(decisions) == 1, f"{path}: read-only and writable at the same depth"
        return decisions.pop()

    def created_at_start(self) -> list[Path]:
        """The folders the unit's ExecStartPre= mkdir makes (outside the sandbox) before the daemon starts."""
        folders: list[Path] = []
        for value in self.settings.get("ExecStartPre", []):
            words = [_unspecify(w, exec_line=True) for w in shlex.split(value)]
            assert words[0] == "-+mkdir" and words[1:5] == ["-p", "-m", "0700", "--"], value
            folders += [Path(w) for w in words[5:]]
        return folders


def verify(unit: Path, runtime: Path) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze --user verify``: the unit as the user manager would load it."""
    assert SYSTEMD_ANALYZE is not None
    runtime.mkdir(mode=0o700, exist_ok=True)
    return subprocess.run(
        [SYSTEMD_ANALYZE, "--user", "verify", str(unit)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )


needs_analyze = pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")


# --- The configs ----------------------------------------------------------------------------


@dataclass
class Case:
    toml: str
    watched: list[Path]
    safe_copies: list[Path]
    index_dir: Path = APP.data_dir


CASES = {
    "no-safe-copies": Case(
        '[library]\nfolders = ["~/Pictures"]\n',
        watched=[HOME / "Pictures"],
        safe_copies=[],
    ),
    # The README's own example: the safe copies live inside the read-only photo folder.
    "readme-safe-copies-inside": Case(
        '[library]\nfolders = [{ path = "~/Pictures", safe_copies = "~/Pictures/Safe" }]\n',
        watched=[HOME / "Pictures"],
        safe_copies=[HOME / "Pictures/Safe"],
    ),
    "two-folders-safe-copies-outside": Case(
        "[library]\nfolders = [\n"
        '  { path = "~/Pictures", safe_copies = "~/Shared/Pictures" },\n'
        '  { path = "/media/alice/Camera", safe_copies = "~/Shared/Camera" },\n'
        '  "~/Scans",\n'
        "]\n",
        watched=[HOME / "Pictures", Path("/media/alice/Camera"), HOME / "Scans"],
        safe_copies=[HOME / "Shared/Pictures", HOME / "Shared/Camera"],
    ),
    "paths-with-spaces-and-specials": Case(
        "[library]\nfolders = [\n"
        '  { path = "~/My Photos/Holiday 2024", safe_copies = "~/My Photos/Holiday 2024/Safe to share" },\n'
        '  { path = "~/Phone", safe_copies = "~/Share \\"for mum\\" 100% O\'Brien" },\n'
        "]\n",
        watched=[HOME / "My Photos/Holiday 2024", HOME / "Phone"],
        safe_copies=[HOME / "My Photos/Holiday 2024/Safe to share", HOME / 'Share "for mum" 100% O\'Brien'],
    ),
    "index-elsewhere": Case(
        '[index]\npath = "/srv/shadowlens index/alice.sqlite3"\n'
        '[library]\nfolders = [{ path = "~/Pictures", safe_copies = "~/Pictures/Safe" }]\n',
        watched=[HOME / "Pictures"],
        safe_copies=[HOME / "Pictures/Safe"],
        index_dir=Path("/srv/shadowlens index"),
    ),
}


def render_case(case: Case, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HOME", str(HOME))
    config = parse_config(tomllib.loads(case.toml), "config.toml")
    return render(APP, config.index_path(APP), config.library.folders, APP.config_file)


@needs_analyze
@pytest.mark.parametrize("name", list(CASES))
def test_rendered_unit_verifies_and_writes_only_its_own_dirs_and_the_safe_copy_folders(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[name]
    unit = tmp_path / "shadowlens.service"
    unit.write_text(render_case(case, monkeypatch), encoding="utf-8")
    proc = verify(unit, tmp_path / "runtime")
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr

    sandbox = Sandbox.parse(unit.read_text(encoding="utf-8"))
    assert sandbox.protect_system == "strict" and sandbox.protect_home == "read-only"
    # Write access: shadowlens's own folders, the index's folder, each safe-copy folder; no more.
    assert set(sandbox.read_write) == {*OWN_DIRS, case.index_dir, *case.safe_copies}
    for folder in [*OWN_DIRS, case.index_dir]:
        assert sandbox.writable(folder / "some-file"), folder
    for twin in case.safe_copies:
        assert sandbox.writable(twin) and sandbox.writable(twin / "2024/06/IMG_0001.jpg"), twin
    # Every watched folder is read-only, including where its safe-copy folder sits inside it.
    assert set(sandbox.read_only) == set(case.watched)
    for folder in case.watched:
        assert not sandbox.writable(folder) and not sandbox.writable(folder / "IMG_0001.jpg"), folder
        assert not sandbox.writable(folder / "2024/Saferoom/IMG_0002.jpg"), folder
    # Nothing else of the home: not the home itself, its config, keys, documents, the unit.
    for other in [
        HOME,
        HOME / ".ssh/authorized_keys",
        HOME / ".bashrc",
        HOME / "Documents/letter.odt",
        HOME / ".config/shadowlens/config.toml",
        HOME / ".config/systemd/user/shadowlens.service",
        HOME / ".local/share/other-app/data.db",
        HOME / "Shared",
        Path("/etc/passwd"),
        Path("/srv/elsewhere"),
    ]:
        assert not sandbox.writable(other), other
    # systemd cannot mount a missing folder writable: each safe-copy folder is made before the start.
    assert sandbox.created_at_start() == case.safe_copies
    # Missing photo or safe-copy folders must not stop the service; its own folders always exist.
    settings = service_settings(unit.read_text(encoding="utf-8"))
    optional = dict(path_list(settings["ReadWritePaths"]))
    assert all(optional[t] for t in case.safe_copies) and not any(optional[d] for d in OWN_DIRS)
    assert all(optional for _, optional in path_list(settings["ReadOnlyPaths"]))
    # A user manager applies the sandbox only inside a user namespace.
    assert settings["PrivateUsers"] == ["yes"]


@needs_analyze
def test_verify_and_the_parser_catch_an_unquoted_space_and_a_missing_safe_copy_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks above can fail: the unit this issue was about, and a path split at its space."""
    text = render_case(CASES["readme-safe-copies-inside"], monkeypatch)
    before_fix = "\n".join(
        line for line in text.splitlines() if line != f"ReadWritePaths=-{HOME / 'Pictures/Safe'}"
    )
    assert not Sandbox.parse(before_fix).writable(HOME / "Pictures/Safe/IMG_0001.jpg")

    text = render_case(CASES["paths-with-spaces-and-specials"], monkeypatch)
    assert '"-/home/alice/My Photos/Holiday 2024"' in text
    unit = tmp_path / "shadowlens.service"
    unit.write_text(
        text.replace('"-/home/alice/My Photos/Holiday 2024"', "-/home/alice/My Photos/Holiday 2024")
    )
    proc = verify(unit, tmp_path / "runtime")
    assert "path is not absolute" in proc.stderr, proc.stderr


def test_a_safe_copy_folder_that_is_a_watched_folder_stays_read_only() -> None:
    folders = [FolderSettings(path=HOME / "Pictures", safe_copies=HOME / "Pictures")]
    sandbox = Sandbox.parse(render(APP, APP.index_file, folders, None))
    assert not sandbox.writable(HOME / "Pictures/IMG_0001.jpg")
    assert set(sandbox.read_write) == set(OWN_DIRS) and sandbox.created_at_start() == []


def test_bare_paths_still_render_as_read_only_folders_without_safe_copies() -> None:
    sandbox = Sandbox.parse(render(APP, APP.index_file, [HOME / "Pictures", HOME / "Camera"], None))
    assert sandbox.read_only == [HOME / "Pictures", HOME / "Camera"]
    assert set(sandbox.read_write) == set(OWN_DIRS)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("/home/alice/Pictures", "/home/alice/Pictures"),
        ("-/home/alice/My Photos", '"-/home/alice/My Photos"'),
        ("/a/100%", '"/a/100%%"'),
        ('/a/"quoted" back\\slash', '"/a/\\"quoted\\" back\\\\slash"'),
    ],
)
def test_unit_words_are_quoted_and_escaped_for_systemd(text: str, word: str) -> None:
    assert unit_word(text) == word
    assert [_unspecify(w) for w in shlex.split(word)] == [text]


def test_a_path_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError, match="line break"):
        unit_word("/home/alice/two\nlines")
    assert unit_word("/a/$HOME", exec_line=True) == '"/a/$$HOME"'


# --- `shadowlens service install` -----------------------------------------------------------


def _fake_systemctl(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "systemctl"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "calls.txt"}\nexit 0\n')
    fake.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_service_install_creates_each_missing_safe_copy_folder_private_and_says_so(
    env: Env, tmp_path: Path
) -> None:
    pictures, existing = env.root / "Pictures", env.root / "Public share"
    pictures.mkdir(parents=True)
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    inside, nested = pictures / "Safe", env.root / "Shared" / "from phone"
    env.write_config(
        "[library]\nfolders = [\n"
        f'  {{ path = "{pictures}", safe_copies = "{inside}" }},\n'
        f'  {{ path = "{env.root / "Phone"}", safe_copies = "{nested}" }},\n'
        f'  {{ path = "{env.root / "Scans"}", safe_copies = "{existing}" }},\n'
        "]\n"
    )
    path = _fake_systemctl(tmp_path)

    dry = env.run("service", "install", "--dry-run", extra_env=path)
    assert f"would create safe-copy folder: {inside} (mode 0700)" in dry.stderr
    assert f"would create safe-copy folder: {nested} (mode 0700)" in dry.stderr
    assert f"would create safe-copy folder: {existing}" not in dry.stderr
    assert not inside.exists() and not nested.exists() and not (tmp_path / "calls.txt").exists()

    proc = env.run("service", "install", extra_env=path)
    for twin in (inside, nested, nested.parent):
        assert twin.is_dir() and stat.S_IMODE(twin.stat().st_mode) == 0o700, twin
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755, "an existing folder of the user's is left alone"
    assert f"created safe-copy folder: {inside} (mode 0700)" in proc.stderr
    assert f"created safe-copy folder: {nested} (mode 0700)" in proc.stderr
    assert f"created safe-copy folder: {existing}" not in proc.stderr
    # The folders exist before systemd is asked to start the unit that mounts them writable.
    assert (tmp_path / "calls.txt").read_text().splitlines() == [
        "--user daemon-reload",
        "--user enable --now shadowlens.service",
    ]
    sandbox = Sandbox.parse((env.root / "config/systemd/user/shadowlens.service").read_text())
    for twin in (inside, nested, existing):
        assert sandbox.writable(twin / "IMG_0001.jpg"), twin
    assert not sandbox.writable(pictures / "IMG_0001.jpg")


def test_service_install_refuses_a_safe_copy_path_that_is_a_file_or_has_a_line_break(
    env: Env, tmp_path: Path
) -> None:
    path = _fake_systemctl(tmp_path)
    blocker = env.root / "not-a-folder"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("")
    env.write_config(
        f'[library]\nfolders = [{{ path = "{env.root}/Pictures", safe_copies = "{blocker}" }}]\n'
    )
    proc = env.run("service", "install", check=False, extra_env=path)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"shadowlens: safe-copy folder {blocker} exists but is not a folder"
    )
    assert not (tmp_path / "calls.txt").exists()

    env.write_config(f'[library]\nfolders = [{{ path = "{env.root}/Pictures", safe_copies = "/a\\nb" }}]\n')
    proc = env.run("service", "install", check=False, extra_env=path)
    assert proc.returncode == 1 and "cannot write the unit" in proc.stderr and "line break" in proc.stderr
    assert not (env.root / "config/systemd/user/shadowlens.service").exists()


@needs_analyze
def test_without_user_namespaces_the_unit_still_starts_and_says_the_sandbox_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc_root = tmp_path / "proc-root"
    sysctl = proc_root / "proc/sys/kernel/apparmor_restrict_unprivileged_userns"
    sysctl.parent.mkdir(parents=True)
    sysctl.write_text("0\n")
    assert user_namespaces_refused(proc_root) is None
    sysctl.write_text("1\n")  # Ubuntu 24.04's default
    assert "AppArmor" in (user_namespaces_refused(proc_root) or "")
    monkeypatch.setenv("HOME", str(HOME))
    text = render(APP, APP.index_file, [HOME / "Pictures"], None, private_users=False)
    unit = tmp_path / "shadowlens.service"
    unit.write_text(text, encoding="utf-8")
    proc = verify(unit, tmp_path / "runtime")
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    assert "PrivateUsers" not in service_settings(text) and "not enforced" in text


@needs_analyze
def test_the_unit_has_no_network_unless_a_cluster_listens(tmp_path: Path) -> None:
    alone = service_settings(render(APP, APP.index_file, [HOME / "Pictures"], None))
    assert alone["PrivateNetwork"] == ["yes"] and alone["IPAddressDeny"] == ["any"]
    assert alone["RestrictAddressFamilies"] == ["AF_UNIX"]
    text = render(APP, APP.index_file, [HOME / "Pictures"], None, cluster_listen="0.0.0.0:8786")
    unit = tmp_path / "shadowlens.service"
    unit.write_text(text, encoding="utf-8")
    proc = verify(unit, tmp_path / "runtime")
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr
    served = service_settings(text)
    assert "PrivateNetwork" not in served and "IPAddressDeny" not in served
    assert served["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert "0.0.0.0:8786" in text  # the comment says why the network is open
