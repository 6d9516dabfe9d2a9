"""dlib's DNN serialization (``dlib::serialize(net)`` of a ``dlib/dnn`` network), read with NumPy.

dlib writes a network as nested objects, outermost first: the loss layer (``add_loss_layer``:
version 1, the loss details, then its subnetwork), and every ``add_layer`` writes its version,
then its whole subnetwork, then its own layer details and state. So the file holds all the
wrappers' version numbers first (outermost to innermost: 2 for an ``add_layer``, 1 for a tag or
skip, 2 or 3 for the ``add_layer`` on the input), then the input layer, then each layer's details
from the input upwards. Tags and skips write nothing but their version, and ``add_prev_`` does
not write which tag it adds: the topology is in the C++ type, not in the file. So the caller
gives the layout (the type, as a list of ``Wrapper``) and this module checks the file against
it, wrapper by wrapper, refusing any layer version it does not know by name.

Scalars use dlib's own encoding (serialize.h): an integer is a control byte (low nibble: number
of little-endian bytes that follow; 0x80: negative) then those bytes; a float is two such
integers, mantissa and exponent (value = mantissa * 2**exponent, float_details.h); a bool is the
character '1' or '0'; a string is its length then its bytes. A tensor (tensor.h) is version,
num_samples, k, nr, nc, then its values: version 2 as raw little-endian float32, version 1 as
dlib floats one by one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from shadowlens.models.convert import ConversionError

# float_details' exponents that stand for infinities and NaN rather than a power of two.
_SPECIAL = {32000: math.inf, 32001: -math.inf, 32002: math.nan}


@dataclass(frozen=True)
class Wrapper:
    """One wrapper of the C++ type: a layer kind ("con", "affine", ...), "tag" or "skip", and its
    tag number (for tag, skip and add_prev)."""

    kind: str
    tag: int = 0


@dataclass
class Layer:
    kind: str
    tag: int = 0
    params: dict[str, Any] = field(default_factory=dict)


class Reader:
    """A cursor over the file's bytes; every read names what it wanted when the data runs out."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ConversionError(f"the dlib file ends inside {what} (at byte {self.pos})")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int_(self, what: str = "an integer") -> int:
        control = self.take(1, what)[0]
        size = control & 0x0F
        if control & 0x70 or size > 8:
            raise ConversionError(
                f"bad integer control byte {control:#04x} for {what} (at byte {self.pos - 1})"
            )
        value = int.from_bytes(self.take(size, what), "little")
        return -value if control & 0x80 else value

    def float_(self, what: str = "a float") -> float:
        if self.pos < len(self.data) and self.data[self.pos] & 0x70:
            raise ConversionError(f"{what} is in dlib's old text float format, which is not supported")
        mantissa, exponent = self.int_(what), self.int_(what)
        if exponent in _SPECIAL:
            return _SPECIAL[exponent]
        return math.ldexp(mantissa, exponent)

    def bool_(self, what: str = "a bool") -> bool:
        byte = self.take(1, what)
        if byte not in (b"0", b"1"):
            raise ConversionError(f"bad bool {byte!r} for {what} (at byte {self.pos - 1})")
        return byte == b"1"

    def string(self, what: str = "a name") -> str:
        raw = self.take(self.int_(what), what)
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise ConversionError(f"{what} is not an ASCII name (at byte {self.pos - len(raw)})") from None

    def dims(self, what: str) -> tuple[int, int, int, int]:
        n, k, nr, nc = (self.int_(what) for _ in range(4))
        if min(n, k, nr, nc) < 0:
            raise ConversionError(f"{what} has negative dimensions {(n, k, nr, nc)}")
        return n, k, nr, nc

    def tensor(self, what: str) -> NDArray[np.float32]:
        version = self.int_(what)
        if version not in (1, 2):
            raise ConversionError(f"{what}: tensor version {version} (1 and 2 are known)")
        shape = self.dims(what)
        count = math.prod(shape)
        if version == 2:
            values = np.frombuffer(self.take(4 * count, what), dtype="<f4")
        else:
            values = np.array([self.float_(what) for _ in range(count)], dtype=np.float32)
        return values.astype(np.float32).reshape(shape)

    def alias(self, what: str) -> tuple[int, int, int, int]:
        version = self.int_(what)
        if version != 1:
            raise ConversionError(f"{what}: alias_tensor version {version} (1 is known)")
        return self.dims(what)


def _slices(params: NDArray[np.float32], *shapes: tuple[int, ...]) -> list[NDArray[np.float32]]:
    """Cut a layer's flat parameter tensor into its alias tensors, which lie end to end in it."""
    flat, out, start = params.reshape(-1), [], 0
    for shape in shapes:
        size = math.prod(shape)
        if start + size > flat.size:
            raise ConversionError(f"parameters of {flat.size} values cannot hold a {shape} tensor")
        out.append(flat[start : start + size].reshape(shape))
        start += size
    return out


def _window(r: Reader, what: str) -> dict[str, Any]:
    nr, nc, sy, sx, py, px = (r.int_(what) for _ in range(6))
    return {"window": (nr, nc), "stride": (sy, sx), "padding": (py, px)}


