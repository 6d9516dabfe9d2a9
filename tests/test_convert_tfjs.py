"""The TFJS graph-model converter, op by op, against NumPy implementations of TF's semantics.

Each test writes a small TFJS graph model (model.json plus a weight shard) in code, converts it,
runs the ONNX model in onnxruntime and compares it with a NumPy reference of the same TF layers,
written from TF's documented behaviour: NHWC layout, SAME padding with the odd pixel at the
bottom/right, the three coordinate modes of TF's resizers. Odd input sizes and stride 2 make
TF's asymmetric padding matter. The real NanoDet graph is checked in test_objects_offline.py.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from shadowlens.models.convert import ConversionError, save_model
from shadowlens.models.convert.tfjs import convert

RNG = np.random.default_rng(14)
X_SHAPE = (1, 11, 13, 4)  # odd height and width: stride 2 with SAME pads unevenly


def s(text: str) -> dict[str, str]:
    return {"s": base64.b64encode(text.encode()).decode()}


def ints(values: list[int]) -> dict[str, Any]:
    return {"list": {"i": [str(v) for v in values]}}


class Tfjs:
    """A TFJS graph model under construction: nodes, weights (fp32 or fp16-quantised), outputs."""

    def __init__(self, input_shape: tuple[int, ...] = X_SHAPE, fp16: bool = False) -> None:
        self.fp16 = fp16
        self.nodes: list[dict[str, Any]] = [
            {
                "name": "x",
                "op": "Placeholder",
                "attr": {
                    "dtype": {"type": "DT_FLOAT"},
                    "shape": {"shape": {"dim": [{"size": str(d)} for d in input_shape]}},
                },
            }
        ]
        self.weights: list[tuple[dict[str, Any], bytes]] = []
        self.outputs: dict[str, list[int]] = {}

    def const(self, name: str, value: np.ndarray) -> str:
        """A constant: floats are stored as float16 when the model is fp16; returns what the graph holds."""
        entry: dict[str, Any] = {"name": name, "shape": list(value.shape)}
        if value.dtype.kind == "f":
            entry["dtype"] = "float32"
            if self.fp16:
                entry["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
                data = value.astype("<f2").tobytes()
            else:
                data = value.astype("<f4").tobytes()
        else:
            entry["dtype"], data = "int32", value.astype("<i4").tobytes()
        self.weights.append((entry, data))
        self.nodes.append({"name": name, "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}})
        return name

    def weight(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A random float weight; returns its value as the model holds it (rounded when fp16)."""
        value = RNG.normal(0, 0.5, shape).astype(np.float32)
        self.const(name, value)
        return value.astype(np.float16).astype(np.float32) if self.fp16 else value

    def node(self, name: str, op: str, inputs: list[str], **attr: Any) -> str:
        self.nodes.append({"name": name, "op": op, "input": inputs, "attr": attr})
        return name

    def output(self, ref: str, shape: list[int] | None = None) -> None:
        self.outputs[ref] = shape or []

    def write(self, folder: Path, shards: int = 1) -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        data = b"".join(chunk for _, chunk in self.weights)
        cut = [len(data) * k // shards for k in range(shards + 1)]
        paths = [f"group1-shard{k + 1}of{shards}.bin" for k in range(shards)]
        for k, path in enumerate(paths):
            (folder / path).write_bytes(data[cut[k] : cut[k + 1]])
        signature = {
            f"{ref}:0": {"name": f"{ref}:0", "tensorShape": {"dim": [{"size": str(d)} for d in dims]}}
            for ref, dims in self.outputs.items()
        }
        document = {
            "format": "graph-model",
            "modelTopology": {"node": self.nodes},
            "signature": {"outputs": signature},
            "weightsManifest": [{"paths": paths, "weights": [entry for entry, _ in self.weights]}],
        }
        (folder / "model.json").write_text(json.dumps(document))
        return {p.name: p for p in folder.iterdir()}


def run(members: dict[str, Path], x: np.ndarray) -> dict[str, np.ndarray]:
    model = convert(members)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {"x": x}), strict=True))


def close(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * max(1.0, float(np.abs(want).max())))


