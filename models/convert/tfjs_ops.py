"""TensorFlow ops of a TFJS graph model, each rebuilt as ONNX nodes (see ``tfjs.py``).

``OPS`` maps each supported TF op to its translation. The shape and arithmetic ops are here; the
layout-dependent ones (convolutions, pooling, resizing, bias) are in ``tfjs_spatial_ops``.
Constant integer inputs (shapes, permutations, paddings) are read at conversion time; weights
are only cast from float16 and re-laid out, never computed on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from shadowlens.models.convert.tfjs_builder import Builder, Node
from shadowlens.models.convert.tfjs_spatial_ops import activation, bias_add, conv, max_pool, resize

# tfjs.py takes the graph's Builder and Node from here, beside the table that uses them.
__all__ = ["OPS", "Builder", "Node"]


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
    activation(b, node, node.op, b.tensor(node, 0), node.name)


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
