"""The TFJS ops that depend on the tensor layout: convolutions, pooling, resizing, bias.

TF's spatial ops take NHWC tensors (``data_format``), ONNX's take NCHW, so every NHWC op is
wrapped in a Transpose before and after; onnxruntime's transpose optimiser cancels the pairs
that meet, so the saved graph stays a literal, checkable translation. TF's SAME padding puts the
odd pixel after (bottom/right), which is exactly ONNX's ``SAME_UPPER``. Filters are only cast
from float16 and re-laid out, never computed on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from shadowlens.models.convert.tfjs_builder import (
    Builder,
    Node,
    attr_bool,
    attr_float,
    attr_ints,
    attr_str,
    attr_strs,
)

TO_NCHW, TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


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


def activation(b: Builder, node: Node, name: str, x: str, out: str) -> None:
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
            activation(b, node, fused[1], f"{node.name}/conv", out)

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


def bias_add(b: Builder, node: Node) -> None:
    bias = b.const(node, 1).astype(np.float32)
    # NCHW: the bias runs along axis 1, so it broadcasts as [C, 1, 1]; NHWC as [C].
    bias = bias.reshape(-1, 1, 1) if _spatial(b, node) == (2, 3) else bias.reshape(-1)
    b.add("Add", [b.tensor(node, 0), b.initializer(f"{node.name}/bias", bias)], [node.name])
