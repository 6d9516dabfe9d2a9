"""Convert a TensorFlow.js graph model (``model.json`` plus weight shards) to ONNX, without TensorFlow.

A graph model's JSON holds the TF graph (``modelTopology.node``: name, op, inputs, attrs) and a
``weightsManifest``: groups of shard ``paths`` whose concatenated bytes hold the group's
``weights`` in order, each {name, shape, dtype} and optionally ``quantization``. Float32 and
float16-quantised weights are read (float16 is widened to float32, which is exact); affine
uint8/uint16 quantisation would need float arithmetic on the weights and is refused.

Every reachable node is translated one to one by ``tfjs_ops.OPS``; an op not listed there stops
the conversion with one line naming it. Dense detection heads of the shape NanoDet has
([1, cells, channels] per stride, the class scores behind a Sigmoid) get names that say what they
are (``scores_8``, ``boxes_8``, ...); any other output keeps its TF name.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper
from shadowlens.models.convert import OPSET, ConversionError, finish_model
from shadowlens.models.convert.tfjs_ops import OPS, Builder, Node

DTYPES: dict[str, type[np.generic]] = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
# Ops that only move or relabel values: followed backwards to see what computed an output.
PASS_THROUGH = {"Identity", "Transpose", "Reshape"}


def _document(members: Mapping[str, Path]) -> tuple[str, dict[str, Any]]:
    found = sorted(name for name in members if name.endswith(".json"))
    if len(found) != 1:
        raise ConversionError(f"expected one TFJS model .json among the members, found {found or 'none'}")
    try:
        document = json.loads(members[found[0]].read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConversionError(f"{found[0]} is not readable JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("modelTopology", {}).get("node"), list):
        raise ConversionError(f"{found[0]} is not a TensorFlow.js graph model (no modelTopology.node)")
    return found[0], document


def read_weights(document: dict[str, Any], members: Mapping[str, Path]) -> dict[str, np.ndarray]:
    """Every weight of the manifest by name, float16 widened to float32."""
    weights: dict[str, np.ndarray] = {}
    for group in document.get("weightsManifest", []):
        paths = [str(p) for p in group.get("paths", [])]
        missing = [p for p in paths if Path(p).name not in members]
        if missing:
            raise ConversionError(f"weight shard {missing[0]!r} named in the model is not among the members")
        data = b"".join(members[Path(p).name].read_bytes() for p in paths)
        offset = 0
        for entry in group.get("weights", []):
            name, shape = str(entry["name"]), [int(d) for d in entry.get("shape", [])]
            if any(d < 0 for d in shape):
                raise ConversionError(f"weight {name!r} has the impossible shape {shape}")
            quantised = entry.get("quantization", {}).get("dtype")
            if quantised not in (None, "float16"):
                raise ConversionError(
                    f"weight {name!r} uses {quantised} quantization, which shadowlens' converter does not support"
                )
            if entry.get("dtype") not in DTYPES:
                raise ConversionError(
                    f"weight {name!r} has dtype {entry.get('dtype')!r}, which is not supported"
                )
            stored = np.dtype(np.float16 if quantised else DTYPES[entry["dtype"]]).newbyteorder("<")
            count = math.prod(shape)
            end = offset + count * stored.itemsize
            if end > len(data):
                raise ConversionError(
                    f"weight shard(s) {', '.join(paths)} hold {len(data)} bytes, too few for weight {name!r}"
                    f" (which ends at byte {end}): truncated or the wrong file"
                )
            array = np.frombuffer(data, dtype=stored, count=count, offset=offset).reshape(shape)
            weights[name] = array.astype(np.float32 if quantised else stored.newbyteorder("="))
            offset = end
        if offset != len(data):
            raise ConversionError(
                f"weight shard(s) {', '.join(paths)} hold {len(data) - offset} bytes past the last weight"
            )
    return weights


def _node_name(ref: str) -> str:
    return ref.split(":", 1)[0]


def _parse(raw: list[dict[str, Any]]) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for item in raw:
        inputs = tuple(
            ref[:-2] if ref.endswith(":0") else ref
            for ref in item.get("input", [])
            if not ref.startswith("^")
        )
        nodes[item["name"]] = Node(item["name"], item["op"], inputs, item.get("attr", {}))
    return nodes


def _order(nodes: dict[str, Node], outputs: list[str]) -> list[Node]:
    """The nodes the outputs depend on, each after its inputs (the JSON's order is arbitrary)."""
    ordered: list[Node] = []
    done: set[str] = set()
    open_: set[str] = set()  # expanded, waiting for its inputs: met again, it is a cycle
    stack: list[tuple[str, bool]] = [(_node_name(ref), False) for ref in reversed(outputs)]
    while stack:
        name, expanded = stack.pop()
        if name in done:
            continue
        if name not in nodes:
            raise ConversionError(f"the TFJS graph refers to a node {name!r} it does not define")
        if expanded:
            done.add(name)
            ordered.append(nodes[name])
            continue
        if name in open_:
            raise ConversionError(f"the TFJS graph has a cycle through node {name!r}")
        open_.add(name)
        stack.append((name, True))
        stack.extend(
            (_node_name(ref), False) for ref in reversed(nodes[name].inputs) if _node_name(ref) not in done
        )
    return ordered


def _dims(shape: dict[str, Any]) -> list[int | None]:
    return [int(d["size"]) if int(d.get("size", -1)) >= 0 else None for d in shape.get("dim", [])]


def _head_names(
    nodes: dict[str, Node], outputs: dict[str, list[int | None]], side: int | None
) -> dict[str, str]:
    """``scores_<stride>`` / ``boxes_<stride>`` for each output shaped like a dense detection
    head's ([1, cells, channels], cells a square grid over the square input)."""
    names: dict[str, str] = {}
    for ref, dims in outputs.items():
        grid = math.isqrt(dims[1]) if len(dims) == 3 and dims[1] else 0
        if not side or not grid or grid * grid != dims[1] or side % grid:
            continue
        node = nodes[_node_name(ref)]
        while node.op in PASS_THROUGH and node.inputs:
            node = nodes[_node_name(node.inputs[0])]
        names[ref] = f"{'scores' if node.op == 'Sigmoid' else 'boxes'}_{side // grid}"
    return names if len(set(names.values())) == len(names) else {}


def _signature_outputs(document: dict[str, Any], nodes: dict[str, Node]) -> dict[str, list[int | None]]:
    """The graph's outputs and their shapes: the signature's, else every node nothing reads
    (constants aside), shape unknown."""
    signature = document.get("signature", {}).get("outputs", {})
    if signature:
        return {
            ref[:-2] if ref.endswith(":0") else ref: _dims(spec.get("tensorShape", {}))
            for ref, spec in signature.items()
        }
    read = {_node_name(ref) for node in nodes.values() for ref in node.inputs}
    return {n: [] for n, node in nodes.items() if n not in read and node.op != "Const"}


def convert(members: Mapping[str, Path]) -> onnx.ModelProto:
    """The ONNX model of the TFJS graph model among ``members`` (its .json and weight shards)."""
    source, document = _document(members)
    try:
        weights = read_weights(document, members)
        nodes = _parse(document["modelTopology"]["node"])
    except (KeyError, TypeError, ValueError, AttributeError, OSError) as exc:
        raise ConversionError(f"{source} is malformed ({type(exc).__name__}: {exc})") from None
    output_dims = _signature_outputs(document, nodes)
    output_refs = sorted(output_dims)
    builder = Builder(constants={})
    inputs: list[onnx.ValueInfoProto] = []
    side: int | None = None
    for node in _order(nodes, output_refs):
        if node.op == "Const":
            if node.name not in weights:
                raise ConversionError(f"TFJS constant {node.name!r} has no entry in the weights manifest")
            builder.constants[node.name] = weights[node.name]
        elif node.op == "Placeholder":
            if node.attr.get("dtype", {}).get("type", "DT_FLOAT") != "DT_FLOAT":
                raise ConversionError(f"TFJS input {node.name!r} is not float32")
            dims = _dims(node.attr.get("shape", {}).get("shape", {}))
            square = [a for a, b in itertools.pairwise(dims[1:]) if a and a == b]
            side = side or (square[-1] if len(dims) == 4 and square else None)
            inputs.append(helper.make_tensor_value_info(node.name, TensorProto.FLOAT, dims or None))
        elif node.op in OPS:
            try:
                OPS[node.op](builder, node)
            except (IndexError, KeyError, TypeError, ValueError) as exc:
                raise ConversionError(f"TFJS node {node.name!r} ({node.op}) is malformed: {exc}") from None
        else:
            raise ConversionError(
                f"TFJS op {node.op!r} (node {node.name!r}) is not supported by shadowlens' converter"
            )
    renamed = _head_names(nodes, output_dims, side)
    outputs = []
    for ref in output_refs:
        name = renamed.get(ref, ref)
        if ref in builder.constants:
            raise ConversionError(f"TFJS output {ref!r} is a constant; nothing to convert")
        if name != ref:
            builder.add("Identity", [ref], [name])
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, output_dims.get(ref) or None))
    outputs.sort(key=lambda value: value.name)
    graph = helper.make_graph(
        builder.nodes, Path(source).stem, inputs, outputs, initializer=list(builder.initializers.values())
    )
    _infer_missing_shapes(graph)
    return finish_model(graph)


def _infer_missing_shapes(graph: onnx.GraphProto) -> None:
    """Outputs the signature gives no shape for get the one onnx infers (ONNX requires one)."""
    missing = [o for o in graph.output if not o.type.tensor_type.HasField("shape")]
    if not missing:
        return
    probe = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    inferred = onnx.shape_inference.infer_shapes(probe).graph
    known = {value.name: value for value in [*inferred.value_info, *inferred.output]}
    for output in missing:
        found = known.get(output.name)
        if found is None or not found.type.tensor_type.HasField("shape"):
            raise ConversionError(f"the shape of TFJS output {output.name!r} is neither given nor inferable")
        output.CopyFrom(found)
