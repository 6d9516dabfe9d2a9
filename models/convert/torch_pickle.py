"""The restricted unpickler behind ``torch_state``: a torch state dict pickle read without torch.

A state dict pickle names each storage by a persistent id ``('storage', type, key, location,
numel[, view])`` and rebuilds tensors with ``torch._utils._rebuild_tensor_v2(storage, offset,
size, stride, ...)``; where the storages' bytes come from depends on the file format, which
``torch_state`` reads.

The file comes from the internet, and unpickling can run any code a pickle names. So the
unpickler here resolves only the handful of globals a state dict needs, each to a harmless
stand-in of our own, and refuses every other one by name before anything runs. Tensors become
NumPy arrays cut out of their storage with their own offset and strides, after checking that
those stay inside the storage.
"""

from __future__ import annotations

import math
import pickle
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray
from shadowlens.models.convert import ConversionError

# torch's typed storages and the little-endian element type each one holds.
STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class _Guarded:
    """The objects a state dict pickle receives from us. A pickle's BUILD opcode could otherwise
    rewrite their fields (or those of the shared stand-ins below, for every later file)."""

    __slots__ = ()

    def __setstate__(self, state: object) -> None:
        raise ConversionError("the pickle tries to alter a storage or a tensor: not a state dict")


@dataclass(frozen=True)
class _Call(_Guarded):
    """A stand-in for one of torch's rebuild functions."""

    function: Callable[..., object]

    def __call__(self, *args: object) -> object:
        return self.function(*args)


@dataclass(frozen=True)
class _StorageType(_Guarded):
    """What ``torch.FloatStorage`` and friends unpickle to: just the element type."""

    name: str
    dtype: np.dtype[Any]


@dataclass
class Storage(_Guarded):
    """One storage: its bytes arrive after the state dict pickle (legacy) or from its own member."""

    key: str
    dtype: np.dtype[Any]
    numel: int
    data: NDArray[Any] | None = None
    # A legacy view: a slice of another storage, starting at ``offset`` elements.
    root: Storage | None = None
    offset: int = 0

    def elements(self) -> NDArray[Any]:
        if self.root is not None:
            return self.root.elements()[self.offset : self.offset + self.numel]
        if self.data is None:
            raise ConversionError(f"storage {self.key!r} is used by a tensor but its data is missing")
        return self.data


@dataclass(frozen=True)
class TensorRef(_Guarded):
    """A tensor as the pickle describes it; cut out of its storage once every storage is read."""

    storage: Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _int_tuple(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple | list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ConversionError(f"a tensor's {what} is not a tuple of integers: {value!r:.80}")
    return tuple(value)


def _rebuild_tensor(storage: object, offset: object, size: object, stride: object, *_: object) -> TensorRef:
    # The extra arguments (requires_grad, backward hooks, metadata) mean nothing for inference.
    if not isinstance(storage, Storage):
        raise ConversionError(f"a tensor is built from {type(storage).__name__}, not from a storage")
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise ConversionError(f"a tensor's storage offset is not an integer: {offset!r:.80}")
    return TensorRef(storage, offset, _int_tuple(size, "size"), _int_tuple(stride, "stride"))


def _rebuild_parameter(data: object, *_: object) -> object:
    return data


# The only globals a state dict pickle may name, and what each becomes here.
_SAFE_GLOBALS: dict[tuple[str, str], object] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _Call(_rebuild_tensor),
    ("torch._utils", "_rebuild_tensor"): _Call(_rebuild_tensor),
    ("torch._utils", "_rebuild_parameter"): _Call(_rebuild_parameter),
    **{("torch", name): _StorageType(name, np.dtype(code)) for name, code in STORAGE_DTYPES.items()},
}


class StateUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], storage_for: Callable[[tuple[object, ...]], Storage] | None) -> None:
        super().__init__(file)
        self._storage_for = storage_for

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise ConversionError(
                f"refusing to unpickle {module}.{name}: a state dict holds only tensors"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        if self._storage_for is None or not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise ConversionError(f"unexpected persistent id in the pickle: {pid!r:.80}")
        return self._storage_for(pid)


def storage_fields(pid: tuple[object, ...]) -> tuple[np.dtype[Any], str, int, object]:
    """(dtype, key, numel, legacy view or None) of ``('storage', type, key, location, numel[, view])``."""
    if len(pid) not in (5, 6):
        raise ConversionError(f"malformed storage id {pid!r:.80}")
    storage_type, key, _location, numel = pid[1:5]
    if not isinstance(storage_type, _StorageType):
        raise ConversionError(f"storage {key!r} has an unknown type {storage_type!r:.60}")
    if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
        raise ConversionError(f"malformed storage id {pid!r:.80}")
    return storage_type.dtype, key, numel, pid[5] if len(pid) == 6 else None


def load_pickle(unpickler: StateUnpickler, where: str) -> Any:
    try:
        return unpickler.load()
    except ConversionError:
        raise
    except EOFError:
        raise ConversionError(f"{where}: the file ends in the middle of a pickle (truncated?)") from None
    except Exception as exc:  # a damaged pickle raises anything from UnpicklingError to TypeError
        raise ConversionError(f"{where}: not a readable pickle: {type(exc).__name__}: {exc}") from None


def tensor_array(ref: TensorRef, name: str) -> NDArray[Any]:
    """The tensor's elements, copied out of its storage into a C-ordered native-endian array."""
    elements = ref.storage.elements()
    if len(ref.size) != len(ref.stride):
        raise ConversionError(f"tensor {name}: {len(ref.size)} sizes but {len(ref.stride)} strides")
    if ref.offset < 0 or any(v < 0 for v in ref.size + ref.stride):
        raise ConversionError(f"tensor {name}: negative offset, size or stride")
    native = elements.dtype.newbyteorder("=")
    count = math.prod(ref.size)
    if count > len(elements):
        # Zero strides could make a few stored bytes into terabytes of copies.
        raise ConversionError(f"tensor {name}: {count} elements from a {len(elements)}-element storage")
    if count == 0:
        return np.zeros(ref.size, dtype=native)
    # as_strided reads whatever memory the strides point at: they must stay inside the storage.
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride, strict=True))
    if last >= len(elements):
        raise ConversionError(
            f"tensor {name}: offset and strides reach element {last} of a {len(elements)}-element storage"
        )
    view = np.lib.stride_tricks.as_strided(
        elements[ref.offset :],
        shape=ref.size,
        strides=tuple(s * elements.dtype.itemsize for s in ref.stride),
        writeable=False,
    )
    return np.array(view, dtype=native, order="C", copy=True)
