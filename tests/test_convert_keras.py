"""The Keras HDF5 converter against a NumPy reference of the same layers, on files written here.

Each test writes a small Keras 2 file with h5py, in Keras's own layout (``model_config`` JSON,
``model_weights/<layer>/<layer>_1/<var>:0`` listed by ``weight_names``), converts it, runs the
ONNX graph with onnxruntime and compares it with a NumPy forward pass written from the Keras
semantics (NHWC, TensorFlow's 'same' padding, which puts an odd extra row after the input).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import onnxruntime as ort
import pytest
from shadowlens.models.convert import ConversionError, save_model
from shadowlens.models.convert.keras_h5 import convert

RNG = np.random.default_rng(14)


# ---------------------------------------------------------------- a Keras 2 file, written by hand


def layer(kind: str, name: str, inputs: list[str], **config: Any) -> dict[str, Any]:
    nodes = [[[i, 0, 0, {}] for i in inputs]] if inputs else []
    return {"class_name": kind, "name": name, "config": {"name": name, **config}, "inbound_nodes": nodes}


def conv(name: str, inputs: list[str], filters: int, kernel: int, **config: Any) -> dict[str, Any]:
    defaults = {"strides": [1, 1], "padding": "valid", "use_bias": True, "activation": "linear"}
    settings = {**defaults, **config, "filters": filters, "kernel_size": [kernel, kernel]}
    return layer("Conv2D", name, inputs, data_format="channels_last", dilation_rate=[1, 1], **settings)


def write_keras(path: Path, model: dict[str, Any], weights: dict[str, dict[str, np.ndarray]]) -> Path:
    """A file as Keras 2's ``model.save`` writes it (weights-only when ``model`` is empty)."""
    with h5py.File(path, "w") as handle:
        handle.attrs["keras_version"] = b"2.0.5"
        handle.attrs["backend"] = b"tensorflow"
        if model:
            handle.attrs["model_config"] = json.dumps(model).encode()
        root = handle.create_group("model_weights") if model else handle
        names = [e.get("name") or e["config"]["name"] for e in _layers(model)] if model else list(weights)
        root.attrs["layer_names"] = np.array([n.encode() for n in names])
        for name in names:
            group = root.create_group(name)
            variables = weights.get(name, {})
            group.attrs["weight_names"] = np.array([f"{name}_1/{v}:0".encode() for v in variables])
            for var, array in variables.items():
                group.create_dataset(f"{name}_1/{var}:0", data=array.astype(np.float32))
    return path


def _layers(model: dict[str, Any]) -> list[dict[str, Any]]:
    body = model["config"]
    return list(body if isinstance(body, list) else body["layers"])


def functional(layers: list[dict[str, Any]], output: str) -> dict[str, Any]:
    body = {
        "name": "tiny",
        "layers": layers,
        "input_layers": [["x", 0, 0]],
        "output_layers": [[output, 0, 0]],
    }
    return {"class_name": "Model", "config": body}


def random_weights(
    layers: list[dict[str, Any]], channels_in: dict[str, int]
) -> dict[str, dict[str, np.ndarray]]:
    """Weights of the right shapes for each layer; ``channels_in`` gives each layer's input depth."""
    weights: dict[str, dict[str, np.ndarray]] = {}
    for entry in layers:
        cfg, name, c = entry["config"], entry["name"], channels_in.get(entry["name"], 0)
        if entry["class_name"] == "Conv2D":
            k, f = cfg["kernel_size"], cfg["filters"]
            weights[name] = {"kernel": RNG.normal(0, 0.4, (*k, c, f))}
            if cfg["use_bias"]:
                weights[name]["bias"] = RNG.normal(0, 0.3, f)
        elif entry["class_name"] == "SeparableConv2D":
            k, f, m = cfg["kernel_size"], cfg["filters"], cfg["depth_multiplier"]
            weights[name] = {
                "depthwise_kernel": RNG.normal(0, 0.5, (*k, c, m)),
                "pointwise_kernel": RNG.normal(0, 0.4, (1, 1, c * m, f)),
            }
            if cfg["use_bias"]:
                weights[name]["bias"] = RNG.normal(0, 0.3, f)
        elif entry["class_name"] == "BatchNormalization":
            weights[name] = {
                **({"gamma": RNG.uniform(0.5, 1.5, c)} if cfg["scale"] else {}),
                **({"beta": RNG.normal(0, 0.3, c)} if cfg["center"] else {}),
                "moving_mean": RNG.normal(0, 0.3, c),
                "moving_variance": RNG.uniform(0.2, 2.0, c),
            }
    return weights


# ---------------------------------------------------------------- NumPy reference (NHWC, float64)


