"""What the TUI's people screen reads besides ``Reader.persons()``: the user's own child marks.

``persons()`` folds the mark into ``is_child`` (what the profile and exposure use); cycling the
mark (auto -> child -> not a child -> auto) needs the mark itself.
"""

from __future__ import annotations

from shadowlens.daemon.index.schema import Person
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session


def child_marks(engine: Engine) -> dict[int, bool | None]:
    """Each person's ``child_override``: True or False is the user's word, None means "estimate"."""
    with Session(engine) as session:
        return {int(pid): mark for pid, mark in session.execute(select(Person.id, Person.child_override))}


def possible_children(engine: Engine) -> frozenset[int]:
    """Persons at least half of whose faces with an age are possible children (the age model's
    interval reaches under CHILD_AGE): the people screen asks the user to say child or adult."""
    sql = """
        SELECT fa.person_id FROM faces fa JOIN findings fi ON fi.id = fa.finding_id
        WHERE fa.person_id IS NOT NULL AND json_extract(fi.attrs, '$.age') IS NOT NULL
        GROUP BY fa.person_id
        HAVING 2 * sum(coalesce(json_extract(fi.attrs, '$.possible_child'), 0)) >= count(*)
    """
    with engine.connect() as connection:
        return frozenset(int(row[0]) for row in connection.execute(text(sql)))
