"""Alembic environment: always runs on the engine handed over by shadowlens.daemon.index.db."""

from __future__ import annotations

from alembic import context
from shadowlens.daemon.index.schema import Base, mapped_table
from sqlalchemy import Connection, Engine, create_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("no engine given; open the index with shadowlens.daemon.index.db.open_index")
        engine = create_engine(url)
    with engine.connect() as connection:
        # A batch migration that rebuilds a table ("move and copy") drops the old one, and with
        # foreign keys on, SQLite's DROP TABLE first deletes its rows as a DELETE would: rebuilding
        # photos would delete every finding and face (ON DELETE CASCADE) and unlink every file
        # (SET NULL). The pragma is a no-op inside a transaction, so it is set on the driver's
        # connection before the migrations' transaction begins, and restored for the pool after.
        driver = connection.connection.driver_connection
        assert driver is not None, "a pooled connection always has its driver connection"
        (previous,) = driver.execute("PRAGMA foreign_keys").fetchone()
        driver.execute("PRAGMA foreign_keys = OFF")
        try:
            if driver.execute("PRAGMA foreign_keys").fetchone() != (0,):
                raise RuntimeError(
                    "cannot turn foreign keys off to migrate the index (a transaction is open)"
                )
            _migrate(connection)
        finally:
            driver.execute(f"PRAGMA foreign_keys = {int(previous)}")


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        # The photo search's FTS5 tables are the migrations' own, not the ORM's.
        include_name=mapped_table,
        # SQLite can roll DDL back: a failed upgrade leaves the index as it was.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
