"""Reading a PyTorch state dict (what ``torch.save(module.state_dict())`` writes) without torch.

Two on-disk formats exist. The legacy one (before torch 1.6) is a run of pickles in one file: a
magic number, a protocol version, system info, the state dict itself, the list of its storage
keys, then for each key an 8-byte little-endian element count and the storage's raw bytes. The
zip one holds ``<folder>/data.pkl`` and one ``<folder>/data/<key>`` member per storage. In both,
the state dict pickle names each storage by a persistent id ``('storage', type, key, location,
numel[, view])`` and rebuilds tensors with ``torch._utils._rebuild_tensor_v2(storage, offset,
size, stride, ...)``.

The unpickling itself, and its safety checks, are in ``torch_pickle``.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray
from shadowlens.models.convert import ConversionError
from shadowlens.models.convert.torch_pickle import (
    StateUnpickler,
    Storage,
    TensorRef,
    load_pickle,
    storage_fields,
    tensor_array,
)

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
ZIP_SIGNATURE = b"PK\x03\x04"
# Where a training checkpoint keeps the state dict, when the file is not the state dict itself.
WRAPPER_KEYS = ("state_dict", "model")

StateDict = dict[str, NDArray[Any]]


def _read_exact(handle: IO[bytes], count: int, size: int, what: str, where: str) -> bytes:
    # Checked against the file size first: a forged count must not make us allocate terabytes.
    left = size - handle.tell()
    if count > left:
        raise ConversionError(f"{where}: truncated: {what} needs {count} bytes, {left} left")
    return handle.read(count)


def _load_legacy(handle: IO[bytes], size: int, where: str) -> object:
    def plain() -> Any:
        return load_pickle(StateUnpickler(handle, None), where)

    if plain() != LEGACY_MAGIC:
        raise ConversionError(f"{where}: not a PyTorch file (no torch magic number)")
    protocol = plain()
    if protocol != LEGACY_PROTOCOL:
        raise ConversionError(f"{where}: unsupported torch serialization protocol {protocol!r}")
    system = plain()
    if isinstance(system, dict) and system.get("little_endian") is False:
        raise ConversionError(f"{where}: written on a big-endian machine; not supported")

    storages: dict[str, Storage] = {}

    def storage_for(pid: tuple[object, ...]) -> Storage:
        dtype, key, numel, view = storage_fields(pid)
        root = storages.setdefault(key, Storage(key, dtype, numel))
        if view is None:
            return root
        if not (isinstance(view, tuple) and len(view) == 3 and all(isinstance(v, int | str) for v in view)):
            raise ConversionError(f"malformed storage view {view!r:.80}")
        view_key, offset, view_numel = view
        if not isinstance(offset, int) or not isinstance(view_numel, int) or offset + view_numel > numel:
            raise ConversionError(f"storage view {view_key!r} reaches outside storage {key!r}")
        return storages.setdefault(
            str(view_key), Storage(str(view_key), dtype, view_numel, None, root, offset)
        )

    state = load_pickle(StateUnpickler(handle, storage_for), where)
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
            storages: dict[str, Storage] = {}

            def storage_for(pid: tuple[object, ...]) -> Storage:
                dtype, key, numel, _ = storage_fields(pid)
                return storages.setdefault(key, Storage(key, dtype, numel))

            state = load_pickle(StateUnpickler(io.BytesIO(archive.read(pickles[0])), storage_for), where)
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


def _state_dict(root: object, where: str) -> StateDict:
    if isinstance(root, dict) and not any(isinstance(v, TensorRef) for v in root.values()):
        inner = next((root[k] for k in WRAPPER_KEYS if isinstance(root.get(k), dict)), None)
        root = inner if inner is not None else root
    if not isinstance(root, dict) or not root:
        raise ConversionError(f"{where}: holds a {type(root).__name__}, not a state dict of tensors")
    tensors: StateDict = {}
    for key, value in root.items():
        if not isinstance(key, str) or not isinstance(value, TensorRef):
            raise ConversionError(f"{where}: entry {key!r} is a {type(value).__name__}, not a tensor")
        tensors[key] = tensor_array(value, key)
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
