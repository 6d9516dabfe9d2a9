"""Alembic environment: always runs on the engine handed over by shadowlens.daemon.index.db."""

from __future__ import annotations

from alembic import context
from shadowlens.daemon.index.schema import Base
from sqlalchemy import Engine, create_engine

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
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
            # SQLite can roll DDL back: a failed upgrade leaves the index as it was.
            transactional_ddl=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
