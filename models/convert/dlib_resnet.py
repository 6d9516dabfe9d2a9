"""dlib's face recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) to ONNX.

The network is ``anet_type`` of dlib's examples/dnn_face_recognition_ex.cpp: a 150x150 RGB
chip, a 7x7/2 convolution with 32 filters, affine, relu, 3x3/2 max pooling, 14 residual blocks
in five levels (32, 64, 128, 256, 256 filters; the first block of each level but the 32 one
halves the size), a global average, and a 128-output fully connected layer without bias. Each
block is conv 3x3, affine, relu, conv 3x3, affine, added to the block's input, relu; ``affine``
is dlib's batch normalisation frozen into a per-channel scale and shift. A downsampling block
adds its 2x2/2 average-pooled input instead, and ``add_prev`` adds tensors of different shapes
by padding the smaller one with zeros at the end of each axis (channels 32 -> 64 and so on,
and in the two 256 levels a 3x3 block output to its 4x4 pooled input, then 1x1 to 2x2): the
graph pads the same way.

The graph takes the chip as dlib's ``get_face_chip`` returns it, [N, 150, 150, 3] RGB 0-255 as
float, and subtracts dlib's mean colour and divides by 256 itself, as input_rgb_image_sized
does. Weights are only rearranged, never computed on, so the same file gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from shadowlens.models.convert import ConversionError, finish_model
from shadowlens.models.convert.dlib_dnn import Layer, Wrapper, read_network

if TYPE_CHECKING:
    import onnx

MEMBER = "dlib_face_recognition_resnet_model_v1.dat"
INPUT, OUTPUT = "chips", "descriptors"


def _block() -> list[Wrapper]:
    """tag1<x>, then conv, affine, relu, conv, affine (the strides are in the file)."""
    return [Wrapper("tag", 1), Wrapper("con"), Wrapper("affine"), Wrapper("relu"),
            Wrapper("con"), Wrapper("affine")]  # fmt: skip


def ares() -> list[Wrapper]:
    """relu<add_prev1<block<tag1<x>>>>: the block's output plus its input."""
    return [*_block(), Wrapper("add_prev", 1), Wrapper("relu")]


def ares_down() -> list[Wrapper]:
    """relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<stride 2, tag1<x>>>>>>>."""
    return [*_block(), Wrapper("tag", 2), Wrapper("skip", 1), Wrapper("avg_pool"),
            Wrapper("add_prev", 2), Wrapper("relu")]  # fmt: skip


def face_layout() -> list[Wrapper]:
    """anet_type from the input upwards; levels 4 to 0 have 3, 1+3, 1+2, 1+2 and 1 blocks."""
    stem = [Wrapper("con"), Wrapper("affine"), Wrapper("relu"), Wrapper("max_pool")]
    levels = ares() * 3 + ares_down() + ares() * 3 + ares_down() + ares() * 2
    levels += ares_down() + ares() * 2 + ares_down()
    return [*stem, *levels, Wrapper("avg_pool"), Wrapper("fc")]


def _pool_size(size: int, window: int, stride: int, padding: int) -> int:
    return 1 + (size + 2 * padding - window) // stride


