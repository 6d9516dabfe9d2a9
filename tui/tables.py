"""DataTable helpers every screen shares: fixed-width tables, columns that fill the terminal, an
in-place updater that keeps the cursor on its row when the index changes underneath, and cells
built from data (never parsed as markup)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text
from shadowlens.daemon.fsnames import shown
from textual.widgets import DataTable

if TYPE_CHECKING:
    from shadowlens.daemon.index.reads.browse import PhotoRow

Columns = Sequence[tuple[str, str, int]]  # (key, label, width); width 0 takes what is left
CELL_PADDING, SCROLLBAR, MIN_FLEX = 2, 2, 12
PHOTO_COLUMNS: Columns = (
    ("date", "Date", 10),
    ("exposure", "Exp", 3),
    ("where", "Where", 18),
    ("photo", "Photo", 24),
    ("folder", "Folder", 60),
)


def sync_table(table: DataTable[Any], rows: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Shows ``rows`` (key, cells) in ``table`` without a flicker or a jump of the cursor.

    Same keys in the same order (the usual reload: a count went up): only changed cells are
    rewritten. Otherwise the table is refilled within this one UI tick, so nothing half-empty
    is ever painted, and the cursor goes back to the row with the same key (or stays near
    where it was when that row is gone).
    """
    keys = [key for key, _ in rows]
    current = [str(row.key.value) for row in table.ordered_rows]
    if keys == current:
        columns = list(table.columns)
        for key, cells in rows:
            for column, new, old in zip(columns, cells, table.get_row(key), strict=False):
                if not same_cell(old, new):
                    table.update_cell(key, column, new)
        return
    row = table.cursor_row
    selected = current[row] if 0 <= row < len(current) else None
    scroll = table.scroll_offset
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)
    if not keys:
        return
    target = keys.index(selected) if selected in keys else min(max(row, 0), len(keys) - 1)
    table.scroll_to(scroll.x, scroll.y, animate=False, immediate=True)
    table.move_cursor(row=target, animate=False)


def same_cell(old: object, new: object) -> bool:
    # Text's own == ignores the base style, and a risk colour lives there.
    if isinstance(old, Text) and isinstance(new, Text):
        return (old.plain, old.style, old.spans) == (new.plain, new.style, new.spans)
    return old == new


def selected_key(table: DataTable[Any]) -> str | None:
    """The key of the row under the cursor, or None for an empty table."""
    if not table.row_count or not 0 <= table.cursor_row < table.row_count:
        return None
    return str(table.ordered_rows[table.cursor_row].key.value)


def fixed_table(table_id: str, columns: Columns, zebra: bool = False) -> DataTable[Any]:
    """A row-cursor table with fixed column widths: the layout stays put as data changes, and
    no cell is ever drawn at a stale width (DataTable measures auto widths only when idle)."""
    table: DataTable[Any] = DataTable(id=table_id, cursor_type="row", zebra_stripes=zebra)
    for key, label, width in columns:
        table.add_column(label, width=width, key=key)
    return table


def flex_widths(columns: Columns, total: int) -> list[int]:
    """Widths for a table ``total`` cells wide; the width-0 columns share what is left."""
    fixed = sum(width + CELL_PADDING for _, _, width in columns if width)
    flexible = sum(1 for _, _, width in columns if not width)
    rest = total - fixed - CELL_PADDING * flexible - SCROLLBAR
    share = max(MIN_FLEX, rest // flexible) if flexible else 0
    return [width or share for _, _, width in columns]


def set_columns(table: DataTable[Any], columns: Columns, total: int) -> bool:
    """Give ``table`` the columns for ``total`` cells; True if it had to drop its rows to do so.

    DataTable has no public way to resize a column, so a new width means new columns (and an
    empty table, to be refilled by the caller). Only a terminal resize gets here more than once.
    """
    widths = flex_widths(columns, total)
    if [column.width for column in table.columns.values()] == widths:
        return False
    had_rows = table.row_count > 0
    table.clear(columns=True)
    for (key, label, _), width in zip(columns, widths, strict=True):
        table.add_column(label, width=width, key=key)
    return had_rows


def plain(value: object) -> Text:
    """A cell from data (a name, a path, a city): DataTable would read a bare str as markup."""
    return Text("" if value is None else shown(str(value)), no_wrap=True)


def split_path(path: str) -> tuple[Text, Text]:
    """(file name, folder): the name first, so an 80-column table still tells photos apart."""
    folder, _, name = path.rpartition("/")
    return plain(name), plain(folder)


def photo_rows(photos: Sequence[PhotoRow]) -> list[tuple[str, tuple[Any, ...]]]:
    """Evidence rows keyed by path, so enter can open the photo straight from the key."""
    rows: list[tuple[str, tuple[Any, ...]]] = []
    for photo in photos:
        where = ", ".join(x for x in (photo.city, photo.country_code) if x)
        exposure = "" if photo.exposure is None else str(photo.exposure)
        name, folder = split_path(photo.path)
        rows.append((photo.path, ((photo.taken_at or "")[:10], exposure, plain(where[:20]), name, folder)))
    return rows