# --- NumPy references of TF's layers (NHWC) ----------------------------------------------------


def same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2  # TF: the odd pixel goes after


def windows(
    x: np.ndarray, kh: int, kw: int, stride: int, dilation: int, pads: tuple[int, ...], fill: float = 0.0
):  # type: ignore[no-untyped-def]
    x = np.pad(x, ((0, 0), pads[0:2], pads[2:4], (0, 0)), constant_values=fill)
    oh = (x.shape[1] - (kh - 1) * dilation - 1) // stride + 1
    ow = (x.shape[2] - (kw - 1) * dilation - 1) // stride + 1
    for i in range(kh):
        for j in range(kw):
            top, left = i * dilation, j * dilation
            yield (
                i,
                j,
                x[
                    :,
                    top : top + stride * (oh - 1) + 1 : stride,
                    left : left + stride * (ow - 1) + 1 : stride,
                ],
            )


def conv_ref(
    x: np.ndarray, w: np.ndarray, stride: int, pads: tuple[int, ...], dilation: int = 1
) -> np.ndarray:
    return sum(
        patch.astype(np.float64) @ w[i, j] for i, j, patch in windows(x, *w.shape[:2], stride, dilation, pads)
    )  # type: ignore[return-value]


def depthwise_ref(x: np.ndarray, w: np.ndarray, stride: int, pads: tuple[int, ...]) -> np.ndarray:
    total = 0.0
    for i, j, patch in windows(x, *w.shape[:2], stride, 1, pads):
        total = total + (patch[..., :, None].astype(np.float64) * w[i, j]).reshape(*patch.shape[:3], -1)
    return np.asarray(total)


def max_pool_ref(x: np.ndarray, size: int, stride: int, pads: tuple[int, ...]) -> np.ndarray:
    return np.max([patch for _, _, patch in windows(x, size, size, stride, 1, pads, -np.inf)], axis=0)


def resize_ref(x: np.ndarray, height: int, width: int, mode: str, nearest: bool) -> np.ndarray:
    def source(out: int, size: int) -> np.ndarray:
        index = np.arange(out, dtype=np.float64)
        if mode == "align_corners":
            return index * ((size - 1) / (out - 1) if out > 1 else 0.0)
        if mode == "half_pixel":
            return (index + 0.5) * (size / out) - (0.0 if nearest else 0.5)
        return index * (size / out)

    rows, cols = source(height, x.shape[1]), source(width, x.shape[2])
    if nearest:  # TF: round half away from zero with corners aligned, else floor
        pick = (lambda v: np.floor(v + 0.5)) if mode == "align_corners" else np.floor
        r, c = (np.clip(pick(v), 0, n - 1).astype(int) for v, n in ((rows, x.shape[1]), (cols, x.shape[2])))
        return x[:, r][:, :, c]

    def lerp(v: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        low = np.floor(v)
        return np.clip(low, 0, n - 1).astype(int), np.clip(low + 1, 0, n - 1).astype(int), v - low

    r0, r1, fr = lerp(rows, x.shape[1])
    c0, c1, fc = lerp(cols, x.shape[2])
    fr, fc = fr[None, :, None, None], fc[None, None, :, None]
    top = x[:, r0][:, :, c0] * (1 - fc) + x[:, r0][:, :, c1] * fc
    bottom = x[:, r1][:, :, c0] * (1 - fc) + x[:, r1][:, :, c1] * fc
    return np.asarray(top * (1 - fr) + bottom * fr)


# --- tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fp16", [False, True], ids=["fp32", "fp16"])
@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "dilation"),
    [
        (3, 2, "SAME", 1),
        (4, 2, "SAME", 1),
        (4, 1, "SAME", 1),
        (3, 1, "VALID", 1),
        (3, 2, "EXPLICIT", 1),
        (3, 1, "SAME", 2),
        (1, 2, "SAME", 1),
    ],
)
def test_conv2d_matches_tf(
    tmp_path: Path, fp16: bool, kernel: int, stride: int, padding: str, dilation: int
) -> None:
    g = Tfjs(fp16=fp16)
    w = g.weight("w", (kernel, kernel, 4, 5))
    explicit = [0, 0, 2, 1, 0, 3, 0, 0]
    attrs = {
        "strides": ints([1, stride, stride, 1]),
        "padding": s(padding),
        "dilations": ints([1, dilation, dilation, 1]),
    }
    if padding == "EXPLICIT":
        attrs["explicit_paddings"] = ints(explicit)
    g.output(g.node("conv", "Conv2D", ["x", "w"], data_format=s("NHWC"), **attrs))
    x = RNG.normal(size=X_SHAPE).astype(np.float32)
    if padding == "SAME":
        pads = same_pads(11, kernel, stride, dilation) + same_pads(13, kernel, stride, dilation)
    else:
        pads = tuple(explicit[2:6]) if padding == "EXPLICIT" else (0, 0, 0, 0)
    close(run(g.write(tmp_path), x)["conv"], conv_ref(x, w, stride, pads, dilation))