class GraphBuilder:
    """Emits ONNX nodes for dlib layers while tracking each tensor's (C, H, W) shape."""

    def __init__(self) -> None:
        from onnx import helper

        self.helper = helper
        self.nodes: list[Any] = []
        self.initialisers: list[Any] = []
        self.shapes: dict[str, tuple[int, int, int]] = {}

    def node(self, op: str, inputs: list[str], shape: tuple[int, ...], **attrs: Any) -> str:
        out = f"{op.lower()}_{len(self.nodes)}"
        self.nodes.append(self.helper.make_node(op, inputs, [out], name=out, **attrs))
        if len(shape) == 3:
            self.shapes[out] = (shape[0], shape[1], shape[2])
        return out

    def constant(self, array: NDArray[Any], dtype: Any = np.float32) -> str:
        from onnx import numpy_helper

        name = f"w_{len(self.initialisers)}"
        self.initialisers.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype), name))
        return name

    def layer(self, x: str, layer: Layer, tags: dict[int, str]) -> str:
        c, h, w = self.shapes[x]
        p = layer.params
        if layer.kind == "con":
            weight = p["weight"]
            if weight.shape[1] != c:
                raise ConversionError(f"a convolution of {weight.shape[1]} channels gets {c}")
            (kh, kw), (sy, sx), (py, px) = weight.shape[2:], p["stride"], p["padding"]
            shape = (weight.shape[0], _pool_size(h, kh, sy, py), _pool_size(w, kw, sx, px))
            inputs = [x, self.constant(weight), self.constant(p["bias"])]
            return self.node(
                "Conv", inputs, shape, kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px]
            )
        if layer.kind == "affine":
            if p["gamma"].size != c:
                raise ConversionError(f"an affine layer of {p['gamma'].size} channels gets {c}")
            scaled = self.node("Mul", [x, self.constant(p["gamma"].reshape(c, 1, 1))], (c, h, w))
            return self.node("Add", [scaled, self.constant(p["beta"].reshape(c, 1, 1))], (c, h, w))
        if layer.kind == "relu":
            return self.node("Relu", [x], (c, h, w))
        if layer.kind == "add_prev":
            return self.add_padded(x, tags[layer.tag])
        if layer.kind in ("max_pool", "avg_pool"):
            return self.pool(x, layer)
        raise ConversionError(f"layer {layer.kind} cannot sit inside the network")

    def pool(self, x: str, layer: Layer) -> str:
        c, h, w = self.shapes[x]
        (nr, nc), (sy, sx), (py, px) = layer.params["window"], layer.params["stride"], layer.params["padding"]
        if layer.kind == "avg_pool" and nr == nc == 0:  # avg_pool_everything: the whole plane
            return self.node("GlobalAveragePool", [x], (c, 1, 1))
        if py or px:  # dlib's padded average divides by the window inside the image only
            raise ConversionError(f"{layer.kind} with padding {(py, px)} is not supported")
        op = "MaxPool" if layer.kind == "max_pool" else "AveragePool"
        shape = (c, _pool_size(h, nr, sy, 0), _pool_size(w, nc, sx, 0))
        return self.node(op, [x], shape, kernel_shape=[nr, nc], strides=[sy, sx])

    def add_padded(self, a: str, b: str) -> str:
        """dlib's add of two tensors: the larger of each axis, the smaller one zero-padded at its end."""
        big = tuple(max(i, j) for i, j in zip(self.shapes[a], self.shapes[b], strict=True))
        padded = [self.pad(t, big) for t in (a, b)]
        return self.node("Add", padded, big)

    def pad(self, x: str, shape: tuple[int, ...]) -> str:
        short = [big - have for big, have in zip(shape, self.shapes[x], strict=True)]
        if not any(short):
            return x
        pads = self.constant(np.array([0, 0, 0, 0, 0, *short], dtype=np.int64), np.int64)
        return self.node("Pad", [x, pads], shape, mode="constant")


def build_graph(header: Mapping[str, Any], layers: list[Layer], title: str) -> onnx.GraphProto:
    """The graph of a parsed net: input [N, H, W, 3] RGB 0-255, output [N, outputs]."""
    from onnx import TensorProto, helper

    g = GraphBuilder()
    height, width = header["size"]
    mean = g.constant(np.array(header["mean_rgb"], dtype=np.float32))
    # (pixel - mean) / 256 exactly as dlib: a power of two, so multiplying by 1/256 is the same.
    centred = g.node("Sub", [INPUT, mean], ())
    scaled = g.node("Mul", [centred, g.constant(np.array(1 / 256, dtype=np.float32))], ())
    x = g.node("Transpose", [scaled], (3, height, width), perm=[0, 3, 1, 2])
    tags: dict[int, str] = {}
    for index, layer in enumerate(layers):
        if layer.kind == "tag":
            tags[layer.tag] = x
        elif layer.kind == "skip":
            x = tags[layer.tag]
        elif layer.kind == "fc":
            if index != len(layers) - 1:
                raise ConversionError("a fully connected layer before the network's last layer")
            weight, bias = layer.params["weight"], layer.params["bias"]
            if weight.shape[0] != np.prod(g.shapes[x]):
                raise ConversionError(f"fc of {weight.shape[0]} inputs after a {g.shapes[x]} tensor")
            flat = g.node("Flatten", [x], (), axis=1)
            x = g.node("MatMul", [flat, g.constant(weight)], ())
            if bias is not None:
                x = g.node("Add", [x, g.constant(bias)], ())
        else:
            x = g.layer(x, layer, tags)
    if not layers or layers[-1].kind != "fc":
        raise ConversionError("the network does not end in a fully connected layer")
    outputs = int(layers[-1].params["weight"].shape[1])
    g.nodes.append(helper.make_node("Identity", [x], [OUTPUT], name=OUTPUT))
    source = helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", height, width, 3])
    result = helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["N", outputs])
    return helper.make_graph(g.nodes, title, [source], [result], g.initialisers)


def convert(members: Mapping[str, Path]) -> onnx.ModelProto:
    """The ONNX model of dlib's face ResNet: [N, 150, 150, 3] RGB chips -> [N, 128] descriptors."""
    if MEMBER not in members:
        raise ConversionError(f"expected the member {MEMBER}, got {sorted(members)}")
    header, layers = read_network(members[MEMBER].read_bytes(), face_layout())
    if header["size"] != (150, 150):
        raise ConversionError(f"input size {header['size']} (the face ResNet takes 150x150 chips)")
    return finish_model(build_graph(header, layers, "dlib_face_recognition_resnet_model_v1"))
