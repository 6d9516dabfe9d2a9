"""Keras layers as ONNX nodes: the per-layer builders behind ``keras_h5.convert``.

Each supported Keras layer class has one ``Builder.layer_*`` method that reads the layer's
weights (by variable name, from its ``model_weights`` group) and emits the ONNX nodes that
compute it; any other layer class or activation is refused by name.

Keras works in NHWC; ONNX convolutions work in NCHW. Tensors here are NCHW after the input's one
Transpose, while ``Tensor.shape`` keeps the Keras (H, W, C) order for the shape checks. Kernels
are only rearranged (transposed, reshaped), never computed on, and BatchNormalization stays a
node, so the same file always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from shadowlens.models.convert import ConversionError

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
