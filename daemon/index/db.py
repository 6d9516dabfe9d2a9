"""Opening the index: SQLite pragmas, private file modes and automatic Alembic upgrades."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from shadowlens.daemon.paths import ensure_private_dir, ensure_private_file
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

BUSY_TIMEOUT_MS = 10_000


class IndexError_(Exception):
    """The index cannot be opened or upgraded; the message says what to do."""


def _migrations_dir() -> Path:
    import shadowlens.migrations

    return Path(shadowlens.migrations.__file__).parent


def alembic_config(engine: Engine | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(_migrations_dir()))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _set_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Autocommit at the driver level; SQLAlchemy's "begin" event issues BEGIN itself (see below).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def make_engine(path: Path, *, writer: bool) -> Engine:
    """An engine on the index. The writer takes the write lock at BEGIN, so it never deadlocks
    upgrading a read lock; readers use deferred transactions and, in WAL mode, never block it."""
    engine = create_engine(f"sqlite:///{path}", poolclass=NullPool if not writer else None)
    event.listen(engine, "connect", _set_pragmas)
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


def open_index(path: Path, *, upgrade: bool = True) -> Engine:
    """The writer engine on the index at ``path``, created (mode 0600) and upgraded as needed."""
    try:
        ensure_private_dir(path.parent)
        ensure_private_file(path)
    except OSError as exc:
        raise IndexError_(f"cannot create the index at {path}: {exc.strerror or exc}") from None
    engine = make_engine(path, writer=True)
    if upgrade:
        upgrade_index(engine)
    return engine


def upgrade_index(engine: Engine) -> None:
    head = head_revision()
    current = current_revision(engine)
    if current == head:
        return
    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current is not None and current not in known:
        raise IndexError_(
            f"the index is at schema {current}, newer than this shadowlens knows; upgrade shadowlens"
        )
    command.upgrade(alembic_config(engine), "head")
