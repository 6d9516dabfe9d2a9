"""What the TUI's people screen reads besides ``Reader.persons()``: the user's own child marks.

``persons()`` folds the mark into ``is_child`` (what the profile and exposure use); cycling the
mark (auto -> child -> not a child -> auto) needs the mark itself.
"""

from __future__ import annotations

from shadowlens.daemon.index.schema import Person
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session


def child_marks(engine: Engine) -> dict[int, bool | None]:
    """Each person's ``child_override``: True or False is the user's word, None means "estimate"."""
    with Session(engine) as session:
        return {int(pid): mark for pid, mark in session.execute(select(Person.id, Person.child_override))}
