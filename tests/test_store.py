"""The index: migrations, SQLite settings, private file modes, one writer and non-blocking readers."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from shadowlens.daemon.analysis.results import AnalysisResult, FileStat
from shadowlens.daemon.index.db import (
    IndexError_,
    alembic_config,
    current_revision,
    head_revision,
    open_index,
)
from shadowlens.daemon.index.reads.queries import Reader
from shadowlens.daemon.index.schema import Base, mapped_table
from shadowlens.daemon.index.writer import Store
from sqlalchemy import Connection, inspect, text


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_opening_creates_a_private_index_at_the_head_revision(tmp_path: Path) -> None:
    index = tmp_path / "a" / "b" / "index.sqlite3"
    engine = open_index(index)
    assert current_revision(engine) == head_revision()
    assert _mode(index) == 0o600
    assert _mode(index.parent) == 0o700
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE probe (x INTEGER)"))  # forces the WAL file into existence
    wal = index.with_name(index.name + "-wal")
    assert wal.exists() and _mode(wal) == 0o600
    engine.dispose()


def test_sqlite_settings(tmp_path: Path) -> None:
    engine = open_index(tmp_path / "index.sqlite3")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert (conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 5000
    engine.dispose()


# SQLite's reflection cannot read the expression indexes of the nulls-last sorts (migration 0007),
# so neither side compares them; they are checked by test_sort_keys_and_search.py's query plans.
@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning")
@pytest.mark.filterwarnings("ignore:.*expression-based index:sqlalchemy.exc.SAWarning")
def test_migrations_match_the_orm_schema(tmp_path: Path) -> None:
    engine = open_index(tmp_path / "index.sqlite3")
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": mapped_table})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"the ORM and the migrations disagree; write a migration: {diff}"
    engine.dispose()


def test_migrations_round_trip_down_and_up(tmp_path: Path) -> None:
    engine = open_index(tmp_path / "index.sqlite3")
    tables = set(inspect(engine).get_table_names())
    assert {"photos", "files", "findings", "faces", "scan_errors", "jobs", "detector_runs"} <= tables
    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    command.upgrade(alembic_config(engine), "head")
    assert set(inspect(engine).get_table_names()) == tables
    engine.dispose()


# A photo as any revision can hold it: a file, a brand and a face (with its finding).
OLD_ROWS: dict[str, list[dict[str, object]]] = {
    "photos": [{"id": 1, "sha256": "a" * 64, "status": "indexed", "city": "Lyon"}],
    "files": [{"path": "/photos/old.jpg", "photo_id": 1, "status": "indexed"}],
    "findings": [
        {"id": 1, "photo_id": 1, "kind": "brand", "label": "Heineken", "confidence": 1.0},
        {"id": 2, "photo_id": 1, "kind": "face", "label": "face", "confidence": 0.75},
    ],
    "faces": [{"id": 1, "photo_id": 1, "finding_id": 2, "engine": "e", "dim": 1, "embedding": b"\0"}],
}


def _insert(conn: Connection, table: str, row: dict[str, object]) -> None:
    """``row``, with a placeholder in every other column the table's revision requires."""
    filler = {"INTEGER": 0, "FLOAT": 0.0, "DOUBLE": 0.0, "BOOLEAN": 0, "JSON": "{}", "DATETIME": "2020-01-01"}
    values = dict(row)
    for _, name, type_, notnull, default, pk in conn.execute(text(f"PRAGMA table_info({table})")):
        if notnull and default is None and not pk and name not in values:
            values[name] = filler.get(type_, "x")
    names = ", ".join(values)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in values)})"), values)


