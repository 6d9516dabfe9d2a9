"""Reading torch state dicts without torch, and EfficientNet-Lite built from one in ONNX.

torch is not installed (and must not be), so the files are written here by hand, byte for byte as
torch writes them: the legacy run of pickles and the zip archive, with persistent storage ids and
``torch._utils._rebuild_tensor_v2`` reduce calls emitted as GLOBAL opcodes. The converted network
is compared with a NumPy forward pass written from the architecture, not from the converter.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from numpy.lib.stride_tricks import as_strided, sliding_window_view
from shadowlens.models.convert import ConversionError, converter, save_model
from shadowlens.models.convert.efficientnet_lite import build, convert
from shadowlens.models.convert.torch_state import LEGACY_MAGIC, load_state_dict

# -- writing torch files by hand ----------------------------------------------


@dataclass(frozen=True)
class Global:
    """Pickled as the GLOBAL opcode ``module name``, whatever is importable here."""

    module: str
    name: str

    def __call__(self, *args: object) -> None:  # pickle wants reduce functions callable
        raise AssertionError("only ever pickled")


@dataclass(eq=False)
class Storage:
    key: str
    kind: str  # "FloatStorage", "HalfStorage", "LongStorage"
    data: np.ndarray  # 1-D


@dataclass(eq=False)
class Tensor:
    storage: Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]
    parameter: bool = False

    def __reduce__(self) -> tuple[Any, ...]:
        rebuilt = (
            Global("torch._utils", "_rebuild_tensor_v2"),
            (self.storage, self.offset, self.size, self.stride, False, OrderedDict()),
        )
        if not self.parameter:
            return rebuilt
        inner = Tensor(self.storage, self.offset, self.size, self.stride)
        return (Global("torch._utils", "_rebuild_parameter"), (inner, True, OrderedDict()))

    def expected(self) -> np.ndarray:
        data = self.storage.data
        view = as_strided(data[self.offset :], self.size, tuple(s * data.itemsize for s in self.stride))
        return np.array(view)


@dataclass(frozen=True)
class Evil:
    function: Global
    argument: str

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.function, (self.argument,))


class TorchPickler(pickle._Pickler):  # the pure-Python pickler lets us write opcodes ourselves
    def __init__(self, file: io.BytesIO, legacy: bool) -> None:
        super().__init__(file, protocol=2)
        self.legacy = legacy

    def persistent_id(self, obj: object) -> tuple[object, ...] | None:
        if not isinstance(obj, Storage):
            return None
        pid = ("storage", Global("torch", obj.kind), obj.key, "cpu", obj.data.size)
        return (*pid, None) if self.legacy else pid

    def save(self, obj: object, save_persistent_id: bool = True) -> None:
        if isinstance(obj, Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            return
        super().save(obj, save_persistent_id)


def _pickled(obj: object, legacy: bool) -> bytes:
    buffer = io.BytesIO()
    TorchPickler(buffer, legacy).dump(obj)
    return buffer.getvalue()


def _storages(state: object) -> list[Storage]:
    values = state.values() if isinstance(state, dict) else [state]
    seen: dict[int, Storage] = {}
    for value in values:
        if isinstance(value, Tensor):
            seen.setdefault(id(value.storage), value.storage)
    return list(seen.values())


def write_legacy(path: Path, state: object) -> Path:
    """torch < 1.6: magic, protocol, sys info, the object, its storage keys, then each storage."""
    out = io.BytesIO()
    for header in (
        LEGACY_MAGIC,
        1001,
        {"protocol_version": 1001, "little_endian": True, "type_sizes": {"long": 4}},
    ):
        pickle.dump(header, out, protocol=2)
    out.write(_pickled(state, legacy=True))
    storages = _storages(state)
    pickle.dump([s.key for s in storages], out, protocol=2)
    for storage in storages:
        out.write(struct.pack("<q", storage.data.size) + storage.data.tobytes())
    path.write_bytes(out.getvalue())
    return path


def write_zip(path: Path, state: object) -> Path:
    """torch >= 1.6: <folder>/data.pkl and one <folder>/data/<key> member per storage."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("weights/data.pkl", _pickled(state, legacy=False))
        archive.writestr("weights/byteorder", "little")
        for storage in _storages(state):
            archive.writestr(f"weights/data/{storage.key}", storage.data.tobytes())
    return path