@pytest.mark.parametrize("fp16", [False, True], ids=["fp32", "fp16"])
def test_depthwise_fused_convs_and_bias_match_tf(tmp_path: Path, fp16: bool) -> None:
    g = Tfjs(fp16=fp16)
    dw, dw_bias = g.weight("dw", (3, 3, 4, 2)), g.weight("dw_bias", (8,))
    pw, pw_bias = g.weight("pw", (1, 1, 8, 6)), g.weight("pw_bias", (6,))
    cw, cw_bias = g.weight("cw", (3, 3, 6, 3)), g.weight("cw_bias", (3,))
    same2 = {"strides": ints([1, 2, 2, 1]), "padding": s("SAME")}
    one = {"strides": ints([1, 1, 1, 1]), "padding": s("VALID")}
    fused = {
        "fused_ops": {"list": {"s": [s("BiasAdd")["s"], s("LeakyRelu")["s"]]}},
        "leakyrelu_alpha": {"f": 0.1},
    }
    g.node("depthwise", "FusedDepthwiseConv2dNative", ["x", "dw", "dw_bias"], **same2, **fused)
    relu6 = {"fused_ops": {"list": {"s": [s("BiasAdd")["s"], s("Relu6")["s"]]}}}
    g.node("pointwise", "_FusedConv2D", ["depthwise", "pw", "pw_bias"], **one, **relu6)
    g.node("conv", "Conv2D", ["pointwise", "cw"], **same2)
    g.output(g.node("biased", "BiasAdd", ["conv", "cw_bias"]))
    g.output(g.node("plain_depthwise", "DepthwiseConv2dNative", ["x", "dw"], **same2))
    x = RNG.normal(size=X_SHAPE).astype(np.float32)
    got = run(g.write(tmp_path), x)

    pads = same_pads(11, 3, 2) + same_pads(13, 3, 2)
    depthwise = depthwise_ref(x, dw, 2, pads)
    close(got["plain_depthwise"], depthwise)
    y = depthwise + dw_bias
    y = np.where(y >= 0, y, 0.1 * y)
    y = np.clip(conv_ref(y, pw, 1, (0, 0, 0, 0)) + pw_bias, 0, 6)
    close(got["biased"], conv_ref(y, cw, 2, same_pads(6, 3, 2) + same_pads(7, 3, 2)) + cw_bias)