def _details(r: Reader, expected: Wrapper) -> Layer:
    name = r.string("a layer name")
    what = f"layer {name}"
    kind = expected.kind
    layer = Layer(kind, expected.tag)
    if name == "con_4" and kind == "con":
        params = r.tensor(what)
        filters, nr, nc = r.int_(what), r.int_(what), r.int_(what)
        layer.params = {"stride": (r.int_(what), r.int_(what)), "padding": (r.int_(what), r.int_(what))}
        fshape, bshape = r.alias(what), r.alias(what)
        for _ in range(4):  # learning-rate and weight-decay multipliers: training only
            r.float_(what)
        if fshape[0] != filters or fshape[2:] != (nr, nc) or math.prod(bshape) != filters:
            raise ConversionError(
                f"{what}: filters {fshape} and biases {bshape} disagree with {filters} filters {nr}x{nc}"
            )
        layer.params["weight"], bias = _slices(params, fshape, bshape)
        layer.params["bias"] = bias.reshape(-1)
    elif name == "affine_" and kind == "affine":
        params = r.tensor(what)
        gshape, bshape = r.alias(what), r.alias(what)
        mode = r.int_(what)
        if mode != 0:  # layer_mode CONV_MODE: one gamma and beta per channel
            raise ConversionError(f"{what}: mode {mode} (only the per-channel CONV_MODE 0 is supported)")
        gamma, beta = _slices(params, gshape, bshape)
        layer.params = {"gamma": gamma.reshape(-1), "beta": beta.reshape(-1)}
    elif name in ("max_pool_2", "avg_pool_2") and kind == name[:-2]:
        layer.params = _window(r, what)
    elif (name, kind) in (("relu_", "relu"), ("add_prev_", "add_prev")):
        pass
    elif name == "fc_2" and kind == "fc":
        outputs, inputs, params = r.int_(what), r.int_(what), r.tensor(what)
        wshape, bshape = r.alias(what), r.alias(what)
        has_bias = r.int_(what) == 0  # fc_bias_mode: FC_HAS_BIAS 0, FC_NO_BIAS 1
        for _ in range(4):
            r.float_(what)
        if wshape[:2] != (inputs, outputs) or wshape[2:] != (1, 1):
            raise ConversionError(f"{what}: weights {wshape} for {inputs} inputs and {outputs} outputs")
        weight, bias = _slices(params, (inputs, outputs), bshape if has_bias else (0,))
        layer.params = {"weight": weight, "bias": bias.reshape(-1) if has_bias else None}
    else:
        raise ConversionError(f"found dlib layer {name!r} where the network has a {kind} layer")
    return layer


def _state(r: Reader, what: str, tensors: int) -> None:
    """An add_layer's training state after its details: three bools, then empty-or-not tensors."""
    for _ in range(3):
        r.bool_(what)
    for _ in range(tensors):
        r.tensor(what)


def read_network(data: bytes, layout: list[Wrapper]) -> tuple[dict[str, Any], list[Layer]]:
    """The loss, input and layers of a serialized ``add_loss_layer`` net of this ``layout``.

    ``layout`` lists the wrappers from the input upwards (the first one sits on the input
    layer). Returns the input layer's values and one ``Layer`` per wrapper, in the same order.
    """
    if not layout or layout[0].kind in ("tag", "skip"):
        raise ConversionError("the layout must start with a computational layer on the input")
    r = Reader(data)
    if r.int_("the loss layer version") != 1:
        raise ConversionError("not a dlib network with a loss layer (add_loss_layer version 1)")
    loss = r.string("the loss name")
    if loss != "loss_metric_2":
        raise ConversionError(f"loss layer {loss!r} (only loss_metric_2 is supported)")
    header: dict[str, Any] = {"loss": loss, "margin": r.float_(loss), "distance_threshold": r.float_(loss)}
    for index in range(len(layout) - 1, -1, -1):
        wrapper, version = layout[index], r.int_("a layer version")
        allowed = {1} if wrapper.kind in ("tag", "skip") else ({2, 3} if index == 0 else {2})
        if version not in allowed:
            raise ConversionError(
                f"layer {index} ({wrapper.kind}): version {version} where the network needs {sorted(allowed)}"
            )
        if index == 0:
            header["input_version"] = version
    name = r.string("the input layer name")
    if name != "input_rgb_image_sized":
        raise ConversionError(f"input layer {name!r} (only input_rgb_image_sized is supported)")
    header["mean_rgb"] = tuple(np.float32(r.float_(name)) for _ in range(3))
    header["size"] = (r.int_(name), r.int_(name))
    layers: list[Layer] = []
    for index, wrapper in enumerate(layout):
        if wrapper.kind in ("tag", "skip"):
            layers.append(Layer(wrapper.kind, wrapper.tag))
            continue
        layers.append(_details(r, wrapper))
        _state(r, f"layer {index} ({wrapper.kind})", 3)
        if index == 0 and header["input_version"] == 3:
            r.int_("the sample expansion factor")
    if r.pos != len(data):
        raise ConversionError(f"{len(data) - r.pos} bytes left after the network's last layer")
    return header, layers