def _state_dict() -> OrderedDict[str, Tensor]:
    floats = Storage("140001", "FloatStorage", np.arange(20, dtype=np.float32) * 0.5 - 3)
    halves = Storage(
        "140002", "HalfStorage", np.array([0.5, -1.25, 3.0, 65504.0, 1e-3, -0.0], dtype=np.float16)
    )
    count = Storage("140003", "LongStorage", np.array([123456789012], dtype=np.int64))
    state = OrderedDict(
        [
            ("a.weight", Tensor(floats, 0, (2, 3), (3, 1))),
            ("a.transposed", Tensor(floats, 0, (3, 2), (1, 3))),  # a non-contiguous view
            (
                "a.tail",
                Tensor(floats, 16, (4,), (1,)),
            ),  # the same storage, at an offset
            ("a.every_other", Tensor(floats, 1, (5,), (2,), parameter=True)),
            ("h.weight", Tensor(halves, 0, (2, 3), (1, 2))),  # float16, column-major
            ("bn.num_batches_tracked", Tensor(count, 0, (), ())),
        ]
    )
    state._metadata = OrderedDict([("", {"version": 1})])  # type: ignore[attr-defined]  # as torch adds
    return state


# -- the state dict reader ----------------------------------------------------


@pytest.mark.parametrize("writer", [write_legacy, write_zip], ids=["legacy", "zip"])
def test_both_formats_round_trip_every_dtype_stride_and_shared_storage(tmp_path: Path, writer: Any) -> None:
    state = _state_dict()
    loaded = load_state_dict(writer(tmp_path / "weights.pth", state))
    assert list(loaded) == list(state)
    for name, tensor in state.items():
        expected = tensor.expected()
        assert loaded[name].dtype == expected.dtype.newbyteorder("="), name
        assert loaded[name].shape == tensor.size, name
        np.testing.assert_array_equal(loaded[name], expected, err_msg=name)
        assert loaded[name].flags.c_contiguous and loaded[name].flags.owndata, name
    np.testing.assert_array_equal(loaded["a.transposed"], loaded["a.weight"].T)
    assert loaded["h.weight"].dtype == np.float16 and loaded["h.weight"][1, 1] == np.float16(65504.0)
    assert (
        loaded["bn.num_batches_tracked"].dtype == np.int64
        and int(loaded["bn.num_batches_tracked"]) == 123456789012
    )


@pytest.mark.parametrize("writer", [write_legacy, write_zip], ids=["legacy", "zip"])
@pytest.mark.parametrize("target", [("os", "system"), ("builtins", "eval"), ("subprocess", "Popen")])
def test_a_pickle_naming_any_other_global_is_refused_before_it_runs(
    tmp_path: Path, writer: Any, target: tuple[str, str]
) -> None:
    marker = tmp_path / "ran"
    command = f"open({str(marker)!r}, 'w')" if target[1] == "eval" else f"touch {marker}"
    state = _state_dict()
    state["evil"] = Evil(Global(*target), command)  # type: ignore[assignment]
    path = writer(tmp_path / "evil.pth", state)
    with pytest.raises(ConversionError) as caught:
        load_state_dict(path)
    message = str(caught.value)
    assert f"refusing to unpickle {target[0]}.{target[1]}" in message and "\n" not in message
    assert not marker.exists()


def test_a_pickle_cannot_rewrite_the_stand_ins_for_later_files(tmp_path: Path) -> None:
    # GLOBAL torch.FloatStorage, then BUILD {"dtype": "x"} on it: would change what every later
    # file's float storages hold, if the stand-in let itself be altered.
    opcodes = b"ctorch\nFloatStorage\n}X\x05\x00\x00\x00dtypeX\x01\x00\x00\x00xsb."
    out = io.BytesIO()
    for header in (LEGACY_MAGIC, 1001, {"little_endian": True}):
        pickle.dump(header, out, protocol=2)
    (tmp_path / "build.pth").write_bytes(out.getvalue() + opcodes + pickle.dumps([], protocol=2))
    with pytest.raises(ConversionError, match="alter"):
        load_state_dict(tmp_path / "build.pth")
    loaded = load_state_dict(write_legacy(tmp_path / "after.pth", _state_dict()))
    assert loaded["a.weight"].dtype == np.float32


