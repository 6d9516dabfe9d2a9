"""The photos screen's stored sort keys and trigram search (migration 0007, issue #18).

Each new query is held to the one it replaced (``sort_keys_library``'s reference SQL) on a real
index written through ``Store.save``: the same photos in the same order for every sort and
search, after every kind of write that changes what they depend on. The query plans show the
sorts walk an index and the search asks ``photo_search``; the upgrade from 0006 fills the keys
as the writer would have stored them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from shadowlens.daemon.analysis.results import AnalysisResult, FileStat
from shadowlens.daemon.index.db import alembic_config, current_revision, head_revision, open_index
from shadowlens.daemon.index.reads import browse, search
from shadowlens.daemon.index.reads.browse import PhotoFilter
from shadowlens.daemon.index.reads.queries import Reader
from shadowlens.daemon.index.schema import Person
from shadowlens.daemon.index.writer import Store
from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session

from tests.conftest import CLOCK_VAR, LIBRARY_NOW
from tests.sort_keys_library import (
    COPY,
    ENGINE,
    LIB,
    SEARCHES,
    build,
    new_page,
    old_page,
    old_person_faces,
    result,
    stored_keys_problems,
)

SORTS = [(sort, descending) for sort in browse.SORTS for descending in (False, True)]


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # The writer stamps rows with clock.utc_naive(): never the wall clock in a test.
    monkeypatch.setenv(CLOCK_VAR, LIBRARY_NOW)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    built = build(tmp_path / "index.sqlite3")
    yield built
    built.close()


def assert_as_before(engine: Engine) -> None:
    """Every sort and search lists what the old queries list, and every stored key is right."""
    assert stored_keys_problems(engine) == []
    for sort, descending in SORTS:
        assert new_page(engine, sort, descending) == old_page(engine, sort, descending), (sort, descending)
    for words in SEARCHES:
        assert new_page(engine, "exposure", True, words) == old_page(engine, "exposure", True, words), words


def photo_ids(engine: Engine, words: str) -> list[int]:
    return [row[0] for row in new_page(engine, "path", False, words)]


def copy_of(name: str, path: str) -> AnalysisResult:
    """A second path for an analysed content, as the scan stores one: no new analysis."""
    sha256 = result(name, None, [], []).sha256
    return AnalysisResult(path=f"{LIB}/{path}", stat=FileStat(10, 1, 2, 5), sha256=sha256, linked=True)


def photo_id(engine: Engine, name: str) -> int:
    with engine.connect() as connection:
        found = connection.execute(text("SELECT photo_id FROM files WHERE path = :p"), {"p": f"{LIB}/{name}"})
        return int(found.scalar_one())


@pytest.mark.parametrize(("sort", "descending"), SORTS)
def test_every_sort_lists_what_the_old_query_listed(store: Store, sort: str, descending: bool) -> None:
    old = old_page(store.engine, sort, descending)
    assert len(old) == 7  # every photo (the copy shares one), so the test compares something
    assert new_page(store.engine, sort, descending) == old


@pytest.mark.parametrize("few", [search.FEW, 1], ids=["few-candidates", "many-candidates"])
@pytest.mark.parametrize("words", SEARCHES)
def test_every_search_finds_what_the_old_query_found(
    store: Store, monkeypatch: pytest.MonkeyPatch, words: str, few: int
) -> None:
    # FEW = 1: every search with a trigram takes the path a search of thousands of photos takes.
    monkeypatch.setattr(search, "FEW", few)
    engine = store.engine
    for sort, descending in SORTS:
        assert new_page(engine, sort, descending, words) == old_page(engine, sort, descending, words)
    expected = len(old_page(engine, "date", True, words))
    assert browse.photo_count(engine, PhotoFilter(search=words)) == expected


def test_the_searches_cover_what_they_claim(store: Store) -> None:
    assert len(photo_ids(store.engine, "Backup")) == 1  # the copy's path only
    assert photo_ids(store.engine, "évry") == []  # LIKE folds ASCII letters only
    assert photo_ids(store.engine, "Évry") == [photo_id(store.engine, "Évry/Élan.jpg")]
    assert len(photo_ids(store.engine, "IMG_0001")) == 2  # "_" matches any one character
    assert photo_ids(store.engine, "Paris%Backup") == []  # never across the city and a path


def test_a_persons_best_faces_are_the_old_querys(store: Store) -> None:
    with store.engine.connect() as connection:
        persons = connection.execute(text("SELECT id FROM persons")).scalars().all()
    assert len(persons) == 5
    for person in persons:
        for limit in (1, 2, 60):  # cut inside a tie in confidence (person of IMGX0001.jpg)
            old = old_person_faces(store.engine, person, limit)
            assert browse.person_faces(store.engine, person, limit) == old


def test_persons_are_listed_as_the_orm_listed_them(store: Store) -> None:
    store.profile.set_child(1, True)
    store.profile.set_owner(2)
    store.profile.rename_person(3, "Ana")
    store.profile.split_face(8)
    with Session(store.engine) as session:  # Reader.persons as it was, through the ORM
        old = [
            {
                "id": p.id,
                "name": p.name,
                "engine": p.engine,
                "photo_count": p.photo_count,
                "face_count": p.face_count,
                "is_owner": p.is_owner,
                "is_child": p.child_override if p.child_override is not None else p.is_child,
                "cover_face_id": p.cover_face_id,
            }
            for p in session.scalars(select(Person).order_by(Person.photo_count.desc(), Person.id))
        ]
    listed = Reader(store.engine).persons()
    assert listed == old
    assert [type(p["is_child"]) for p in listed] == [bool] * 6
    assert listed[0]["is_child"] is True


def test_keys_follow_a_new_analysis_of_a_photo(store: Store) -> None:
    photo = photo_id(store.engine, "Paris/a.jpg")
    store.save(result("Paris/a.jpg", "Nice", ["Zubrowka", "Aperol"], [0.4]))  # same content: re-analysed
    assert photo_id(store.engine, "Paris/a.jpg") == photo
    assert_as_before(store.engine)
    with store.engine.connect() as connection:
        keys = connection.execute(
            text("SELECT person_faces, first_brand FROM photos WHERE id = :p"), {"p": photo}
        )
        assert keys.one() == (0, "Aperol")  # the new face waits for the profile
    assert photo_ids(store.engine, "heineken") == [photo_id(store.engine, "IMG_0001.jpg")]
    assert photo_ids(store.engine, "zubrow") == photo_ids(store.engine, "Nice") == [photo]


def test_keys_and_search_follow_renames_moves_copies_and_deletes(store: Store) -> None:
    night = photo_id(store.engine, "Paris/night.jpg")
    assert store.move_file(f"{LIB}/IMG_0001.jpg", f"{LIB}/Holiday/beach.jpg")
    assert store.move_tree(f"{LIB}/Paris", f"{LIB}/Roma")
    assert_as_before(store.engine)
    assert photo_ids(store.engine, "IMG_0001") == [photo_id(store.engine, "IMGX0001.jpg")]
    assert photo_ids(store.engine, "Holiday/beach") == [photo_id(store.engine, "Holiday/beach.jpg")]
    assert photo_ids(store.engine, "Roma/night") == [night]

    store.save(copy_of("Paris/night.jpg", "Again/night.jpg"))
    store.remove_files([f"{LIB}/{COPY}"])
    store.save(result("Lyon/b.jpg", None, ["Kronenbourg"], [], content="edited"))  # new content
    store.remove_files([f"{LIB}/100%.jpg", f"{LIB}/Roma/night.jpg"], keep_content=True)
    assert_as_before(store.engine)
    assert photo_ids(store.engine, "Backup") == photo_ids(store.engine, "100%") == []
    assert photo_ids(store.engine, "Again/night") == photo_ids(store.engine, "Starbucks") == [night]

    assert store.forget_orphans(timedelta(0)) == 2  # the old content of Lyon/b.jpg, and 100%.jpg
    store.remove_tree(f"{LIB}/Roma")  # the last file of Paris/a.jpg's content
    assert_as_before(store.engine)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM photo_search")).scalar_one() == 5


def test_keys_follow_reclusters_merges_and_splits(store: Store) -> None:
    with store.engine.connect() as connection:
        faces = connection.execute(text("SELECT id, person_id FROM faces ORDER BY id")).all()
    # A re-cluster: faces change persons, some lose theirs, some ungrouped ones get one.
    person_of = [None if person == 2 else (5 if person is None else person) for _, person in faces]
    store.profile.replace_clusters(ENGINE, [face for face, _ in faces], person_of)
    assert_as_before(store.engine)
    store.profile.merge_persons(1, [3, 4])
    assert_as_before(store.engine)
    loose = next(face for face, person in zip(faces, person_of, strict=True) if person is None)[0]
    store.profile.split_face(loose)  # a face of no person becomes one: its photo counts one more
    store.profile.split_face(1)
    assert_as_before(store.engine)
    store.profile.assign_faces(ENGINE, {faces[2][0]: 1}, [])
    assert_as_before(store.engine)


def plan(engine: Engine, call: Any) -> str:
    """SQLite's plan of the last statement ``call`` runs, one step a line."""
    statements: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    statement, parameters = statements[-1]
    with engine.connect() as connection:
        steps = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return "\n".join(step[-1] for step in steps)


