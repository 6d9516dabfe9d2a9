"""Persons from real faces: the labelled face photos of the corpus, scanned by the real CLI.

Obama appears in five photos (and with Biden in two more); the scan must put his faces into one
person, mark him as the owner (the person who appears most), give every face finding its
person_id, and keep user decisions (a name, "this is me", merges, splits) across a re-cluster.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from shadowlens.daemon.config import Config
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.profile.updater import ProfileUpdater

from tests.conftest import LIBRARY_NOW, Env, corpus_or_skip

pytestmark = pytest.mark.corpus
CONFIG = "".join(
    f"[detectors.{n}]\nenabled = false\n" for n in ("text", "codes", "nudity", "brands", "pii", "scene")
)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Env, Path]:
    root = tmp_path_factory.mktemp("people")
    env, library = Env(root / "home", now=LIBRARY_NOW), root / "library"
    shutil.copytree(corpus_or_skip() / "face_recognition", library)
    env.write_config(CONFIG)
    env.run("scan", str(library))
    return env, library


def faces_by_file(env: Env) -> dict[str, list[Any]]:
    return {
        Path(p["path"]).name: [f.get("person_id") for f in p["findings"] if f["kind"] == "face"]
        for p in env.json("photos")
    }


def obama_person(env: Env) -> int:
    faces = faces_by_file(env)
    solo = [faces[n][0] for n in ("obama.jpg", "obama2.jpg", "obama-240p.jpg") if faces.get(n)]
    assert len(solo) >= 2 and len(set(solo)) == 1 and solo[0] is not None, faces
    return int(solo[0])


def test_faces_cluster_into_persons_and_the_most_seen_is_the_owner(scanned: tuple[Env, Path]) -> None:
    env, _ = scanned
    obama = obama_person(env)
    profile = env.json("profile")
    assert profile["owner"]["person_id"] == obama and profile["owner"]["source"] == "most photos"
    people = {p["id"]: p for p in profile["people"]}
    assert people[obama]["photo_count"] >= 4 and not people[obama]["is_child"]
    # Different persons never share an id within one photo.
    for name, ids in faces_by_file(env).items():
        assigned = [i for i in ids if i is not None]
        assert len(assigned) == len(set(assigned)), name


def test_user_decisions_survive_a_recluster(scanned: tuple[Env, Path]) -> None:
    env, _ = scanned
    obama = obama_person(env)
    store = Store.open(env.index)
    try:
        store.profile.rename_person(obama, "Barack")
        store.profile.set_owner(obama)
        updater = ProfileUpdater(store, Config())
        updater.recluster()
        snapshot = updater.refresh(force=True)
        assert snapshot is not None
    finally:
        store.close()
    assert obama_person(env) == obama, "the re-cluster keeps the person's id"
    profile = env.json("profile")
    assert profile["owner"] == {
        "person_id": obama,
        "name": "Barack",
        "photo_count": profile["owner"]["photo_count"],
        "source": "user",
    }
    # Faces of people other than the owner now count as others in the scores; the owner's do not.
    photos = {Path(p["path"]).name: p for p in env.json("photos")}
    # The file's own IPTC says "WASHINGTON, DC, USA": that place is a reason, the face is not.
    assert [r["code"] for r in photos["obama.jpg"]["reasons"]] == ["written_place"]


def test_split_and_merge(scanned: tuple[Env, Path]) -> None:
    env, _ = scanned
    obama = obama_person(env)
    store = Store.open(env.index)
    try:
        with store.engine.connect() as connection:
            face_id = connection.exec_driver_sql(
                "SELECT id FROM faces WHERE person_id = ? ORDER BY id LIMIT 1", (obama,)
            ).scalar_one()
        alone = store.profile.split_face(int(face_id))
        assert alone != obama
        store.profile.merge_persons(obama, [alone])
        with pytest.raises(ValueError, match="no person"):
            store.profile.merge_persons(obama, [alone])
    finally:
        store.close()
    persons = {p["id"]: p for p in env.json("profile", "--refresh")["people"]}
    assert alone not in persons and persons[obama]["name"] == "Barack"
