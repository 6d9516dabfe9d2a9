"""Tiny real ONNX graphs with the signatures of models that cannot be had here.

They are real graphs run by real onnxruntime sessions; only the weights are made up, so tests can
check loading, preprocessing, batching and decoding end to end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def mean_colour_projection(
    path: Path,
    side: int,
    outputs: int,
    weight: np.ndarray,
    bias: np.ndarray,
    input_name: str = "input.1",
    batch: int | str = "N",
) -> Path:
    """[batch,3,side,side] -> mean per channel [batch,3] -> @ weight [3,outputs] + bias -> [batch,outputs]."""
    x = helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [batch, 3, side, side])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, outputs])
    nodes = [
        helper.make_node("ReduceMean", [input_name], ["pooled"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["pooled", "weight"], ["projected"]),
        helper.make_node("Add", ["projected", "bias"], ["output"]),
    ]
    initial = [
        numpy_helper.from_array(weight.astype(np.float32), "weight"),
        numpy_helper.from_array(bias.astype(np.float32), "bias"),
    ]
    return _save(helper.make_graph(nodes, "tiny", [x], [y], initial), path)


def arcface_like(path: Path) -> Path:
    """InsightFace recogniser signature: [N,3,112,112] -> [N,512]."""
    rng = np.random.default_rng(7)
    return mean_colour_projection(path, 112, 512, rng.normal(size=(3, 512)), np.zeros(512))


def genderage_like(path: Path, male_logit: float, age: float) -> Path:
    """InsightFace genderage signature: [N,3,96,96] -> [N,3] = two sex logits, then age / 100."""
    return mean_colour_projection(path, 96, 3, np.zeros((3, 3)), np.array([0.0, male_logit, age / 100]))


def yolo_like(path: Path, output: np.ndarray, side: int = 640) -> Path:
    """YOLOv8 signature, [1,3,side,side] -> [1, 4 + classes, anchors], emitting ``output`` for any image."""
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, side, side])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["mean", "shape"], ["flat"]),
        helper.make_node("Mul", ["flat", "zero"], ["nothing"]),
        helper.make_node("Add", ["nothing", "fixed"], ["output0"]),
    ]
    initial = [
        numpy_helper.from_array(np.array([1, 1, 1], dtype=np.int64), "shape"),
        numpy_helper.from_array(np.zeros((1,), dtype=np.float32), "zero"),
        numpy_helper.from_array(output.astype(np.float32), "fixed"),
    ]
    return _save(helper.make_graph(nodes, "tiny_yolo", [x], [y], initial), path)
