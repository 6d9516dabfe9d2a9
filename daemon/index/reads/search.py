"""The photos screen's search: photos whose city, a file path or a brand contains the text.

What matches is what always matched: ``LIKE '%text%'`` on each of the three, so ASCII letters
match either case, other letters only themselves, and ``%`` and ``_`` in the text are wildcards.
Every photo listed passes that test. The FTS5 trigram table ``photo_search`` (migration 0007:
a photo's city, paths and brands, kept by triggers) only narrows the candidates first, and how
depends on how many it finds, since each candidate then costs a LIKE over its paths:

* a few (under ``FEW``): the candidates are fetched by id and sorted, so the cost follows the
  matches (a city seen in 750 of 100,000 photos: ~5 ms, where checking every photo took ~90 ms);
* many: they become a set that the page's own sort index walks through, stopping after a page
  (checking all ~100,000 candidates of "Pictures" one by one would take ~200 ms).

A text without three literal characters in a row cannot use a trigram index; it is searched as
before, with a LIKE over every path and brand.
"""

from __future__ import annotations

import re
from typing import Any

from shadowlens.daemon.fsnames import index_text
from shadowlens.daemon.index.schema import SEARCH_TABLE
from sqlalchemy import Connection, text

FEW = 1000  # candidates the index gives before the search walks the sort order instead

# The test every listed photo passes: the search's meaning, one LIKE per place it looks.
MATCHES = (
    "(p.city LIKE :like"
    " OR EXISTS (SELECT 1 FROM files fs WHERE fs.photo_id = p.id AND fs.path LIKE :like)"
    " OR EXISTS (SELECT 1 FROM findings s WHERE s.photo_id = p.id AND s.kind = 'brand' AND s.label LIKE :like))"
)
CANDIDATES = f"SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH :match"
# "+p.id" cannot use the primary key, so SQLite keeps the ORDER BY's index as the outer loop.
FEW_CANDIDATES = f"p.id IN ({CANDIDATES})"
MANY_CANDIDATES = f"+p.id IN ({CANDIDATES})"
PROBE = text(f"SELECT count(*) FROM ({CANDIDATES} LIMIT :few)")
# Without a trigram to look up: every path and brand, as the search always did.
UNINDEXED = (
    "(p.city LIKE :like OR p.id IN (SELECT fs.photo_id FROM files fs WHERE fs.path LIKE :like)"
    " OR p.id IN (SELECT s.photo_id FROM findings s WHERE s.kind = 'brand' AND s.label LIKE :like))"
)


def search_clause(connection: Connection, search: str) -> tuple[str, dict[str, Any]]:
    """A WHERE clause over ``photos p`` for ``search`` (stripped, not empty), and its parameters."""
    stored = index_text(search)  # paths are stored in this form (fsnames), so search in it too
    params: dict[str, Any] = {"like": f"%{stored}%"}
    match = match_expression(stored)
    if match is None:
        return UNINDEXED, params
    params["match"] = match
    found = int(connection.execute(PROBE, {"match": match, "few": FEW}).scalar_one())
    return f"{FEW_CANDIDATES if found < FEW else MANY_CANDIDATES} AND {MATCHES}", params


def match_expression(stored: str) -> str | None:
    """An FTS5 query that every text LIKE ``%stored%`` matches: each run of 3 or more characters
    between LIKE's wildcards, as a quoted phrase (a substring, case folded, for the trigram
    tokenizer). Shorter runs have no trigram and are left to LIKE. None if no run is long enough."""
    runs = [run for run in re.split(r"[%_]", stored) if len(run) >= 3]
    if not runs:
        return None
    return " AND ".join('"' + run.replace('"', '""') + '"' for run in runs)
