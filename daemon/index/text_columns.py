"""How the index stores text that may not be valid UTF-8: file paths and error messages.

Part of the schema (``schema.py``), apart so that the schema stays one table after another.
"""

from __future__ import annotations

from shadowlens.daemon.fsnames import from_index_text, index_text, shown
from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class PathText(TypeDecorator[str]):
    """A file path, whatever its bytes: names that are not UTF-8 are stored in the reversible,
    prefix-keeping form of ``fsnames.index_text`` (SQLite refuses the surrogates Python uses)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else index_text(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else from_index_text(value)


class MessageText(TypeDecorator[str]):
    """An error message, which may quote a path: undecodable bytes are kept as ``\\xNN``."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else shown(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return value