@pytest.mark.parametrize(("sort", "descending"), SORTS)
def test_the_sorts_walk_an_index(store: Store, sort: str, descending: bool) -> None:
    steps = plan(store.engine, lambda: browse.photo_page(store.engine, PhotoFilter(), sort, descending))
    assert "SCAN p USING INDEX ix_photos_" in steps
    assert "USE TEMP B-TREE FOR ORDER BY" not in steps


@pytest.mark.parametrize("few", [search.FEW, 1], ids=["few-candidates", "many-candidates"])
def test_the_search_asks_the_trigram_index(store: Store, monkeypatch: pytest.MonkeyPatch, few: int) -> None:
    monkeypatch.setattr(search, "FEW", few)
    steps = plan(
        store.engine, lambda: browse.photo_page(store.engine, PhotoFilter(search="Paris"), "brand", False)
    )
    assert "SCAN photo_search VIRTUAL TABLE" in steps
    if few == 1:  # many candidates: the page's own sort index is the outer loop, and it stops
        assert "SCAN p USING INDEX ix_photos_first_brand_nulls_last" in steps
        assert "USE TEMP B-TREE FOR ORDER BY" not in steps


def test_a_persons_faces_walk_the_confidence_index(store: Store) -> None:
    steps = plan(store.engine, lambda: browse.person_faces(store.engine, 4))
    assert "ix_faces_person_id_confidence" in steps
    assert "USE TEMP B-TREE FOR ORDER BY" not in steps


