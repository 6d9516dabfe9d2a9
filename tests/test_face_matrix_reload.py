"""The daemon sees the user's decisions about persons as soon as the next face arrives.

The daemon keeps every face embedding in memory (profile/updater.py) to assign new faces to
persons quickly. A merge or split made in the TUI changes persons in the index only; a daemon
that kept its old matrix would put the next face of a merged-away person under an id that no
longer exists, until the nightly re-cluster. First a real ``shadowlens watch`` indexes labelled
faces of the corpus, the TUI's Library merges Obama into another person, and a new photo of
Obama must join the person that survived the merge. Then, on a small synthetic index, which
decisions make the updater read its matrix again (and that nothing else does).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from shadowlens.daemon.config import Config
from shadowlens.daemon.index.schema import Face, FindingRow, Photo
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.profile import face_matrix
from shadowlens.daemon.profile.face_matrix import load_matrices
from shadowlens.daemon.profile.updater import ProfileUpdater
from shadowlens.tui.library import Library

from tests.conftest import Env, corpus_or_skip
from tests.daemon_helpers import WatchProcess, query, wait_for

# Faces only: the other detectors add nothing to persons and minutes to the test.
CONFIG = "".join(
    f"[detectors.{name}]\nenabled = false\n"
    for name in ("text", "codes", "nudity", "brands", "pii", "scene", "objects", "logos")
)
# Obama's face is in all five photos of face_recognition/ (one person of five faces);
# bald_guys.jpg is 4 actors x 6 faces, four more persons.
OBAMA = ("obama.jpg", "obama-240p.jpg", "obama_partial_face.jpg", "obama_and_biden.jpg", "two_people.jpg")
ACTORS = "bald_guys.jpg"


def _sources() -> tuple[list[Path], Path]:
    corpus = corpus_or_skip()
    photos = [corpus / "face_recognition" / name for name in OBAMA] + [corpus / "dlib-faces" / ACTORS]
    missing = [str(p.relative_to(corpus)) for p in photos if not p.is_file()]
    if missing:
        pytest.skip(f"the corpus lacks the labelled faces this test needs: {', '.join(missing)}")
    return photos[:-1], photos[-1]


def _scored(index: Path, path: Path) -> bool:
    """The daemon's profile work for the photo is done: faces assigned, then the score set."""
    rows = query(
        index,
        "SELECT p.exposure FROM files f JOIN photos p ON p.id = f.photo_id WHERE f.path = ?",
        str(path),
    )
    return bool(rows) and rows[0][0] is not None


def _persons_of(index: Path, path: Path) -> list[int | None]:
    rows = query(
        index,
        "SELECT fa.person_id FROM faces fa JOIN files f ON f.photo_id = fa.photo_id "
        "WHERE f.path = ? ORDER BY fa.id",
        str(path),
    )
    return [row[0] for row in rows]


