"""Optimised ONNX graphs kept in the cache folder, so that a new worker does not optimise them again.

onnxruntime optimises a model's graph (folding constants, fusing layers, choosing the layouts this
CPU runs fastest) every time it opens it: 10 to 40 ms for each default model, 0.1 s of the first
photo a restarted pool analyses, and the copies it makes on the way stay in the worker's heap (38
MB over the default models). So the first session saves its optimised graph, and later ones open
that with optimisation off: the same graph, so the same outputs, bit for bit
(tests/test_onnx_cache.py).

An entry is a folder named after the source file (its stem and resolved path) and a key of what
the optimised graph depends on: the source's identity on disk (size, mtime_ns, inode: trusted as
models/registry.py trusts a verified hash, since hashing a model costs as much as optimising it),
onnxruntime's version, and this CPU (onnxruntime picks layouts for its instruction set). It holds
the graph and a record of the graph's size and mtime, is renamed into place whole, and is used
only while the record matches. A missing, damaged or unwritable entry only means optimising as
before: never an error of its own.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from shadowlens.daemon.paths import process_alive

log = logging.getLogger(__name__)
S = TypeVar("S")
# Opens a session on a graph: (graph, already optimised?, where to save the optimised graph).
Opener = Callable[[Path, bool, Path | None], S]

FORMAT = "1"  # bump when an entry's layout changes: its key holds it
GRAPH, RECORD = "model.onnx", "record.json"
# Scratch folders are named after their process, so a killed build can be told from a running one.
BUILDING, DISCARDED = ".building-", ".discarded-"


@functools.cache
def cpu_signature() -> str:
    """The machine and its instruction-set extensions, which the optimised layouts depend on."""
    flags = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("flags", "Features"):  # x86, ARM
                flags = " ".join(sorted(value.split()))
                break
    return f"{platform.machine()} {flags or platform.processor()}"


def open_session(source: Path, folder: Path, runtime: str, opener: Opener[S]) -> S:
    """A session of ``source`` from its optimised graph in ``folder``, which is saved there first
    if it is not yet, or again if what is there is damaged."""
    try:
        entry = folder / entry_name(source, runtime)
    except OSError:
        return opener(source, False, None)  # no such model: onnxruntime says so in its own words
    # Looked at before it is read: an entry that appears in between is another worker's new one,
    # not a damaged one to discard.
    existed = entry.exists()
    graph = cached_graph(entry)
    if graph is not None:
        try:
            return opener(graph, True, None)
        except Exception as exc:  # onnxruntime's errors (Fail, InvalidProtobuf, ...) share no base
            log.warning("the optimised graph %s cannot be read (%s): optimising %s again", graph, exc, source)
    if existed:
        discard(entry)
    scratch = scratch_for(folder)
    if scratch is None:
        return opener(source, False, None)
    try:
        session = opener(source, False, scratch / GRAPH)
    except Exception:
        shutil.rmtree(scratch, ignore_errors=True)
        return opener(source, False, None)  # without saving; a bad model raises its own error here
    publish(scratch, entry, source)
    return session


def entry_name(source: Path, runtime: str) -> str:
    """The entry of ``source`` as it is on disk now, optimised by onnxruntime ``runtime`` here."""
    path = source.resolve()
    st = path.stat()
    where = hashlib.sha256(os.fsencode(path)).hexdigest()[:12]
    key = json.dumps([FORMAT, st.st_size, st.st_mtime_ns, st.st_ino, runtime, cpu_signature()])
    return f"{path.stem}-{where}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _graph_stat(graph: Path) -> dict[str, int]:
    st = graph.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def cached_graph(entry: Path) -> Path | None:
    """The entry's graph, if the entry is whole and the graph is as it was written."""
    try:
        record = json.loads((entry / RECORD).read_text(encoding="utf-8"))
        graph = entry / GRAPH
        current = _graph_stat(graph)
    except (OSError, ValueError):
        return None
    whole = isinstance(record, dict) and all(record.get(k) == v for k, v in current.items())
    return graph if whole else None


def discard(entry: Path) -> None:
    """Remove an entry; renamed aside first, so that no worker ever reads a half-deleted one."""
    with contextlib.suppress(OSError):
        aside = Path(tempfile.mkdtemp(prefix=f"{DISCARDED}{os.getpid()}-", dir=entry.parent))
        with contextlib.suppress(FileNotFoundError):  # another worker discarded it first
            os.rename(entry, aside / entry.name)
        shutil.rmtree(aside, ignore_errors=True)


def scratch_for(folder: Path) -> Path | None:
    """A private folder to build an entry in, or None when the cache cannot be written."""
    from shadowlens.daemon.paths import ensure_private_dir

    try:
        ensure_private_dir(folder)
        return Path(tempfile.mkdtemp(prefix=f"{BUILDING}{os.getpid()}-", dir=folder))
    except OSError as exc:
        log.debug("no cache of optimised graphs in %s: %s", folder, exc)
        return None


def publish(scratch: Path, entry: Path, source: Path) -> None:
    """Rename the built entry into place; workers that start together may all build it, and the
    first rename wins (a folder cannot be renamed onto one that is not empty)."""
    try:
        graph = scratch / GRAPH
        with open(graph, "rb") as handle:
            os.fsync(handle.fileno())  # on disk before the rename: a named entry is a whole one
        record = {"format": FORMAT, "source": str(source.resolve()), **_graph_stat(graph)}
        with open(scratch / RECORD, "w", encoding="utf-8") as out:
            json.dump(record, out)
            out.flush()
            os.fsync(out.fileno())
        os.rename(scratch, entry)
    except OSError as exc:
        if not entry.is_dir():  # not a lost race
            log.debug("could not keep the optimised graph of %s: %s", source, exc)
    else:
        tidy(entry)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def tidy(keep: Path) -> None:
    """Remove the other entries of ``keep``'s source (an older file, onnxruntime or CPU), entries
    whose source is gone, and the scratch folders of dead processes."""
    source_prefix = keep.name.rsplit("-", 1)[0] + "-"
    for entry in keep.parent.iterdir():
        if entry.name.startswith((BUILDING, DISCARDED)):
            pid = entry.name.removeprefix(BUILDING).removeprefix(DISCARDED).split("-")[0]
            stale = pid.isdigit() and not process_alive(int(pid))
        elif entry == keep:
            continue
        elif entry.name.startswith(source_prefix):
            stale = True
        else:
            stale = not Path(_recorded_source(entry) or "/").exists()
        if stale:
            shutil.rmtree(entry, ignore_errors=True)


def _recorded_source(entry: Path) -> str | None:
    try:
        record: Any = json.loads((entry / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    source = record.get("source") if isinstance(record, dict) else None
    return source if isinstance(source, str) else None
