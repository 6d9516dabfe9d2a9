"""Reading a PyTorch state dict (what ``torch.save(module.state_dict())`` writes) without torch.

Two on-disk formats exist. The legacy one (before torch 1.6) is a run of pickles in one file: a
magic number, a protocol version, system info, the state dict itself, the list of its storage
keys, then for each key an 8-byte little-endian element count and the storage's raw bytes. The
zip one holds ``<folder>/data.pkl`` and one ``<folder>/data/<key>`` member per storage. In both,
the state dict pickle names each storage by a persistent id ``('storage', type, key, location,
numel[, view])`` and rebuilds tensors with ``torch._utils._rebuild_tensor_v2(storage, offset,
size, stride, ...)``.

The file comes from the internet, and unpickling can run any code a pickle names. So the
unpickler here resolves only the handful of globals a state dict needs, each to a harmless
stand-in of our own, and refuses every other one by name before anything runs. Tensors become
NumPy arrays cut out of their storage with their own offset and strides, after checking that
those stay inside the storage.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray
from shadowlens.models.convert import ConversionError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
ZIP_SIGNATURE = b"PK\x03\x04"
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
# Where a training checkpoint keeps the state dict, when the file is not the state dict itself.
WRAPPER_KEYS = ("state_dict", "model")

StateDict = dict[str, NDArray[Any]]


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
class _Storage(_Guarded):
    """One storage: its bytes arrive after the state dict pickle (legacy) or from its own member."""

    key: str
    dtype: np.dtype[Any]
    numel: int
    data: NDArray[Any] | None = None
    # A legacy view: a slice of another storage, starting at ``offset`` elements.
    root: _Storage | None = None
    offset: int = 0

    def elements(self) -> NDArray[Any]:
        if self.root is not None:
            return self.root.elements()[self.offset : self.offset + self.numel]
        if self.data is None:
            raise ConversionError(f"storage {self.key!r} is used by a tensor but its data is missing")
        return self.data


@dataclass(frozen=True)
class _TensorRef(_Guarded):
    """A tensor as the pickle describes it; cut out of its storage once every storage is read."""

    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _int_tuple(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple | list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise ConversionError(f"a tensor's {what} is not a tuple of integers: {value!r:.80}")
    return tuple(value)


def _rebuild_tensor(storage: object, offset: object, size: object, stride: object, *_: object) -> _TensorRef:
    # The extra arguments (requires_grad, backward hooks, metadata) mean nothing for inference.
    if not isinstance(storage, _Storage):
        raise ConversionError(f"a tensor is built from {type(storage).__name__}, not from a storage")
    if not isinstance(offset, int) or isinstance(offset, bool):
        raise ConversionError(f"a tensor's storage offset is not an integer: {offset!r:.80}")
    return _TensorRef(storage, offset, _int_tuple(size, "size"), _int_tuple(stride, "stride"))


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


class _StateUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], storage_for: Callable[[tuple[object, ...]], _Storage] | None) -> None:
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


def _storage_fields(pid: tuple[object, ...]) -> tuple[np.dtype[Any], str, int, object]:
    """(dtype, key, numel, legacy view or None) of ``('storage', type, key, location, numel[, view])``."""
    if len(pid) not in (5, 6):
        raise ConversionError(f"malformed storage id {pid!r:.80}")
    storage_type, key, _location, numel = pid[1:5]
    if not isinstance(storage_type, _StorageType):
        raise ConversionError(f"storage {key!r} has an unknown type {storage_type!r:.60}")
    if not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
        raise ConversionError(f"malformed storage id {pid!r:.80}")
    return storage_type.dtype, key, numel, pid[5] if len(pid) == 6 else None


def _load(unpickler: _StateUnpickler, where: str) -> Any:
    try:
        return unpickler.load()
    except ConversionError:
        raise
    except EOFError:
        raise ConversionError(f"{where}: the file ends in the middle of a pickle (truncated?)") from None
    except Exception as exc:  # a damaged pickle raises anything from UnpicklingError to TypeError
        raise ConversionError(f"{where}: not a readable pickle: {type(exc).__name__}: {exc}") from None


def _read_exact(handle: IO[bytes], count: int, size: int, what: str, where: str) -> bytes:
    # Checked against the file size first: a forged count must not make us allocate terabytes.
    left = size - handle.tell()
    if count > left:
        raise ConversionError(f"{where}: truncated: {what} needs {count} bytes, {left} left")
    return handle.read(count)


def _load_legacy(handle: IO[bytes], size: int, where: str) -> object:
    def plain() -> Any:
        return _load(_StateUnpickler(handle, None), where)

    if plain() != LEGACY_MAGIC:
        raise ConversionError(f"{where}: not a PyTorch file (no torch magic number)")
    protocol = plain()
    if protocol != LEGACY_PROTOCOL:
        raise ConversionError(f"{where}: unsupported torch serialization protocol {protocol!r}")
    system = plain()
    if isinstance(system, dict) and system.get("little_endian") is False:
        raise ConversionError(f"{where}: written on a big-endian machine; not supported")

    storages: dict[str, _Storage] = {}

    def storage_for(pid: tuple[object, ...]) -> _Storage:
        dtype, key, numel, view = _storage_fields(pid)
        root = storages.setdefault(key, _Storage(key, dtype, numel))
        if view is None:
            return root
        if not (isinstance(view, tuple) and len(view) == 3 and all(isinstance(v, int | str) for v in view)):
            raise ConversionError(f"malformed storage view {view!r:.80}")
        view_key, offset, view_numel = view
        if not isinstance(offset, int) or not isinstance(view_numel, int) or offset + view_numel > numel:
            raise ConversionError(f"storage view {view_key!r} reaches outside storage {key!r}")
        return storages.setdefault(
            str(view_key), _Storage(str(view_key), dtype, view_numel, None, root, offset)
        )

    state = _load(_StateUnpickler(handle, storage_for), where)
    keys = plain()
    if not isinstance(keys, list):
        raise ConversionError(f"{where}: the storage key list is missing")
    for key in keys:
        storage = storages.get(str(key))
        if storage is None or storage.root is not None:
            raise ConversionError(f"{where}: data for storage {key!r}, which no tensor names")
        (count,) = struct.unpack("<q", _read_exact(handle, 8, size, f"storage {key!r}", where))
        if count != storage.numel:
            raise ConversionError(
                f"{where}: storage {key!r} holds {count} elements, its id says {storage.numel}"
            )
        raw = _read_exact(handle, count * storage.dtype.itemsize, size, f"storage {key!r}", where)
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return state


def _load_zip(path: Path, where: str) -> object:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            pickles = [n for n in names if n == "data.pkl" or (n.endswith("/data.pkl") and n.count("/") == 1)]
            if len(pickles) != 1:
                raise ConversionError(f"{where}: a zip, but not a torch archive (no single data.pkl)")
            prefix = pickles[0][: -len("data.pkl")]
            if f"{prefix}byteorder" in names and archive.read(f"{prefix}byteorder") != b"little":
                raise ConversionError(f"{where}: written big-endian; not supported")
            storages: dict[str, _Storage] = {}

            def storage_for(pid: tuple[object, ...]) -> _Storage:
                dtype, key, numel, _ = _storage_fields(pid)
                return storages.setdefault(key, _Storage(key, dtype, numel))

            state = _load(_StateUnpickler(io.BytesIO(archive.read(pickles[0])), storage_for), where)
            for key, storage in storages.items():
                member = f"{prefix}data/{key}"
                if member not in names:
                    raise ConversionError(f"{where}: storage {key!r} has no member {member}")
                need = storage.numel * storage.dtype.itemsize
                if archive.getinfo(member).file_size < need:
                    raise ConversionError(
                        f"{where}: storage {key!r} is shorter than its {storage.numel} elements"
                    )
                storage.data = np.frombuffer(archive.read(member)[:need], dtype=storage.dtype)
            return state
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        NotImplementedError,
        OSError,
        EOFError,
        ValueError,
    ) as exc:
        raise ConversionError(f"{where}: damaged torch zip archive: {exc}") from None


def _tensor(ref: _TensorRef, name: str) -> NDArray[Any]:
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


def _state_dict(root: object, where: str) -> StateDict:
    if isinstance(root, dict) and not any(isinstance(v, _TensorRef) for v in root.values()):
        inner = next((root[k] for k in WRAPPER_KEYS if isinstance(root.get(k), dict)), None)
        root = inner if inner is not None else root
    if not isinstance(root, dict) or not root:
        raise ConversionError(f"{where}: holds a {type(root).__name__}, not a state dict of tensors")
    tensors: StateDict = {}
    for key, value in root.items():
        if not isinstance(key, str) or not isinstance(value, _TensorRef):
            raise ConversionError(f"{where}: entry {key!r} is a {type(value).__name__}, not a tensor")
        tensors[key] = _tensor(value, key)
    return tensors


def load_state_dict(path: Path) -> StateDict:
    """The tensors of a torch state dict file by name, as NumPy arrays; ConversionError otherwise."""
    path = Path(path)
    where = path.name
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
            size = path.stat().st_size
            if head == ZIP_SIGNATURE:
                root = _load_zip(path, where)
            else:
                handle.seek(0)
                root = _load_legacy(handle, size, where)
    except OSError as exc:
        raise ConversionError(f"{where}: cannot read: {exc.strerror or exc}") from None
    return _state_dict(root, where)
