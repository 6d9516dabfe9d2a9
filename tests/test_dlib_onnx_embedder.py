"""dlib's face ResNet as ONNX: the reader on a tiny net written here in dlib's format, checked
against a NumPy forward pass with dlib's semantics; the real .dat from face_recognition_models
against dlib itself on real faces; and the embedder the faces detector prefers once it is built."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from shadowlens.daemon.detectors.faces.detector import FacesDetector, FacesSettings
from shadowlens.daemon.detectors.faces.embedders import DlibEmbedder, OnnxDlibEmbedder, dlib_shapes
from shadowlens.daemon.detectors.faces.roles import choose
from shadowlens.daemon.detectors.faces.types import RawFace
from shadowlens.models.convert import ConversionError, finish_model, save_model
from shadowlens.models.convert.dlib_dnn import Wrapper, read_network
from shadowlens.models.convert.dlib_resnet import INPUT, build_graph, convert
from shadowlens.models.registry import Registry

from tests.conftest import corpus_or_skip

ONNX_ID, DLIB_ID = "dlib-resnet-128-onnx", "dlib-resnet-128"
PHOTOS = ("dlib-faces/2008_002079.jpg", "face_recognition/obama_and_biden.jpg", "dlib-faces/bald_guys.jpg")

# ---------------------------------------------------------------- dlib's serialization, written here


def pack(value: int) -> bytes:
    """serialize.h's integer: a control byte (byte count, 0x80 if negative), then the bytes."""
    raw = abs(value).to_bytes(max(1, (abs(value).bit_length() + 7) // 8), "little")
    return bytes([len(raw) | (0x80 if value < 0 else 0)]) + raw


def dfloat(value: float) -> bytes:
    mantissa, exponent = math.frexp(value)  # float_details: mantissa * 2**exponent, both integers
    return pack(int(mantissa * (1 << 24))) + pack(exponent - 24)


def name(text: str) -> bytes:
    return pack(len(text)) + text.encode()


def dims(*shape: int) -> bytes:
    return b"".join(pack(d) for d in shape)


def tensor(values: np.ndarray, shape: tuple[int, ...], version: int = 2) -> bytes:
    flat = np.asarray(values, np.float32).reshape(-1)
    body = flat.astype("<f4").tobytes() if version == 2 else b"".join(dfloat(float(v)) for v in flat)
    return pack(version) + dims(*shape) + body


def alias(*shape: int) -> bytes:
    return pack(1) + dims(*shape)


EMPTY = tensor(np.zeros(0), (0, 0, 0, 0))
STATE = b"110" + EMPTY * 3  # setup called, gradient stale, outputs not disabled; three empty tensors
MULTIPLIERS = dfloat(1) + dfloat(1) + dfloat(1) + dfloat(0)


def con(w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> bytes:
    n, k, nr, nc = w.shape
    params = tensor(np.concatenate([w.reshape(-1), b]), (w.size + n, 1, 1, 1))
    head = name("con_4") + params + dims(n, nr, nc, stride, stride, pad, pad)
    return head + alias(n, k, nr, nc) + alias(1, n, 1, 1) + MULTIPLIERS


def affine(gamma: np.ndarray, beta: np.ndarray) -> bytes:
    c = gamma.size  # a version 1 tensor: dlib's float per value
    params = tensor(np.concatenate([gamma, beta]), (2 * c, 1, 1, 1), version=1)
    return name("affine_") + params + alias(1, c, 1, 1) * 2 + pack(0)


def pool(kind: str, window: int, stride: int) -> bytes:
    return name(f"{kind}_2") + dims(window, window, stride, stride, 0, 0)


def fc(w: np.ndarray, b: np.ndarray) -> bytes:
    inputs, outputs = w.shape
    params = tensor(np.concatenate([w.reshape(-1), b]), (inputs * outputs + outputs, 1, 1, 1))
    head = name("fc_2") + dims(outputs, inputs) + params + alias(inputs, outputs, 1, 1)
    return head + alias(1, outputs, 1, 1) + pack(0) + MULTIPLIERS  # FC_HAS_BIAS


MEAN = (122.782, 117.001, 104.298)
SIDE = 20
# 20 -> conv 3x3/2 -> 9 -> max 3x3/2 -> 4; a block adding 6 channels to 4 (channels padded); a
# downsampling block whose 1x1 conv output is padded to the 2x2 pooled input; global average; fc.
LAYOUT = [Wrapper(k) for k in ("con", "affine", "relu", "max_pool")]
LAYOUT += [Wrapper("tag", 1), Wrapper("con"), Wrapper("affine"), Wrapper("add_prev", 1), Wrapper("relu")]
LAYOUT += [Wrapper("tag", 1), Wrapper("con"), Wrapper("affine"), Wrapper("tag", 2), Wrapper("skip", 1)]
LAYOUT += [Wrapper("avg_pool"), Wrapper("add_prev", 2), Wrapper("relu"), Wrapper("avg_pool"), Wrapper("fc")]


def tiny_net(rng: np.random.Generator) -> tuple[bytes, list[dict[str, Any]]]:
    def r(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.5, shape).astype(np.float32)

    spec: list[dict[str, Any]] = [
        {"w": r(4, 3, 3, 3), "b": r(4), "stride": 2, "pad": 0}, {"gamma": r(4), "beta": r(4)}, {},
        {"window": 3, "stride": 2}, {}, {"w": r(6, 4, 3, 3), "b": r(6), "stride": 1, "pad": 1},
        {"gamma": r(6), "beta": r(6)}, {}, {}, {}, {"w": r(6, 6, 3, 3), "b": r(6), "stride": 2, "pad": 0},
        {"gamma": r(6), "beta": r(6)}, {}, {}, {"window": 2, "stride": 2}, {}, {}, {"window": 0, "stride": 1},
        {"w": r(6, 8), "b": r(8)},
    ]  # fmt: skip
    writers = {
        "con": lambda p: con(p["w"], p["b"], p["stride"], p["pad"]),
        "affine": lambda p: affine(p["gamma"], p["beta"]),
        "relu": lambda p: name("relu_"),
        "add_prev": lambda p: name("add_prev_"),
        "max_pool": lambda p: pool("max_pool", p["window"], p["stride"]),
        "avg_pool": lambda p: pool("avg_pool", p["window"], p["stride"]),
        "fc": lambda p: fc(p["w"], p["b"]),
    }
    out = pack(1) + name("loss_metric_2") + dfloat(0.04) + dfloat(0.6)
    for index in range(len(LAYOUT) - 1, -1, -1):
        out += pack(1 if LAYOUT[index].kind in ("tag", "skip") else (3 if index == 0 else 2))
    out += (
        name("input_rgb_image_sized")
        + b"".join(dfloat(float(np.float32(m))) for m in MEAN)
        + dims(SIDE, SIDE)
    )
    for index, (wrapper, params) in enumerate(zip(LAYOUT, spec, strict=True)):
        if wrapper.kind not in ("tag", "skip"):
            out += writers[wrapper.kind](params) + STATE + (pack(1) if index == 0 else b"")
    return out, spec


def reference(chip: np.ndarray, spec: list[dict[str, Any]]) -> np.ndarray:
    """dlib's forward pass in NumPy: conv, affine, relu, pools, zero-padded add_prev, fc."""
    x = ((chip.astype(np.float32) - np.array(MEAN, np.float32)) / 256).transpose(2, 0, 1)
    tags: dict[int, np.ndarray] = {}
    for wrapper, p in zip(LAYOUT, spec, strict=True):
        kind = wrapper.kind
        if kind == "tag":
            tags[wrapper.tag] = x
        elif kind == "skip":
            x = tags[wrapper.tag]
        elif kind == "con":
            padded = np.pad(x, ((0, 0), (p["pad"],) * 2, (p["pad"],) * 2))
            windows = np.lib.stride_tricks.sliding_window_view(padded, p["w"].shape[2:], axis=(1, 2))
            windows = windows[:, :: p["stride"], :: p["stride"]]
            x = np.einsum("chwij,ocij->ohw", windows, p["w"]) + p["b"][:, None, None]
        elif kind == "affine":
            x = x * p["gamma"][:, None, None] + p["beta"][:, None, None]
        elif kind == "relu":
            x = np.maximum(x, 0)
        elif kind in ("max_pool", "avg_pool") and p["window"] == 0:
            x = x.mean(axis=(1, 2), keepdims=True)
        elif kind in ("max_pool", "avg_pool"):
            w, s = p["window"], p["stride"]
            windows = np.lib.stride_tricks.sliding_window_view(x, (w, w), axis=(1, 2))[:, ::s, ::s]
            x = windows.max(axis=(3, 4)) if kind == "max_pool" else windows.mean(axis=(3, 4))
        elif kind == "add_prev":
            other = tags[wrapper.tag]
            big = tuple(max(a, b) for a, b in zip(x.shape, other.shape, strict=True))
            x = sum(np.pad(t, [(0, m - n) for m, n in zip(big, t.shape, strict=True)]) for t in (x, other))
        elif kind == "fc":
            x = x.reshape(-1) @ p["w"] + p["b"]
    return np.asarray(x, np.float32)


def session(model: Any) -> Any:
    """A CPU session of an ONNX model, or of the file at a path."""
    import onnxruntime as ort

    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"])


def test_a_tiny_net_in_dlibs_format_reads_back_and_runs_like_dlib() -> None:
    rng = np.random.default_rng(7)
    data, spec = tiny_net(rng)
    header, layers = read_network(data, LAYOUT)
    assert header["size"] == (SIDE, SIDE) and header["mean_rgb"] == tuple(np.float32(m) for m in MEAN)
    assert header["margin"] == pytest.approx(0.04) and header["distance_threshold"] == pytest.approx(0.6)
    assert [layer.kind for layer in layers] == [w.kind for w in LAYOUT]
    np.testing.assert_array_equal(layers[0].params["weight"], spec[0]["w"])
    np.testing.assert_array_equal(layers[1].params["gamma"], spec[1]["gamma"])  # the version 1 tensor
    np.testing.assert_array_equal(layers[-1].params["bias"], spec[-1]["b"])
    chips = rng.integers(0, 256, (3, SIDE, SIDE, 3)).astype(np.float32)
    got = session(finish_model(build_graph(header, layers, "tiny"))).run(None, {INPUT: chips})[0]
    want = np.stack([reference(chip, spec) for chip in chips])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_a_file_that_is_not_the_layout_is_refused_with_the_reason() -> None:
    data, _ = tiny_net(np.random.default_rng(1))
    with pytest.raises(ConversionError, match="ends inside"):
        read_network(data[:-7], LAYOUT)
    with pytest.raises(ConversionError, match="bytes left"):
        read_network(data + b"\x00", LAYOUT)
    with pytest.raises(ConversionError, match="version"):  # a tag where the file has a layer
        read_network(data, [Wrapper("tag", 1) if i == 2 else w for i, w in enumerate(LAYOUT)])
    renamed = data.replace(name("relu_"), name("sig_x"), 1)
    with pytest.raises(ConversionError, match="'sig_x' where the network has a relu layer"):
        read_network(renamed, LAYOUT)


# ---------------------------------------------------------------- the real model against dlib


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("dlib", reason="dlib (the dlib-bin wheel) is not installed")
    models = pytest.importorskip(
        "face_recognition_models", reason="face_recognition_models, which ships the .dat, is not installed"
    )
    source = Path(models.face_recognition_model_location())
    target = tmp_path_factory.mktemp("dlib-onnx") / ONNX_ID / "dlib-resnet-128.onnx"
    target.parent.mkdir(parents=True)
    save_model(convert({source.name: source}), target)
    return target


def photo(relative: str) -> np.ndarray:
    return np.asarray(Image.open(corpus_or_skip() / relative).convert("RGB"))


def hog_faces(image: np.ndarray) -> list[RawFace]:
    import dlib

    rects = dlib.get_frontal_face_detector()(image, 1)
    return [RawFace(r.left(), r.top(), r.width(), r.height(), 1.0) for r in rects]


def test_the_build_is_the_pinned_file(converted: Path) -> None:
    pinned = Registry(converted.parent.parent).get(ONNX_ID).files[0]
    assert (converted.stat().st_size, hashlib.sha256(converted.read_bytes()).hexdigest()) == (
        pinned.size,
        pinned.sha256,
    )


@pytest.mark.corpus
def test_the_real_net_gives_dlibs_descriptors_on_real_face_chips(converted: Path) -> None:
    import dlib
    import face_recognition_models as frm

    net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    predictor = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    run = session(converted)
    for relative in PHOTOS[:2]:
        image = photo(relative)
        shapes = dlib_shapes(predictor, image, hog_faces(image))
        want = np.array([list(v) for v in net.compute_face_descriptor(image, shapes)], np.float32)
        chips = np.stack(dlib.get_face_chips(image, shapes, size=150, padding=0.25)).astype(np.float32)
        got = run.run(None, {INPUT: chips})[0]
        assert len(got) >= 3
        assert float(np.abs(got - want).max()) < 1e-4
        cosine = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
        assert float(cosine.min()) > 0.99999


@pytest.mark.corpus
def test_the_onnx_embedder_gives_the_dlib_embedders_vectors(converted: Path) -> None:
    import face_recognition_models as frm

    resnet, marks = (
        Path(frm.face_recognition_model_location()),
        Path(frm.pose_predictor_five_point_model_location()),
    )
    fast, slow = OnnxDlibEmbedder(DLIB_ID, converted, marks, 60.0), DlibEmbedder(DLIB_ID, resnet, marks, 60.0)
    assert fast.embed(photo(PHOTOS[0]), []).shape == (0, 128)
    for relative in PHOTOS:  # bald_guys has 24 faces: more than one batch of 16
        image = photo(relative)
        faces = hog_faces(image)
        got, want = fast.embed(image, faces), slow.embed(image, faces)
        assert got.shape == want.shape == (len(faces), 128)
        assert float(np.abs(got - want).max()) < 1e-5


def test_auto_prefers_the_built_copy_and_keeps_dlibs_id_and_version(converted: Path, tmp_path: Path) -> None:
    without = Registry(tmp_path / "empty")
    with_onnx = Registry(converted.parent.parent)
    slow = choose(without, "embedder", "auto", FacesSettings(), 60.0)
    fast = choose(with_onnx, "embedder", "auto", FacesSettings(), 60.0)
    assert isinstance(slow.model, DlibEmbedder) and isinstance(fast.model, OnnxDlibEmbedder)
    assert slow.model_id == fast.model_id == fast.model.model_id == DLIB_ID  # stored under dlib's id
    forced = choose(with_onnx, "embedder", ONNX_ID, FacesSettings(), 60.0)
    assert isinstance(forced.model, OnnxDlibEmbedder) and forced.tag == DLIB_ID
    # The same version: building the ONNX copy re-analyses no photo.
    versions = {FacesDetector(FacesSettings(), registry=r).version for r in (without, with_onnx)}
    assert len(versions) == 1 and f"+{DLIB_ID}+" in versions.pop()
    missing = choose(without, "embedder", ONNX_ID, FacesSettings(), 60.0)
    assert missing.model is None and missing.tag == f"missing:{ONNX_ID}"