def test_a_truncated_file_is_one_line_whatever_the_cut(tmp_path: Path) -> None:
    whole = write_legacy(tmp_path / "whole.pth", _state_dict()).read_bytes()
    messages = []
    for cut in (3, len(whole) // 3, len(whole) - 5):
        path = tmp_path / f"cut{cut}.pth"
        path.write_bytes(whole[:cut])
        with pytest.raises(ConversionError) as caught:
            load_state_dict(path)
        messages.append(str(caught.value))
    zipped = write_zip(tmp_path / "whole.zip", _state_dict()).read_bytes()
    (tmp_path / "cut.zip").write_bytes(zipped[: len(zipped) // 2])
    with pytest.raises(ConversionError) as caught:
        load_state_dict(tmp_path / "cut.zip")
    messages.append(str(caught.value))
    assert all("\n" not in m and m for m in messages), messages
    assert "truncated" in messages[-2]  # cut inside the last storage's bytes
    assert "damaged" in messages[-1]


def test_strides_reaching_outside_the_storage_or_inflating_it_are_refused(tmp_path: Path) -> None:
    storage = Storage("1", "FloatStorage", np.zeros(20, dtype=np.float32))
    state = OrderedDict([("w", Tensor(storage, 2, (10,), (2,)))])  # would read element 20
    with pytest.raises(ConversionError, match="reach element 20 of a 20-element storage"):
        load_state_dict(write_legacy(tmp_path / "w.pth", state))
    broadcast = OrderedDict([("w", Tensor(storage, 0, (10**12,), (0,)))])  # 4 TB from 80 bytes
    with pytest.raises(ConversionError, match="1000000000000 elements from a 20-element storage"):
        load_state_dict(write_zip(tmp_path / "b.pth", broadcast))


def test_a_file_that_is_not_a_state_dict_is_refused(tmp_path: Path) -> None:
    (tmp_path / "text.pth").write_bytes(b"not a pickle at all")
    with pytest.raises(ConversionError, match=r"text\.pth"):
        load_state_dict(tmp_path / "text.pth")
    storage = Storage("1", "FloatStorage", np.zeros(4, dtype=np.float32))
    state = OrderedDict([("w", Tensor(storage, 0, (4,), (1,))), ("epoch", 3)])
    with pytest.raises(ConversionError, match="entry 'epoch' is a int, not a tensor"):
        load_state_dict(write_zip(tmp_path / "mixed.pth", state))


# -- EfficientNet-Lite ---------------------------------------------------------

SIDE = 224
EPS = 1e-3


class Weights:
    """A tiny EfficientNet-Lite state dict in EfficientNet-PyTorch's layout, and its values."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        self.tensors: OrderedDict[str, Tensor] = OrderedDict()
        self.values: dict[str, np.ndarray] = {}

    def add(self, key: str, value: np.ndarray, hwio: bool = False) -> None:
        value = value.astype(np.float32)
        self.values[key] = value
        if hwio:  # stored like the real file: TensorFlow's HWIO memory order behind OIHW strides
            o, i, _, w = value.shape
            data = np.ascontiguousarray(value.transpose(2, 3, 1, 0)).ravel()
            tensor = Tensor(
                Storage(f"s{len(self.tensors)}", "FloatStorage", data),
                0,
                value.shape,
                (1, o, w * i * o, i * o),
            )
        else:
            tensor = Tensor(
                Storage(f"s{len(self.tensors)}", "FloatStorage", value.ravel()),
                0,
                value.shape,
                tuple(s // 4 for s in value.strides),
            )
        self.tensors[key] = tensor

    def conv(self, key: str, out: int, inp: int, k: int, hwio: bool = False) -> None:
        self.add(f"{key}.weight", self.rng.normal(0, 0.5, (out, inp, k, k)), hwio)

    def bn(self, key: str, channels: int) -> None:
        self.add(f"{key}.weight", self.rng.uniform(0.5, 1.5, channels))
        self.add(f"{key}.bias", self.rng.normal(0, 0.2, channels))
        self.add(f"{key}.running_mean", self.rng.normal(0, 0.2, channels))
        self.add(f"{key}.running_var", self.rng.uniform(0.5, 2.0, channels))
        count = Storage(f"n{len(self.tensors)}", "LongStorage", np.array([1000], dtype=np.int64))
        self.tensors[f"{key}.num_batches_tracked"] = Tensor(count, 0, (), ())


def tiny_lite() -> Weights:
    w = Weights()
    w.conv("_conv_stem", 4, 3, 3, hwio=True)
    w.bn("_bn0", 4)
    # block 0: depthwise-separable (no expansion), 4 -> 2 channels: stage 1, stride 1
    w.conv("_blocks.0._depthwise_conv", 4, 1, 3)
    w.bn("_blocks.0._bn1", 4)
    w.conv("_blocks.0._project_conv", 2, 4, 1)
    w.bn("_blocks.0._bn2", 2)
    # block 1: expand x3, 5x5 depthwise, 2 -> 3 channels: stage 2, stride 2
    w.conv("_blocks.1._expand_conv", 6, 2, 1)
    w.bn("_blocks.1._bn0", 6)
    w.conv("_blocks.1._depthwise_conv", 6, 1, 5)
    w.bn("_blocks.1._bn1", 6)
    w.conv("_blocks.1._project_conv", 3, 6, 1)
    w.bn("_blocks.1._bn2", 3)
    # block 2: same channels, stride 1: a residual block
    w.conv("_blocks.2._expand_conv", 6, 3, 1)
    w.bn("_blocks.2._bn0", 6)
    w.conv("_blocks.2._depthwise_conv", 6, 1, 3)
    w.bn("_blocks.2._bn1", 6)
    w.conv("_blocks.2._project_conv", 3, 6, 1)
    w.bn("_blocks.2._bn2", 3)
    w.conv("_conv_head", 8, 3, 1)
    w.bn("_bn1", 8)
    w.add("_fc.weight", w.rng.normal(0, 0.5, (5, 8)))
    w.add("_fc.bias", w.rng.normal(0, 0.5, 5))
    return w


def _conv(x: np.ndarray, weight: np.ndarray, stride: int, depthwise: bool = False) -> np.ndarray:
    """TensorFlow "SAME": output ceil(in / stride), the odd padding pixel at the bottom/right."""
    k, size = weight.shape[-1], x.shape[-1]
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + k - size, 0)
    padded = np.pad(x, ((0, 0), (total // 2, total - total // 2), (total // 2, total - total // 2)))
    windows = sliding_window_view(padded, (k, k), axis=(1, 2))[:, ::stride, ::stride][:, :out, :out]
    if depthwise:
        return np.einsum("chwij,cij->chw", windows, weight[:, 0])
    return np.einsum("chwij,ocij->ohw", windows, weight)


def _reference(v: dict[str, np.ndarray], image: np.ndarray) -> np.ndarray:
    def bn(x: np.ndarray, key: str) -> np.ndarray:
        scale = v[f"{key}.weight"] / np.sqrt(v[f"{key}.running_var"] + EPS)
        return (x - v[f"{key}.running_mean"][:, None, None]) * scale[:, None, None] + v[f"{key}.bias"][
            :, None, None
        ]

    def relu6(x: np.ndarray) -> np.ndarray:
        return np.clip(x, 0, 6)

    x = relu6(bn(_conv(image.astype(np.float64), v["_conv_stem.weight"], 2), "_bn0"))
    for index, stride in enumerate((1, 2, 1)):
        b = f"_blocks.{index}"
        h = x
        if f"{b}._expand_conv.weight" in v:
            h = relu6(bn(_conv(h, v[f"{b}._expand_conv.weight"], 1), f"{b}._bn0"))
        h = relu6(bn(_conv(h, v[f"{b}._depthwise_conv.weight"], stride, depthwise=True), f"{b}._bn1"))
        h = bn(_conv(h, v[f"{b}._project_conv.weight"], 1), f"{b}._bn2")
        x = h + x if index == 2 else h
    x = relu6(bn(_conv(x, v["_conv_head.weight"], 1), "_bn1"))
    return np.asarray(v["_fc.weight"] @ x.mean(axis=(1, 2)) + v["_fc.bias"])


def test_tiny_efficientnet_lite_matches_a_numpy_forward_pass(tmp_path: Path) -> None:
    weights = tiny_lite()
    path = write_legacy(tmp_path / "tiny-lite.pth", weights.tensors)
    model = converter("efficientnet_lite")({"tiny-lite.pth": path})
    save_model(model, tmp_path / "tiny.onnx")
    session = ort.InferenceSession(str(tmp_path / "tiny.onnx"), providers=["CPUExecutionProvider"])
    assert [i.shape for i in session.get_inputs()] == [[1, 3, SIDE, SIDE]]
    ops = {node.op_type for node in model.graph.node}
    assert {"BatchNormalization", "Clip", "Add"} <= ops  # BN kept, ReLU6, the residual
    image = np.random.default_rng(1).uniform(-1, 1, (3, SIDE, SIDE)).astype(np.float32)
    logits = session.run(None, {session.get_inputs()[0].name: image[None]})[0]
    assert logits.shape == (1, 5)
    np.testing.assert_allclose(logits[0], _reference(weights.values, image), rtol=1e-4, atol=1e-4)
    again = convert({"tiny-lite.pth": path}).SerializeToString(deterministic=True)
    assert again == (tmp_path / "tiny.onnx").read_bytes()  # the same file, so a pinnable sha256


def test_unknown_layouts_are_refused_naming_the_key(tmp_path: Path) -> None:
    values = load_state_dict(write_legacy(tmp_path / "t.pth", tiny_lite().tensors))
    renamed = {k.replace("_conv_stem", "conv_stem"): v for k, v in values.items()}  # gen-efficientnet
    with pytest.raises(ConversionError, match=r"'_conv_stem\.weight'"):
        build(renamed)
    extra = {**values, "_blocks.1._se_reduce.weight": np.zeros((1, 6, 1, 1), np.float32)}
    with pytest.raises(ConversionError, match="squeeze-and-excitation"):
        build(extra)
    stray = {**values, "_blocks.0._mystery.weight": np.zeros(3, np.float32)}
    with pytest.raises(ConversionError, match=r"unexpected state dict entry '_blocks\.0\._mystery\.weight'"):
        build(stray)
    with pytest.raises(ConversionError, match=r"one \.pth"):
        convert({"model.json": tmp_path / "model.json"})
