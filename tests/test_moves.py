"""Content hashes: a moved, renamed or copied photo keeps its analysis and is never decoded again."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import shadowlens.daemon.analysis.pipeline as pipeline_module
from shadowlens.daemon.config import parse_config
from shadowlens.daemon.index.reads.queries import Reader
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.library.scan import Scanner, ScanSummary

from tests.conftest import Env, corpus_or_skip


def _scan(env: Env, root: Path) -> ScanSummary:
    config = parse_config({"scan": {"workers": 1}}, "<test>")
    store = Store.open(env.index)
    try:
        return Scanner(config, store).scan([root])
    finally:
        store.close()


def _forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def refuse(path: Path, **_kwargs: object) -> None:
        calls.append(str(path))
        raise AssertionError(f"{path} was decoded again")

    monkeypatch.setattr(pipeline_module, "open_photo", refuse)
    return calls


@pytest.fixture
def library(tmp_path: Path) -> Path:
    corpus = corpus_or_skip()
    root = tmp_path / "library"
    (root / "2008").mkdir(parents=True)
    shutil.copy2(corpus / "exif-samples/gps/DSCN0010.jpg", root / "2008" / "DSCN0010.jpg")
    shutil.copy2(corpus / "heic/pillow-heif/xiaomi.heic", root / "2008" / "xiaomi.heic")
    return root


def test_a_moved_file_keeps_its_findings_without_a_decode(
    env: Env, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _scan(env, library).indexed == 2
    before = Reader.open(env.index).photo(library / "2008" / "DSCN0010.jpg")
    assert before is not None and before["gps"] is not None
    (library / "Tuscany").mkdir()
    os.rename(library / "2008" / "DSCN0010.jpg", library / "Tuscany" / "renamed.jpg")
    calls = _forbid_decoding(monkeypatch)
    summary = _scan(env, library)
    assert calls == []
    assert (summary.moved, summary.indexed, summary.deleted, summary.unchanged) == (1, 0, 1, 1)
    reader = Reader.open(env.index)
    after = reader.photo(library / "Tuscany" / "renamed.jpg")
    assert reader.photo(library / "2008" / "DSCN0010.jpg") is None
    assert after is not None
    assert after["findings"] == before["findings"] and after["sha256"] == before["sha256"]
    assert reader.counts()["photos"] == 2


def test_a_copy_shares_the_analysis(env: Env, library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _scan(env, library)
    shutil.copy2(library / "2008" / "xiaomi.heic", library / "copy.heic")
    calls = _forbid_decoding(monkeypatch)
    summary = _scan(env, library)
    assert calls == [] and summary.moved == 1
    view = Reader.open(env.index).photo(library / "copy.heic")
    assert view is not None and view["other_paths"] == [str(library / "2008" / "xiaomi.heic")]


def test_a_deleted_file_leaves_the_index(env: Env, library: Path) -> None:
    _scan(env, library)
    (library / "2008" / "xiaomi.heic").unlink()
    summary = _scan(env, library)
    assert summary.deleted == 1
    reader = Reader.open(env.index)
    assert reader.counts()["photos"] == 1
    assert [p["path"] for p in reader.photos()] == [str(library / "2008" / "DSCN0010.jpg")]


def test_a_changed_file_is_analysed_again(env: Env, library: Path) -> None:
    _scan(env, library)
    target = library / "2008" / "DSCN0010.jpg"
    shutil.copy2(corpus_or_skip() / "exif-samples/mobile/HMD_Nokia_8.3_5G.jpg", target)
    summary = _scan(env, library)
    assert summary.indexed == 1
    view = Reader.open(env.index).photo(target)
    assert view is not None and view["place"]["country_code"] == "FI"
    assert Reader.open(env.index).counts()["photos"] == 2, "the old content, now unreferenced, is forgotten"


def test_a_new_detector_version_reanalyses_unchanged_files(
    env: Env, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scan(env, library)
    from shadowlens.daemon.detectors.place import PlaceDetector

    monkeypatch.setattr(PlaceDetector, "version", "2")
    summary = _scan(env, library)
    assert summary.indexed == 2 and summary.unchanged == 0