def _another_photo_of(source: Path, target: Path) -> Path:
    """The same face in a new file: scaled and re-encoded, so its content (sha256) is new."""
    from PIL import Image

    with Image.open(source) as image:
        smaller = image.convert("RGB").resize((image.width * 85 // 100, image.height * 85 // 100))
    target.parent.mkdir(parents=True, exist_ok=True)
    smaller.save(target, "JPEG", quality=88)
    return target


@pytest.mark.corpus
@pytest.mark.slow
def test_a_face_arriving_after_a_tui_merge_joins_the_surviving_person(env: Env, tmp_path: Path) -> None:
    obama_photos, actors = _sources()
    folder = tmp_path / "Pictures"
    folder.mkdir()
    for source in [*obama_photos, actors]:
        shutil.copy(source, folder / source.name)
    staged = _another_photo_of(obama_photos[0], tmp_path / "staging" / "obama-again.jpg")
    env.write_config(CONFIG)
    proc = WatchProcess(env, folder, "--workers", "1")
    try:
        proc.wait_ready()
        library = sorted(folder.iterdir())
        wait_for(
            lambda: all(_scored(env.index, p) for p in library),
            timeout=240,
            what="the library's faces assigned and scored",
            proc=proc,
        )
        (obama,) = set(_persons_of(env.index, folder / "obama.jpg"))
        actor = next(p for p in _persons_of(env.index, folder / ACTORS) if p is not None)
        assert obama is not None and actor != obama

        # The TUI's path for a merge: Library -> Store.profile, in this (another) process.
        tui = Library(env.index, env.root / "state" / "shadowlens")
        try:
            tui.merge_persons(actor, [obama])
        finally:
            tui.close()
        assert query(env.index, "SELECT count(*) FROM persons WHERE id = ?", obama) == [(0,)]

        arrived = folder / staged.name
        staged.rename(arrived)  # as a sync tool delivers it: complete, in one step
        wait_for(lambda: _scored(env.index, arrived), timeout=120, what="the new photo scored", proc=proc)
        joined = _persons_of(env.index, arrived)
    finally:
        proc.stop()

    assert joined == [actor], (
        f"the new face of the merged-away person {obama} should join {actor}, the person it was "
        f"merged into; it got {joined}"
    )
    counted = query(
        env.index,
        "SELECT p.face_count, (SELECT count(*) FROM faces f WHERE f.person_id = p.id) FROM persons p "
        "WHERE p.id = ?",
        actor,
    )
    assert counted and counted[0][0] == counted[0][1], "the surviving person's count includes the new face"


# -- the same contract in one process, on synthetic faces ------------------------------------------

ENGINE, DIM = "dlib-resnet-128", 128


def _unit(rows: NDArray[np.float64]) -> NDArray[np.float32]:
    scaled: NDArray[np.float32] = (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)
    return scaled


def _add_photo(store: Store, n: int, vector: NDArray[np.float32], engine: str = ENGINE) -> tuple[int, int]:
    """A photo with one embedded, unassigned face, as the writer stores it; (photo id, face id)."""
    with store.transaction() as session:
        photo = Photo(sha256=f"{n:064x}", size=1, status="indexed", signature="test")
        session.add(photo)
        session.flush()
        finding = FindingRow(
            photo_id=photo.id,
            kind="face",
            label="face",
            confidence=0.9,
            bbox=None,
            attrs={"age": 30.0},
            detector="faces",
            detector_version="1",
        )
        session.add(finding)
        session.flush()
        face = Face(
            photo_id=photo.id,
            finding_id=finding.id,
            engine=engine,
            dim=len(vector),
            embedding=vector.tobytes(),
        )
        session.add(face)
        session.flush()
        return photo.id, face.id


def _face(store: Store, face_id: int) -> Face:
    with store.transaction() as session:
        face = session.get(Face, face_id)
    assert face is not None
    return face


class CountingUpdater(ProfileUpdater):
    """The daemon's updater, counting how often it reads every face (300k faces: ~1 s each)."""

    loads = 0

    def load(self) -> None:
        self.loads += 1
        super().load()


def test_the_updater_reads_its_matrix_again_only_after_a_decision(tmp_path: Path) -> None:
    index = tmp_path / "index.sqlite3"
    daemon_store, tui = Store.open(index), Library(index, tmp_path / "state")
    updater = CountingUpdater(daemon_store, Config())
    try:
        rng = np.random.default_rng(7)
        centres = _unit(rng.standard_normal((2, DIM)))  # two persons, ~1.0 apart
        faces: list[int] = []
        for n in range(6):
            vector = _unit(centres[n % 2] + 0.01 * rng.standard_normal(DIM))
            photo_id, face_id = _add_photo(daemon_store, n, vector)
            updater.photo_indexed(photo_id)
            faces.append(face_id)
        first, second = _face(daemon_store, faces[0]).person_id, _face(daemon_store, faces[1]).person_id
        assert first is not None and second is not None and first != second
        assert updater.loads == 1, "read once, then kept current by the incremental path"

        # The TUI splits a face off the first person; a new face identical to it must join the
        # split-off person, which only a matrix read after the split knows.
        split_face = faces[4]
        alone = tui.split_face(split_face)
        twin = np.frombuffer(_face(daemon_store, split_face).embedding, dtype=np.float32).copy()
        photo_id, new_face = _add_photo(daemon_store, 100, twin)
        updater.photo_indexed(photo_id)
        assert _face(daemon_store, new_face).person_id == alone
        assert updater.loads == 2

        tui.rename_person(first, "Alex")
        assert not updater.sync(), "a name is not part of what the daemon holds"
        decisions: list[Callable[[], object]] = [
            lambda: tui.merge_persons(first, [alone]),
            lambda: tui.set_owner(first),
            lambda: tui.set_child(second, True),
        ]
        for decide in decisions:
            updater.dirty = False
            decide()
            assert updater.sync() and updater.dirty, "the profile is rebuilt at the next refresh"
            assert not updater.sync(), "one decision, one reload"
        assert updater.loads == 2, "sync only marks the matrix stale; the next photo reads it"
    finally:
        tui.close()
        daemon_store.close()


# -- reading the matrices ---------------------------------------------------------------------------


def test_the_matrices_hold_every_face_of_each_engine_with_its_person(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in chunks into one matrix per engine, allocated once."""
    monkeypatch.setattr(face_matrix, "CHUNK", 4)  # several chunks, and a short last one
    store = Store.open(tmp_path / "index.sqlite3")
    try:
        rng = np.random.default_rng(3)
        dlib = _unit(rng.standard_normal((11, DIM)))
        arcface = _unit(rng.standard_normal((2, 512)))
        ids: dict[str, list[int]] = {ENGINE: [], "arcface-r100": []}
        for n, vector in enumerate(dlib):
            ids[ENGINE].append(_add_photo(store, n, vector)[1])
        for n, vector in enumerate(arcface, 100):
            ids["arcface-r100"].append(_add_photo(store, n, vector, "arcface-r100")[1])
        with store.transaction() as session:
            session.get(Face, ids[ENGINE][2]).person_id = 7  # type: ignore[union-attr]
        with store.transaction() as session:
            matrices = load_matrices(session)
    finally:
        store.close()

    assert set(matrices) == {ENGINE, "arcface-r100"}
    for engine, vectors in ((ENGINE, dlib), ("arcface-r100", arcface)):
        matrix = matrices[engine]
        face_ids, held, persons = matrix.snapshot()
        assert matrix.dim == vectors.shape[1] and face_ids.tolist() == ids[engine]
        np.testing.assert_array_equal(held, vectors)
        room = len(vectors) + int(len(vectors) * face_matrix.HEADROOM)
        assert len(matrix._ids) == room, "allocated once, at the final size and some headroom"
        expected = [7 if face == ids[ENGINE][2] else -1 for face in face_ids.tolist()]
        assert persons.tolist() == expected
    # Loaded matrices serve the incremental path as before: a twin of a face finds it.
    found, _ = matrices[ENGINE].within(dlib[5], 0.01)
    assert found.tolist() == [ids[ENGINE][5]]


def test_a_stored_embedding_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "index.sqlite3")
    try:
        _, face_id = _add_photo(store, 1, _unit(np.ones((1, DIM)))[0])
        with store.transaction() as session:
            session.get(Face, face_id).embedding = b"\0" * 12  # type: ignore[union-attr]
        with store.transaction() as session, pytest.raises(ValueError, match="not 128 float32"):
            load_matrices(session)
    finally:
        store.close()
