"""stored sort keys, face confidence and the trigram photo search, for the TUI at 100k photos

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 15:40:00

Computed per row at query time, the People, Brand and Path sorts cost ~200 ms a page at 100,000
photos, a search ~100 ms, a large person's faces ~55 ms (issue #18). This stores what they sort
and search by, and fills it from the rows already there; ascending sorts get indexes on
"key IS NULL, key", which they order by.

The SQL below is this revision's own copy, not an import: a migration must keep doing what it did
when it was written. Its live twins are ``daemon/index/sort_keys.py`` (the sort keys the writer
keeps) and ``daemon/index/reads/search.py`` (what the search matches).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

# The photos screen's sort keys that may be NULL, each with an index on (key IS NULL, key).
NULLS_LAST = ("exposure", "taken_at", "city", "first_brand", "first_path")
FIRST_PATH = "(SELECT min(f.path) FROM files f WHERE f.photo_id = photos.id)"

# What a photo is found by: its city, every file path and every brand, one a line. The search
# still checks each of them with LIKE (reads/search.py): this text only narrows the candidates.
PHOTO_TEXT = """coalesce(p.city, '') || char(10)
    || coalesce((SELECT group_concat(f.path, char(10)) FROM files f WHERE f.photo_id = p.id), '')
    || char(10) || coalesce((SELECT group_concat(b.label, char(10)) FROM findings b
                             WHERE b.photo_id = p.id AND b.kind = 'brand'), '')"""


def _refresh(photo_ids: str) -> str:
    """Statements that rewrite the search rows of ``photo_ids`` (NULLs and deleted photos skip)."""
    return (
        f"DELETE FROM photo_search WHERE rowid IN ({photo_ids}); "
        f"INSERT INTO photo_search (rowid, words) SELECT p.id, {PHOTO_TEXT} "
        f"FROM photos p WHERE p.id IN ({photo_ids});"
    )


def _first_path(photo_ids: str) -> str:
    return f"UPDATE photos SET first_path = {FIRST_PATH} WHERE id IN ({photo_ids});"


# Triggers, not the writer, keep the search and the Path sort's key (the first of a photo's file
# paths): every write path then does, raw SQL included. A later migration that rebuilds photos,
# files or findings in batch mode ("move and copy") drops their triggers with the old table, and
# for photos the expression indexes below (reflection skips them): it must create them again.
TRIGGERS = {
    "photo_search_photo_insert": f"AFTER INSERT ON photos BEGIN {_refresh('new.id')} END",
    "photo_search_photo_city": f"AFTER UPDATE OF city ON photos BEGIN {_refresh('new.id')} END",
    "photo_search_photo_delete": "AFTER DELETE ON photos BEGIN DELETE FROM photo_search WHERE rowid = old.id; END",
    "photo_search_file_insert": (
        f"AFTER INSERT ON files WHEN new.photo_id IS NOT NULL BEGIN {_refresh('new.photo_id')} END"
    ),
    "photo_search_file_update": (
        f"AFTER UPDATE OF path, photo_id ON files BEGIN {_refresh('old.photo_id, new.photo_id')} END"
    ),
    "photo_search_file_delete": (
        f"AFTER DELETE ON files WHEN old.photo_id IS NOT NULL BEGIN {_refresh('old.photo_id')} END"
    ),
    "photo_search_brand_insert": (
        f"AFTER INSERT ON findings WHEN new.kind = 'brand' BEGIN {_refresh('new.photo_id')} END"
    ),
    "photo_search_brand_update": (
        "AFTER UPDATE OF photo_id, kind, label ON findings WHEN old.kind = 'brand' OR new.kind = 'brand' "
        f"BEGIN {_refresh('old.photo_id, new.photo_id')} END"
    ),
    "photo_search_brand_delete": (
        f"AFTER DELETE ON findings WHEN old.kind = 'brand' BEGIN {_refresh('old.photo_id')} END"
    ),
    "photo_first_path_file_insert": (
        f"AFTER INSERT ON files WHEN new.photo_id IS NOT NULL BEGIN {_first_path('new.photo_id')} END"
    ),
    "photo_first_path_file_update": (
        f"AFTER UPDATE OF path, photo_id ON files BEGIN {_first_path('old.photo_id, new.photo_id')} END"
    ),
    "photo_first_path_file_delete": (
        f"AFTER DELETE ON files WHEN old.photo_id IS NOT NULL BEGIN {_first_path('old.photo_id')} END"
    ),
}


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN, not batch mode: a constant default needs no rebuild of the
    # tables, which at 100,000 photos would copy every row and every index.
    op.add_column(
        "photos", sa.Column("person_faces", sa.Integer(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column("photos", sa.Column("first_brand", sa.String(), nullable=True))
    op.add_column("photos", sa.Column("first_path", sa.String(), nullable=True))
    op.add_column("faces", sa.Column("confidence", sa.Double(), server_default=sa.text("0"), nullable=False))

    # Filled before the indexes are built: one sorted build beats 100,000 index updates.
    op.execute(
        "UPDATE photos SET "
        "person_faces = (SELECT count(fa.person_id) FROM faces fa WHERE fa.photo_id = photos.id), "
        "first_brand = (SELECT min(b.label) FROM findings b WHERE b.photo_id = photos.id AND b.kind = 'brand'), "
        f"first_path = {FIRST_PATH}"
    )
    op.execute(
        "UPDATE faces SET confidence = "
        "coalesce((SELECT fi.confidence FROM findings fi WHERE fi.id = faces.finding_id), 0)"
    )

    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_photos_person_faces"), ["person_faces"], unique=False)
        batch_op.create_index(batch_op.f("ix_photos_first_brand"), ["first_brand"], unique=False)
        batch_op.create_index(batch_op.f("ix_photos_first_path"), ["first_path"], unique=False)
    # Expressions, outside batch mode: ascending sorts put NULLs last with "key IS NULL" first.
    for column in NULLS_LAST:
        op.create_index(f"ix_photos_{column}_nulls_last", "photos", [sa.text(f"{column} IS NULL"), column])
    with op.batch_alter_table("faces", schema=None) as batch_op:
        # (person_id, confidence) serves every lookup by person_id too.
        batch_op.drop_index(batch_op.f("ix_faces_person_id"))
        batch_op.create_index(
            batch_op.f("ix_faces_person_id_confidence"), ["person_id", "confidence"], unique=False
        )

    op.execute("CREATE VIRTUAL TABLE photo_search USING fts5(words, tokenize = 'trigram')")
    op.execute(f"INSERT INTO photo_search (rowid, words) SELECT p.id, {PHOTO_TEXT} FROM photos p")
    for name, body in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS photo_search")
    # First: the batch rebuilds below reflect photos, and SQLite's reflection skips (with a
    # warning) the expression indexes, which a rebuild of photos would then lose anyway. The
    # rebuilds keep every row only because env.py turns foreign keys off around migrations.
    for column in NULLS_LAST:
        op.drop_index(f"ix_photos_{column}_nulls_last", table_name="photos")
    with op.batch_alter_table("faces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_faces_person_id_confidence"))
        batch_op.create_index(batch_op.f("ix_faces_person_id"), ["person_id"], unique=False)
        batch_op.drop_column("confidence")
    with op.batch_alter_table("photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_photos_first_path"))
        batch_op.drop_index(batch_op.f("ix_photos_first_brand"))
        batch_op.drop_index(batch_op.f("ix_photos_person_faces"))
        batch_op.drop_column("first_path")
        batch_op.drop_column("first_brand")
        batch_op.drop_column("person_faces")