def test_an_index_at_every_earlier_revision_upgrades_in_place_and_keeps_its_rows(tmp_path: Path) -> None:
    revisions = [r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()][::-1]
    for revision in revisions:
        index = tmp_path / f"index-{revision}.sqlite3"
        engine = open_index(index, upgrade=False)
        command.upgrade(alembic_config(engine), revision)
        with engine.begin() as conn:
            for table, rows in OLD_ROWS.items():
                for row in rows:
                    _insert(conn, table, row)
        engine.dispose()
        engine = open_index(index)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            # A migration that rebuilds photos must not take its findings and faces along
            # (ON DELETE CASCADE) nor unlink its files (migrations/env.py).
            kept = "SELECT f.path, f.photo_id, p.city FROM files f JOIN photos p ON p.id = f.photo_id"
            assert conn.execute(text(kept)).all() == [("/photos/old.jpg", 1, "Lyon")], revision
            assert conn.execute(text("SELECT id FROM findings")).scalars().all() == [1, 2], revision
            found = conn.execute(text("SELECT rowid FROM photo_search WHERE photo_search MATCH 'heine'"))
            assert found.scalars().all() == [1], revision
            if revision < "0007":  # what 0007 fills in (at 0007, the raw rows above leave it out)
                faces = conn.execute(text("SELECT id, person_id, confidence FROM faces")).all()
                assert faces == [(1, None, 0.75)], revision
                keys = conn.execute(text("SELECT person_faces, first_brand, first_path FROM photos")).all()
                assert keys == [(0, "Heineken", "/photos/old.jpg")], revision
        engine.dispose()


def test_an_index_from_a_newer_shadowlens_is_refused_clearly(tmp_path: Path) -> None:
    index = tmp_path / "index.sqlite3"
    open_index(index).dispose()
    raw = sqlite3.connect(index)
    raw.execute("UPDATE alembic_version SET version_num = '9999_future'")
    raw.commit()
    raw.close()
    with pytest.raises(IndexError_, match="newer than this shadowlens knows"):
        open_index(index)


def _result(path: str, sha: str) -> AnalysisResult:
    return AnalysisResult(
        path=path,
        stat=FileStat(10, 1, 2, 3),
        sha256=sha,
        format="JPEG",
        width=4,
        height=3,
        signature="metadata@1",
    )


def test_readers_are_not_blocked_by_an_open_write_transaction(tmp_path: Path) -> None:
    index = tmp_path / "index.sqlite3"
    store = Store.open(index)
    store.save(_result("/photos/a.jpg", "a" * 64))
    reader = Reader.open(index)
    entered, release = threading.Event(), threading.Event()

    def hold_write_lock() -> None:
        with store.transaction() as session:
            session.execute(text("UPDATE photos SET exposure = 1"))
            entered.set()
            release.wait(10)

    writer = threading.Thread(target=hold_write_lock)
    writer.start()
    try:
        assert entered.wait(10)
        # Must answer from the last committed state while the writer holds its lock.
        assert [p["path"] for p in reader.photos()] == ["/photos/a.jpg"]
        assert reader.photos()[0]["exposure"] is None
    finally:
        release.set()
        writer.join()
    assert reader.photos()[0]["exposure"] == 1
    reader.close()
    store.close()


def test_deleting_the_last_file_forgets_the_photo_and_its_findings(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "index.sqlite3")
    store.save(_result("/photos/a.jpg", "a" * 64))
    store.save(_result("/photos/copy-of-a.jpg", "a" * 64))
    assert store.remove_files(["/photos/a.jpg"]) == 1
    reader = Reader(store.engine)
    assert reader.counts()["photos"] == 1
    store.remove_files(["/photos/copy-of-a.jpg"])
    assert reader.counts() == {
        "files": 0,
        "indexed": 0,
        "error": 0,
        "pending": 0,
        "skipped": 0,
        "photos": 0,
        "findings": 0,
    }
    store.close()


def test_an_existing_shared_folder_is_never_remoded(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    engine = open_index(shared / "index.sqlite3")
    engine.dispose()
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert _mode(shared / "index.sqlite3") == 0o600
    mine = tmp_path / "shadowlens"
    mine.mkdir(mode=0o755)
    open_index(mine / "index.sqlite3").dispose()
    assert _mode(mine) == 0o700, "shadowlens's own folder is made private even if it existed"