def test_an_index_at_0006_upgrades_to_what_the_writer_stores(tmp_path: Path) -> None:
    written = build(tmp_path / "written.sqlite3")
    written.close()
    # The same rows in an index made at 0006: every column that revision has, copied.
    index = tmp_path / "old.sqlite3"
    engine = open_index(index, upgrade=False)
    command.upgrade(alembic_config(engine), "0006")
    engine.dispose()
    raw = sqlite3.connect(index)
    raw.execute("ATTACH DATABASE ? AS written", (str(tmp_path / "written.sqlite3"),))
    tables = [t for (t,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        if table != "alembic_version":
            columns = ", ".join(c[1] for c in raw.execute(f"PRAGMA table_info({table})"))
            raw.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM written.{table}")
    raw.commit()
    raw.close()

    engine = open_index(index)  # the upgrade shadowlens runs on opening an older index
    reference = open_index(tmp_path / "written.sqlite3")
    assert current_revision(engine) == head_revision()
    assert stored_keys_problems(engine) == []
    assert dump(engine) == dump(reference)
    for sort, descending in SORTS:
        assert new_page(engine, sort, descending) == old_page(engine, sort, descending)

    command.downgrade(alembic_config(engine), "0006")  # keeps every row, drops what 0007 added
    assert dump(engine, keys=False) == dump(reference, keys=False)
    with engine.connect() as connection:
        left = "SELECT name FROM sqlite_master WHERE name LIKE '%search%' OR sql LIKE '%nulls_last%'"
        assert connection.execute(text(left)).all() == []
    command.upgrade(alembic_config(engine), "head")
    assert dump(engine) == dump(reference)
    engine.dispose()
    reference.dispose()


def dump(engine: Engine, keys: bool = True) -> dict[str, Any]:
    """Rows of the tables 0007 changed, with (``keys``) or without what it added."""
    added = ", person_faces, first_brand, first_path" if keys else ""
    queries = {
        "photos": f"SELECT id, sha256, city{added} FROM photos ORDER BY id",
        "files": "SELECT path, photo_id FROM files ORDER BY path",
        "findings": "SELECT id, photo_id, kind, label FROM findings ORDER BY id",
        "faces": f"SELECT id, photo_id, person_id{', confidence' if keys else ''} FROM faces ORDER BY id",
    }
    with engine.connect() as connection:
        rows: dict[str, list[Any]] = {
            name: list(connection.execute(text(sql))) for name, sql in queries.items()
        }
        if keys:
            words = connection.execute(text("SELECT rowid, words FROM photo_search ORDER BY rowid"))
            rows["photo_search"] = [(rowid, sorted(w.split("\n"))) for rowid, w in words]
    return rows
