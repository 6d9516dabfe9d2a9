"""TensorFlow ops of a TFJS graph model, each rebuilt as ONNX nodes (see ``tfjs.py``).

TF's spatial ops take NHWC tensors (``data_format``), ONNX's take NCHW, so every NHWC op is
wrapped in a Transpose before and after; onnxruntime's transpose optimiser cancels the pairs
that meet, so the saved graph stays a literal, checkable translation. TF's SAME padding puts the
odd pixel after (bottom/right), which is exactly ONNX's ``SAME_UPPER``. Constant integer
inputs (shapes, permutations, paddings) are read at conversion time; weights are only cast
from float16 and re-laid out, never computed on.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper
from shadowlens.models.convert import ConversionError

TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


@dataclass(frozen=True)
class Node:
    name: str
    op: str
    inputs: tuple[str, ...]  # tensor refs: "node" for output 0, "node:k" for output k
    attr: dict[str, Any]


@dataclass
class Builder:
    """The ONNX graph being built, and the values of the constant tensors met so far."""

    constants: dict[str, np.ndarray]
    nodes: list[NodeProto] = field(default_factory=list)
    initializers: dict[str, TensorProto] = field(default_factory=dict)

    def fail(self, node: Node, problem: str) -> ConversionError:
        return ConversionError(f"TFJS node {node.name!r} ({node.op}): {problem}")

    def const(self, node: Node, index: int) -> np.ndarray:
        ref = node.inputs[index] if index < len(node.inputs) else ""
        if ref not in self.constants:
            raise self.fail(node, f"input {index} must be a constant for shadowlens' converter")
        return self.constants[ref]

    def ints(self, node: Node, index: int) -> list[int]:
        return [int(v) for v in self.const(node, index).reshape(-1)]

    def initializer(self, name: str, value: np.ndarray) -> str:
        if name not in self.initializers:
            self.initializers[name] = numpy_helper.from_array(np.ascontiguousarray(value), name)
        return name

    def tensor(self, node: Node, index: int) -> str:
        """The ONNX name of input ``index``; a constant becomes an initializer on first use."""
        ref = node.inputs[index]
        if ref in self.constants:
            value = self.constants[ref]
            if value.dtype == np.int32:  # ONNX wants int64 wherever an integer tensor goes
                value = value.astype(np.int64)
            return self.initializer(ref, value)
        return ref

    def add(self, op: str, inputs: list[str], outputs: list[str], **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, outputs, name=outputs[0], **attrs))
        return outputs[0]


def attr_str(node: Node, key: str, default: str = "") -> str:
    raw = node.attr.get(key, {}).get("s")
    return base64.b64decode(raw).decode() if raw is not None else default


def attr_strs(node: Node, key: str) -> list[str]:
    return [base64.b64decode(s).decode() for s in node.attr.get(key, {}).get("list", {}).get("s", [])]


def attr_ints(node: Node, key: str, default: list[int]) -> list[int]:
    values = node.attr.get(key, {}).get("list", {}).get("i")
    return [int(v) for v in values] if values else default


def attr_float(node: Node, key: str, default: float) -> float:
    return float(node.attr.get(key, {}).get("f", default))


def attr_bool(node: Node, key: str) -> bool:
    return bool(node.attr.get(key, {}).get("b", False))


def _spatial(b: Builder, node: Node) -> tuple[int, int]:
    layout = attr_str(node, "data_format", "NHWC")
    if layout not in ("NHWC", "NCHW"):
        raise b.fail(node, f"data_format {layout!r} is not supported")
    return (1, 2) if layout == "NHWC" else (2, 3)


def _padding(
    b: Builder, node: Node, spatial: tuple[int, int], kernel: list[int], dilations: list[int]
) -> dict[str, Any]:
    mode = attr_str(node, "padding")
    strides = [attr_ints(node, "strides", [1] * 4)[d] for d in spatial]
    if mode == "VALID":
        return {"pads": [0, 0, 0, 0]}
    if mode == "SAME" and strides == [1, 1]:
        # Then the padding does not depend on the input size (and onnxruntime cannot dilate
        # with auto_pad): (k - 1) * d in all, the odd pixel after.
        totals = [(k - 1) * d for k, d in zip(kernel, dilations, strict=True)]
        return {"pads": [t // 2 for t in totals] + [t - t // 2 for t in totals]}
    if mode == "SAME" and dilations == [1, 1]:
        return {"auto_pad": "SAME_UPPER"}
    explicit = attr_ints(node, "explicit_paddings", [])
    if mode == "EXPLICIT" and len(explicit) == 8:
        return {"pads": [explicit[2 * d] for d in spatial] + [explicit[2 * d + 1] for d in spatial]}
    raise b.fail(node, f"padding {mode!r} with strides {strides} and dilations {dilations} is not supported")


def _spatial_op(b: Builder, node: Node, build: Callable[[str, str], None]) -> None:
    """Run ``build(nchw_input, nchw_output)`` on NCHW tensors, transposing an NHWC node around it."""
    if _spatial(b, node) == (2, 3):
        build(b.tensor(node, 0), node.name)
        return
    inner = b.add("Transpose", [b.tensor(node, 0)], [f"{node.name}/nchw_in"], perm=TO_NCHW)
    build(inner, f"{node.name}/nchw_out")
    b.add("Transpose", [f"{node.name}/nchw_out"], [node.name], perm=TO_NHWC)


def _activation(b: Builder, node: Node, name: str, x: str, out: str) -> None:
    if name == "Relu":
        b.add("Relu", [x], [out])
    elif name == "Relu6":
        low = b.initializer("relu6/min", np.array(0.0, np.float32))
        b.add("Clip", [x, low, b.initializer("relu6/max", np.array(6.0, np.float32))], [out])
    elif name == "LeakyRelu":
        alpha = attr_float(node, "leakyrelu_alpha" if "Fused" in node.op else "alpha", 0.2)
        b.add("LeakyRelu", [x], [out], alpha=alpha)
    elif name == "Sigmoid":
        b.add("Sigmoid", [x], [out])
    else:
        raise b.fail(node, f"fused activation {name!r} is not supported")


def conv(b: Builder, node: Node) -> None:
    """Conv2D, DepthwiseConv2dNative and their fused forms (bias and an activation folded in)."""
    spatial = _spatial(b, node)
    depthwise = "Depthwise" in node.op
    fused = attr_strs(node, "fused_ops") if node.op.startswith(("_Fused", "Fused")) else []
    if (fused and fused[0] != "BiasAdd") or len(fused) > 2:
        raise b.fail(node, f"fused ops {fused} are not supported")
    kernel = b.const(node, 1)
    if kernel.ndim != 4:
        raise b.fail(node, f"the filter has shape {list(kernel.shape)}, not [h, w, in, out]")
    height, width, channels, outs = kernel.shape
    if depthwise:  # [h, w, in, multiplier] -> [in * multiplier, 1, h, w], one group per channel
        weight = kernel.reshape(height, width, 1, channels * outs).transpose(3, 2, 0, 1)
    else:  # [h, w, in, out] -> [out, in, h, w]
        weight = kernel.transpose(3, 2, 0, 1)
    inputs_extra = [b.initializer(f"{node.name}/weight", weight)]
    if fused:
        inputs_extra.append(b.initializer(f"{node.name}/bias", b.const(node, 2).reshape(-1)))
    strides = [attr_ints(node, "strides", [1] * 4)[d] for d in spatial]
    dilations = [attr_ints(node, "dilations", [1] * 4)[d] for d in spatial]
    attrs = {
        "kernel_shape": [height, width],
        "strides": strides,
        "dilations": dilations,
        "group": channels if depthwise else 1,
        **_padding(b, node, spatial, [height, width], dilations),
    }

    def build(x: str, out: str) -> None:
        if len(fused) < 2:
            b.add("Conv", [x, *inputs_extra], [out], **attrs)
        else:
            b.add("Conv", [x, *inputs_extra], [f"{node.name}/conv"], **attrs)
            _activation(b, node, fused[1], f"{node.name}/conv", out)

    _spatial_op(b, node, build)


def max_pool(b: Builder, node: Node) -> None:
    spatial = _spatial(b, node)
    size, strides = attr_ints(node, "ksize", []), attr_ints(node, "strides", [])
    if len(size) != 4 or len(strides) != 4:
        raise b.fail(node, "ksize and strides must have 4 values")
    kernel = [size[d] for d in spatial]
    attrs = {
        "kernel_shape": kernel,
        "strides": [strides[d] for d in spatial],
        **_padding(b, node, spatial, kernel, [1, 1]),
    }

    def build(x: str, out: str) -> None:
        b.add("MaxPool", [x], [out], **attrs)

    _spatial_op(b, node, build)


def resize(b: Builder, node: Node) -> None:
    """ResizeBilinear and ResizeNearestNeighbor (always NHWC in TF) to the constant size given."""
    height, width = b.ints(node, 1)
    half_pixel, corners = attr_bool(node, "half_pixel_centers"), attr_bool(node, "align_corners")
    if half_pixel and corners:
        raise b.fail(node, "align_corners and half_pixel_centers together are not supported")
    if node.op == "ResizeBilinear":
        mode = "align_corners" if corners else "half_pixel" if half_pixel else "asymmetric"
        attrs = {"mode": "linear", "coordinate_transformation_mode": mode}
    else:  # TF rounds a corner-aligned source index half away from zero, and floors otherwise
        mode = "align_corners" if corners else "tf_half_pixel_for_nn" if half_pixel else "asymmetric"
        nearest = "round_prefer_ceil" if corners else "floor"
        attrs = {"mode": "nearest", "coordinate_transformation_mode": mode, "nearest_mode": nearest}
    start = b.initializer("resize/start", np.array([0], np.int64))
    end = b.initializer("resize/end", np.array([2], np.int64))
    size = b.initializer(f"{node.name}/size", np.array([height, width], np.int64))

    def build(x: str, out: str) -> None:
        # Only height and width are known; batch and channels come from the tensor at run time.
        shape = b.add("Shape", [x], [f"{node.name}/shape"])
        kept = b.add("Slice", [shape, start, end], [f"{node.name}/batch_channels"])
        sizes = b.add("Concat", [kept, size], [f"{node.name}/sizes"], axis=0)
        b.add("Resize", [x, "", "", sizes], [out], **attrs)

    _spatial_op(b, node, build)


def pad(b: Builder, node: Node) -> None:
    """Pad and PadV2: constant padding, [rank, 2] before/after pairs, PadV2 with its fill value."""
    pairs = b.const(node, 1).astype(np.int64)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise b.fail(node, f"paddings of shape {list(pairs.shape)} are not [rank, 2]")
    pads = b.initializer(f"{node.name}/pads", np.concatenate([pairs[:, 0], pairs[:, 1]]))
    inputs = [b.tensor(node, 0), pads]
    if node.op == "PadV2":
        inputs.append(b.initializer(f"{node.name}/value", b.const(node, 2).astype(np.float32).reshape(())))
    b.add("Pad", inputs, [node.name], mode="constant")


def transpose(b: Builder, node: Node) -> None:
    b.add("Transpose", [b.tensor(node, 0)], [node.name], perm=b.ints(node, 1))


def reshape(b: Builder, node: Node) -> None:
    # TF's 0 means a dimension of size 0, not ONNX's "copy this dimension": allowzero keeps TF's.
    shape = b.initializer(f"{node.name}/shape", np.array(b.ints(node, 1), np.int64))
    b.add("Reshape", [b.tensor(node, 0), shape], [node.name], allowzero=1)


def concat(b: Builder, node: Node) -> None:
    *parts, _axis = range(len(node.inputs))
    b.add("Concat", [b.tensor(node, i) for i in parts], [node.name], axis=b.ints(node, len(parts))[0])


def _outputs(node: Node, count: int) -> list[str]:
    return [node.name] + [f"{node.name}:{k}" for k in range(1, count)]


def split(b: Builder, node: Node) -> None:
    """Split (axis first, equal parts) and SplitV (value, sizes, axis)."""
    count = int(node.attr.get("num_split", {}).get("i", 0))
    if node.op == "Split":
        b.add("Split", [b.tensor(node, 1)], _outputs(node, count), axis=b.ints(node, 0)[0])
        return
    sizes = b.ints(node, 1)
    if any(size < 0 for size in sizes):
        raise b.fail(node, "split sizes inferred from the input shape (-1) are not supported")
    parts = b.initializer(f"{node.name}/sizes", np.array(sizes, np.int64))
    b.add("Split", [b.tensor(node, 0), parts], _outputs(node, len(sizes)), axis=b.ints(node, 2)[0])


def bias_add(b: Builder, node: Node) -> None:
    bias = b.const(node, 1).astype(np.float32)
    # NCHW: the bias runs along axis 1, so it broadcasts as [C, 1, 1]; NHWC as [C].
    bias = bias.reshape(-1, 1, 1) if _spatial(b, node) == (2, 3) else bias.reshape(-1)
    b.add("Add", [b.tensor(node, 0), b.initializer(f"{node.name}/bias", bias)], [node.name])


BINARY = {"Add": "Add", "AddV2": "Add", "Sub": "Sub", "Mul": "Mul"}
FOLD_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "Add": np.add,
    "AddV2": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
}


def binary(b: Builder, node: Node) -> None:
    left, right = (b.constants.get(ref) for ref in node.inputs[:2])
    if left is not None and right is not None and left.dtype.kind == right.dtype.kind == "i":
        # Shape arithmetic left in by the exporter; weights (floats) are never computed on.
        b.constants[node.name] = FOLD_BINARY[node.op](left, right)
        return
    b.add(BINARY[node.op], [b.tensor(node, 0), b.tensor(node, 1)], [node.name])


def sparse_to_dense(b: Builder, node: Node) -> None:
    """Only with constant inputs, as ONNX-to-TF exporters emit it for Reshape's 0 entries."""
    indices, shape, values, default = (b.const(node, i) for i in range(4))
    dense = np.full([int(v) for v in shape.reshape(-1)], default.reshape(()), dtype=values.dtype)
    positions = indices.reshape(-1, 1) if indices.ndim < 2 else indices
    for position, value in zip(positions, np.broadcast_to(values, (len(positions),)), strict=True):
        dense[tuple(int(i) for i in position)] = value
    b.constants[node.name] = dense


def unary(b: Builder, node: Node) -> None:
    if node.op == "Identity" and node.inputs[0] in b.constants:
        b.constants[node.name] = b.constants[node.inputs[0]]
        return
    if node.op == "Identity":
        b.add("Identity", [b.tensor(node, 0)], [node.name])
        return
    _activation(b, node, node.op, b.tensor(node, 0), node.name)


OPS: dict[str, Callable[[Builder, Node], None]] = {
    "Conv2D": conv,
    "_FusedConv2D": conv,
    "DepthwiseConv2dNative": conv,
    "FusedDepthwiseConv2dNative": conv,
    "MaxPool": max_pool,
    "ResizeBilinear": resize,
    "ResizeNearestNeighbor": resize,
    "Pad": pad,
    "PadV2": pad,
    "Transpose": transpose,
    "Reshape": reshape,
    "ConcatV2": concat,
    "Split": split,
    "SplitV": split,
    "BiasAdd": bias_add,
    **{op: binary for op in BINARY},
    "SparseToDense": sparse_to_dense,
    **{op: unary for op in ("Identity", "Relu", "Relu6", "LeakyRelu", "Sigmoid")},
}
