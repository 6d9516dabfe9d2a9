"""A raw file and the JPEG the camera wrote beside it are one moment: the raw file names its
twin, and the profile counts the moment once, through the twin, while the twin is indexed."""

from __future__ import annotations

import shutil
from pathlib import Path

from shadowlens.daemon.analysis.decode import open_photo
from shadowlens.daemon.analysis.detector import PhotoContext
from shadowlens.daemon.analysis.findings import GpsFinding, RawPairFinding
from shadowlens.daemon.analysis.results import AnalysisResult, DetectorRun, FileStat
from shadowlens.daemon.detectors.metadata import MetadataDetector
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.profile.load import load_facts

from tests import metadata_builders as build


def test_a_raw_file_names_the_jpeg_beside_it(tmp_path: Path) -> None:
    raw = tmp_path / "DSC_0042.NEF"
    shutil.copyfile(build.raw_sample_or_skip("Nikon.nef"), raw)
    detector = MetadataDetector(MetadataDetector.Settings())

    def pairs() -> list[str]:
        decoded = open_photo(raw, want_side=512, max_megapixels=250)
        found = detector.detect(PhotoContext(path=raw, decoded=decoded))
        return [f.label for f in found if isinstance(f, RawPairFinding)]

    assert pairs() == []
    build.base_photo().save(tmp_path / "DSC_0043.JPG")  # another moment
    assert pairs() == []
    build.base_photo().save(tmp_path / "DSC_0042.JPG")
    assert pairs() == ["DSC_0042.JPG"]


def _result(path: Path, sha: str, *extra: object) -> AnalysisResult:
    path.write_bytes(sha.encode())
    findings = [GpsFinding(label="43.0, 11.0", lat=43.0, lon=11.0), *extra]
    run = DetectorRun("metadata", MetadataDetector.version, findings)  # type: ignore[arg-type]
    return AnalysisResult(
        path=str(path),
        stat=FileStat.of(path),
        sha256=sha * 64,
        format="JPEG",
        width=10,
        height=10,
        runs=[run],
    )


def test_the_profile_counts_a_raw_and_jpeg_pair_once(tmp_path: Path) -> None:
    jpeg, raw, lone = tmp_path / "DSC_0042.JPG", tmp_path / "DSC_0042.NEF", tmp_path / "DSC_0050.NEF"
    store = Store.open(tmp_path / "index.sqlite3")
    try:
        store.save(_result(jpeg, "a"))
        store.save(_result(raw, "b", RawPairFinding(label=jpeg.name, sibling=str(jpeg))))
        store.save(_result(lone, "c"))
        with store.transaction() as session:
            paths = sorted(Path(f.path).name for f in load_facts(session))
        assert paths == ["DSC_0042.JPG", "DSC_0050.NEF"]
        # The twin deleted: the raw file is the moment's only record and counts again.
        store.remove_files([str(jpeg)])
        with store.transaction() as session:
            paths = sorted(Path(f.path).name for f in load_facts(session))
        assert paths == ["DSC_0042.NEF", "DSC_0050.NEF"]
    finally:
        store.close()