def tf_same(n: int, k: int, s: int) -> tuple[int, int]:
    total = max((-(-n // s) - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def patches(x: np.ndarray, k: list[int], s: list[int], padding: str, fill: float):  # type: ignore[no-untyped-def]
    if padding == "same":
        x = np.pad(
            x,
            ((0, 0), tf_same(x.shape[1], k[0], s[0]), tf_same(x.shape[2], k[1], s[1]), (0, 0)),
            constant_values=fill,
        )
    oh, ow = (x.shape[1] - k[0]) // s[0] + 1, (x.shape[2] - k[1]) // s[1] + 1
    for i in range(k[0]):
        for j in range(k[1]):
            yield i, j, x[:, i : i + s[0] * (oh - 1) + 1 : s[0], j : j + s[1] * (ow - 1) + 1 : s[1], :]


def activate(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    assert kind == "linear"
    return x


def reference(
    layers: list[dict[str, Any]], weights: dict[str, dict[str, np.ndarray]], x: np.ndarray
) -> dict[str, np.ndarray]:
    values: dict[str, np.ndarray] = {}
    for entry in layers:  # the tests list layers after their inputs
        kind, name, cfg = entry["class_name"], entry["name"], entry["config"]
        xs = [values[n[0]] for n in (entry["inbound_nodes"][0] if entry["inbound_nodes"] else [])]
        w = {k: v.astype(np.float64) for k, v in weights.get(name, {}).items()}
        if kind == "InputLayer":
            y = x.astype(np.float64)
        elif kind == "Conv2D":
            k = w["kernel"]
            y = sum(
                np.einsum("nhwc,cf->nhwf", p, k[i, j])
                for i, j, p in patches(xs[0], cfg["kernel_size"], cfg["strides"], cfg["padding"], 0.0)
            )
            y = activate(y + w.get("bias", 0.0), cfg["activation"])
        elif kind == "SeparableConv2D":
            d = w["depthwise_kernel"]
            y = sum(
                p[..., :, None] * d[i, j]
                for i, j, p in patches(xs[0], cfg["kernel_size"], cfg["strides"], cfg["padding"], 0.0)
            )
            y = y.reshape(*y.shape[:3], -1)  # channel c, multiplier m -> c * M + m, as TensorFlow
            y = np.einsum("nhwc,cf->nhwf", y, w["pointwise_kernel"][0, 0])
            y = activate(y + w.get("bias", 0.0), cfg["activation"])
        elif kind == "BatchNormalization":
            scale = w.get("gamma", 1.0) / np.sqrt(w["moving_variance"] + cfg["epsilon"])
            y = (xs[0] - w["moving_mean"]) * scale + w.get("beta", 0.0)
        elif kind == "Activation":
            y = activate(xs[0], cfg["activation"])
        elif kind == "MaxPooling2D":
            strides = cfg.get("strides") or cfg["pool_size"]
            y = np.max(
                [p for _, _, p in patches(xs[0], cfg["pool_size"], strides, cfg["padding"], -np.inf)], axis=0
            )
        elif kind == "Add":
            y = sum(xs)
        elif kind == "GlobalAveragePooling2D":
            y = xs[0].mean(axis=(1, 2))
        else:
            raise AssertionError(kind)
        values[name] = y
    return values


def run_onnx(model: Any, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    return np.asarray(session.run(None, {inp.name: x.astype(np.float32)})[0])


# ---------------------------------------------------------------- the models


def mini_xception_like() -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every supported layer, on odd sizes: 13 x 15 -> stride 2 'same' (7 x 8) -> ... -> 7 classes."""
    bn = {"epsilon": 1e-3, "center": True, "scale": True, "axis": -1, "momentum": 0.99}
    sep = {"data_format": "channels_last", "dilation_rate": [1, 1], "activation": "linear"}
    layers = [
        layer("InputLayer", "x", [], batch_input_shape=[None, 13, 15, 2], dtype="float32"),
        conv("stem", ["x"], 4, 3, strides=[2, 2], padding="same", activation="relu"),
        layer("BatchNormalization", "stem_bn", ["stem"], **bn),
        layer("Activation", "stem_relu", ["stem_bn"], activation="relu"),
        layer(
            "SeparableConv2D",
            "sep",
            ["stem_relu"],
            filters=6,
            kernel_size=[3, 3],
            strides=[1, 1],
            padding="same",
            depth_multiplier=2,
            use_bias=True,
            **sep,
        ),
        layer(
            "BatchNormalization",
            "sep_bn",
            ["sep"],
            **{**bn, "epsilon": 0.01, "center": False, "scale": False},
        ),
        layer(
            "MaxPooling2D",
            "pool",
            ["sep_bn"],
            pool_size=[3, 3],
            strides=[2, 2],
            padding="same",
            data_format="channels_last",
        ),
        conv("shortcut", ["stem_relu"], 6, 1, strides=[2, 2], padding="same", use_bias=False),
        layer("BatchNormalization", "shortcut_bn", ["shortcut"], **bn),
        layer("Add", "residual", ["pool", "shortcut_bn"]),
        layer(
            "SeparableConv2D",
            "sep_valid",
            ["residual"],
            filters=5,
            kernel_size=[2, 2],
            strides=[1, 1],
            padding="valid",
            depth_multiplier=1,
            use_bias=False,
            **sep,
        ),
        layer(
            "MaxPooling2D",
            "pool_valid",
            ["sep_valid"],
            pool_size=[2, 2],
            strides=None,
            padding="valid",
            data_format="channels_last",
        ),
        conv("classes", ["pool_valid"], 7, 3, padding="same"),
        layer("GlobalAveragePooling2D", "gap", ["classes"], data_format="channels_last"),
        layer("Activation", "predictions", ["gap"], activation="softmax"),
    ]
    channels = {
        "stem": 2,
        "stem_bn": 4,
        "sep": 4,
        "sep_bn": 6,
        "shortcut": 4,
        "shortcut_bn": 6,
        "sep_valid": 6,
        "classes": 5,
    }
    return layers, channels


@pytest.fixture(scope="module")
def tiny(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[dict[str, Any]], dict[str, dict[str, np.ndarray]], Any]:
    layers, channels = mini_xception_like()
    weights = random_weights(layers, channels)
    path = write_keras(
        tmp_path_factory.mktemp("keras") / "tiny.hdf5", functional(layers, "predictions"), weights
    )
    return layers, weights, convert({path.name: path})


def test_every_supported_layer_matches_the_numpy_reference(tiny: tuple[Any, Any, Any]) -> None:
    layers, weights, model = tiny
    x = RNG.uniform(-1, 1, (3, 13, 15, 2))
    expected = reference(layers, weights, x)["predictions"]
    got = run_onnx(model, x)
    assert got.shape == (3, 7)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)


def test_the_graph_keeps_the_keras_interface_and_batch_norm_nodes(
    tiny: tuple[Any, Any, Any], tmp_path: Path
) -> None:
    _, _, model = tiny
    (inp,) = model.graph.input
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["N", 13, 15, 2], "NHWC in, as the Keras model"
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("BatchNormalization") == 3, "BatchNorm is kept, not folded into the weights"
    assert ops[0] == "Transpose" and ops[-1] == "Softmax"
    first, second = tmp_path / "a.onnx", tmp_path / "b.onnx"
    save_model(model, first)
    layers, _ = mini_xception_like()
    again = write_keras(tmp_path / "again.hdf5", functional(layers, "predictions"), tiny[1])
    save_model(convert({again.name: again}), second)
    assert first.read_bytes() == second.read_bytes(), "the same weights give the same bytes"


def test_a_sequential_model_with_an_image_output_comes_back_in_nhwc(tmp_path: Path) -> None:
    layers = [
        conv("c1", [], 3, 3, strides=[2, 2], padding="same", batch_input_shape=[None, 9, 7, 1]),
        layer("BatchNormalization", "bn", [], epsilon=1e-3, center=True, scale=True, axis=3),
        layer("Activation", "act", [], activation="relu"),
    ]
    weights = random_weights(layers, {"c1": 1, "bn": 3})
    # Keras 2.0 wrote a Sequential model's config as the bare list of its layers.
    model = {
        "class_name": "Sequential",
        "config": [{"class_name": e["class_name"], "config": e["config"]} for e in layers],
    }
    path = write_keras(tmp_path / "seq.h5", model, weights)
    x = RNG.uniform(-1, 1, (2, 9, 7, 1))
    chained = [layer("InputLayer", "x", [], batch_input_shape=[None, 9, 7, 1])]
    for previous, entry in zip(["x", "c1", "bn"], layers, strict=True):
        chained.append({**entry, "inbound_nodes": [[[previous, 0, 0, {}]]]})
    expected = reference(chained, weights, x)["act"]
    got = run_onnx(convert({path.name: path}), x)
    assert got.shape == (2, 5, 4, 3)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def one_line_error(path: Path) -> str:
    with pytest.raises(ConversionError) as caught:
        convert({path.name: path})
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_an_unsupported_layer_or_activation_is_named(tmp_path: Path) -> None:
    layers = [
        layer("InputLayer", "x", [], batch_input_shape=[None, 8, 8, 1]),
        layer("Dense", "dense", ["x"], units=3),
    ]
    assert "Dense" in one_line_error(write_keras(tmp_path / "dense.hdf5", functional(layers, "dense"), {}))
    layers = [
        layer("InputLayer", "x", [], batch_input_shape=[None, 8, 8, 1]),
        layer("Activation", "swish", ["x"], activation="swish"),
    ]
    assert "'swish'" in one_line_error(write_keras(tmp_path / "swish.hdf5", functional(layers, "swish"), {}))


def test_a_weights_only_file_is_refused_in_one_line(tmp_path: Path) -> None:
    weights = {"conv": {"kernel": np.zeros((3, 3, 1, 2))}}
    message = one_line_error(write_keras(tmp_path / "weights.h5", {}, weights))
    assert "only weights" in message and "model_config" in message


def test_not_a_keras_file_and_missing_weights_are_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "text.hdf5").write_text("not hdf5")
    assert "not an HDF5 file" in one_line_error(tmp_path / "text.hdf5")
    layers = [layer("InputLayer", "x", [], batch_input_shape=[None, 8, 8, 1]), conv("c", ["x"], 2, 3)]
    path = write_keras(tmp_path / "empty.hdf5", functional(layers, "c"), {})
    assert "kernel" in one_line_error(path)
    with pytest.raises(ConversionError, match="one Keras"):
        convert({"model.json": tmp_path / "model.json"})
