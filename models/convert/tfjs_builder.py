"""The pieces every TFJS op translation shares (see ``tfjs_ops`` and ``tfjs_spatial_ops``).

``Node`` is one node of the TF graph as the model JSON lists it; ``Builder`` is the ONNX graph
being built, with the values of the constant tensors met so far, so that ops can read shapes,
permutations and paddings at conversion time. The model JSON keeps TF's attributes in protobuf's
JSON form (strings base64-encoded, lists under ``list``); the ``attr_*`` helpers read them with
TF's defaults.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper
from shadowlens.models.convert import ConversionError


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