def test_pooling_padding_and_nchw_convs_match_tf(tmp_path: Path) -> None:
    g = Tfjs()
    g.output(
        g.node(
            "same", "MaxPool", ["x"], ksize=ints([1, 3, 3, 1]), strides=ints([1, 2, 2, 1]), padding=s("SAME")
        )
    )
    g.output(
        g.node(
            "valid",
            "MaxPool",
            ["x"],
            ksize=ints([1, 2, 2, 1]),
            strides=ints([1, 2, 2, 1]),
            padding=s("VALID"),
        )
    )
    g.const("pads", np.array([[0, 0], [1, 2], [0, 1], [0, 0]]))
    g.const("fill", np.array(-3.5, np.float32))
    g.output(g.node("padded", "Pad", ["x", "pads"]))
    g.output(g.node("filled", "PadV2", ["x", "pads", "fill"]))
    # An NCHW conv with its bias, as a graph exported from PyTorch by way of ONNX looks.
    g.const("to_nchw", np.array([0, 3, 1, 2]))
    w, bias = g.weight("w", (3, 3, 4, 2)), g.weight("bias", (2,))
    g.node("nchw", "Transpose", ["x", "to_nchw"])
    nchw = {"strides": ints([1, 1, 2, 2]), "padding": s("SAME"), "data_format": s("NCHW")}
    g.node("conv", "Conv2D", ["nchw", "w"], **nchw)
    g.output(g.node("conv_bias", "BiasAdd", ["conv", "bias"], data_format=s("NCHW")))
    x = RNG.normal(size=X_SHAPE).astype(np.float32)
    got = run(g.write(tmp_path), x)

    close(got["same"], max_pool_ref(x, 3, 2, same_pads(11, 3, 2) + same_pads(13, 3, 2)))
    close(got["valid"], max_pool_ref(x, 2, 2, (0, 0, 0, 0)))
    close(got["padded"], np.pad(x, ((0, 0), (1, 2), (0, 1), (0, 0))))
    close(got["filled"], np.pad(x, ((0, 0), (1, 2), (0, 1), (0, 0)), constant_values=-3.5))
    want = conv_ref(x, w, 2, same_pads(11, 3, 2) + same_pads(13, 3, 2)) + bias
    close(got["conv_bias"], want.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("mode", ["half_pixel", "align_corners", "asymmetric"])
def test_resizers_match_tf(tmp_path: Path, mode: str) -> None:
    g = Tfjs()
    flags = {
        "half_pixel_centers": {"b": mode == "half_pixel"},
        "align_corners": {"b": mode == "align_corners"},
    }
    for name, size in (("up", [23, 19]), ("down", [5, 8])):
        g.const(f"{name}_size", np.array(size))
        g.output(g.node(f"bilinear_{name}", "ResizeBilinear", ["x", f"{name}_size"], **flags))
        g.output(g.node(f"nearest_{name}", "ResizeNearestNeighbor", ["x", f"{name}_size"], **flags))
    x = RNG.normal(size=X_SHAPE).astype(np.float32)
    got = run(g.write(tmp_path), x)
    for name, (height, width) in (("up", (23, 19)), ("down", (5, 8))):
        close(got[f"bilinear_{name}"], resize_ref(x, height, width, mode, nearest=False))
        close(got[f"nearest_{name}"], resize_ref(x, height, width, mode, nearest=True))


def test_shape_ops_arithmetic_and_a_detection_head(tmp_path: Path) -> None:
    g = Tfjs(input_shape=(1, 32, 32, 4))
    w = g.weight("w", (8, 8, 4, 6))
    g.node("conv", "Conv2D", ["x", "w"], strides=ints([1, 8, 8, 1]), padding=s("VALID"))  # [1, 4, 4, 6]
    # Reshape's shape as ONNX-to-TF exporters leave it: a constant plus a SparseToDense of nothing.
    g.const("base", np.array([1, 16, -1]))
    g.const("where", np.zeros((0, 1), np.int64))
    g.const("length", np.array([3]))
    g.const("nothing", np.zeros(0, np.int64))
    g.const("zero", np.array(0))
    g.node("dense", "SparseToDense", ["where", "length", "nothing", "zero"])
    g.node("shape", "AddV2", ["base", "dense"])
    g.node("cells", "Reshape", ["conv", "shape"])  # [1, 16, 6]
    g.const("sizes", np.array([2, 4]))
    g.const("axis", np.array(2))
    g.node("split", "SplitV", ["cells", "sizes", "axis"], num_split={"i": "2"})
    g.node("sigmoid", "Sigmoid", ["split"])
    g.output(g.node("Identity", "Identity", ["sigmoid"]), [1, 16, 2])
    g.output(g.node("Identity_1", "Identity", ["split:1"]), [1, 16, 4])
    g.const("channels", np.array(3))
    g.node("halves", "Split", ["channels", "x"], num_split={"i": "2"})
    g.const("scale", np.array([0.5, -2.0], np.float32))
    g.node("product", "Mul", ["halves:1", "scale"])
    g.node("difference", "Sub", ["halves", "product"])
    g.node("sum", "Add", ["difference", "halves:1"])
    g.node("relu", "Relu", ["sum"])
    g.node("leaky", "LeakyRelu", ["sum"], alpha={"f": 0.3})
    g.const("last", np.array(-1))
    g.node("joined", "ConcatV2", ["relu", "leaky", "sum", "last"], N={"i": "3"})
    g.const("perm", np.array([0, 3, 1, 2]))
    g.output(g.node("Identity_2", "Transpose", ["joined", "perm"]), [1, 6, 32, 32])
    x = RNG.normal(size=(1, 32, 32, 4)).astype(np.float32)
    got = run(g.write(tmp_path), x)

    cells = conv_ref(x, w, 8, (0, 0, 0, 0)).reshape(1, 16, 6)
    assert sorted(got) == ["Identity_2", "boxes_8", "scores_8"]  # the head's outputs say what they hold
    close(got["scores_8"], 1 / (1 + np.exp(-cells[..., :2])))
    close(got["boxes_8"], cells[..., 2:])
    low, high = x[..., :2], x[..., 2:]
    total = low - high * np.array([0.5, -2.0], np.float32) + high
    joined = np.concatenate([np.maximum(total, 0), np.where(total >= 0, total, 0.3 * total), total], axis=-1)
    close(got["Identity_2"], joined.transpose(0, 3, 1, 2))


def test_several_shards_and_the_same_bytes_every_time(tmp_path: Path) -> None:
    g = Tfjs(fp16=True)
    w = g.weight("w", (3, 3, 4, 7))
    g.output(g.node("conv", "Conv2D", ["x", "w"], strides=ints([1, 2, 2, 1]), padding=s("SAME")))
    members = g.write(tmp_path, shards=3)
    x = RNG.normal(size=X_SHAPE).astype(np.float32)
    close(run(members, x)["conv"], conv_ref(x, w, 2, same_pads(11, 3, 2) + same_pads(13, 3, 2)))
    save_model(convert(members), tmp_path / "a.onnx")
    save_model(convert(members), tmp_path / "b.onnx")
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()


def one_line_error(members: dict[str, Path]) -> str:
    with pytest.raises(ConversionError) as caught:
        convert(members)
    message = str(caught.value)
    assert "\n" not in message and message
    return message


def test_unsupported_ops_and_bad_weights_fail_with_one_line(tmp_path: Path) -> None:
    g = Tfjs()
    g.output(g.node("erf", "Erf", ["x"]))
    assert one_line_error(g.write(tmp_path / "op")) == (
        "TFJS op 'Erf' (node 'erf') is not supported by shadowlens' converter"
    )

    g = Tfjs()
    g.weight("w", (3, 3, 4, 2))
    g.output(g.node("conv", "Conv2D", ["x", "w"], strides=ints([1, 1, 1, 1]), padding=s("SAME")))
    members = g.write(tmp_path / "shards", shards=2)
    missing = {name: path for name, path in members.items() if name != "group1-shard2of2.bin"}
    assert "group1-shard2of2.bin" in one_line_error(missing)
    shard = members["group1-shard2of2.bin"]
    shard.write_bytes(shard.read_bytes()[:-6])
    assert "truncated" in one_line_error(members)

    document = json.loads(members["model.json"].read_text())
    document["weightsManifest"][0]["weights"][0]["quantization"] = {
        "dtype": "uint8",
        "min": -1,
        "scale": 0.01,
    }
    members["model.json"].write_text(json.dumps(document))
    assert "uint8" in one_line_error(members)

    g = Tfjs()
    g.node("a", "Relu", ["b"])
    g.output(g.node("b", "Sigmoid", ["a"]))
    assert "cycle" in one_line_error(g.write(tmp_path / "cycle"))
    g = Tfjs()
    g.output(g.node("relu", "Relu", ["x"]))
    del g.nodes[-1]["op"]
    assert "malformed" in one_line_error(g.write(tmp_path / "malformed"))

    (tmp_path / "shards" / "model.json").write_text("{not json")
    assert "model.json" in one_line_error(members)
    assert "none" in one_line_error({"weights.bin": shard})
