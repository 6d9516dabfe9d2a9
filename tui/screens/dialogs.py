"""What the People, Places and Brands screens share: two modal dialogs (a name, a yes/no), and
DataTable helpers: fixed-width tables, an in-place updater that keeps the cursor on its row when
the index changes underneath, and rows of evidence photos."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.markup import escape
from rich.text import Text
from shadowlens.daemon.fsnames import shown
from shadowlens.daemon.index.reads.browse import PhotoRow
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label

DIALOG_CSS = """
RenameDialog, ConfirmDialog {
    align: center middle;
}
.dialog {
    width: 60;
    max-width: 90%;
    height: auto;
    border: thick $primary;
    background: $surface;
    padding: 1 2;
}
.dialog Label {
    width: 100%;
}
.dialog Horizontal {
    height: auto;
    align-horizontal: right;
}
.dialog Button {
    margin-left: 1;
}
"""


class RenameDialog(ModalScreen[str | None]):
    """Asks for a name. Dismisses with the text (empty means "clear the name"), or None on escape."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, current: str = "") -> None:
        super().__init__()
        self.title_text, self.current = title, current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(escape(self.title_text))
            yield Input(self.current, placeholder="empty clears the name", id="rename-input")
            yield Label("[dim]enter saves, escape cancels[/dim]")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; y or the Yes button confirms, n, escape or No declines."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(escape(self.question))
            with Horizontal():
                yield Button("Yes", variant="primary", id="confirm-yes")
                yield Button("No", id="confirm-no")

    def on_mount(self) -> None:
        # Focus "No" so a stray enter does not merge people by accident.
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


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


Columns = Sequence[tuple[str, str, int]]  # (key, label, width)
PHOTO_COLUMNS: Columns = (
    ("date", "Date", 10),
    ("exposure", "Exp", 3),
    ("where", "Where", 18),
    ("photo", "Photo", 24),
    ("folder", "Folder", 60),
)


def fixed_table(table_id: str, columns: Columns, zebra: bool = False) -> DataTable[Any]:
    """A row-cursor table with fixed column widths: the layout stays put as data changes, and
    no cell is ever drawn at a stale width (DataTable measures auto widths only when idle)."""
    table: DataTable[Any] = DataTable(id=table_id, cursor_type="row", zebra_stripes=zebra)
    for key, label, width in columns:
        table.add_column(label, width=width, key=key)
    return table


def plain(value: object) -> Text:
    """A cell from data (a name, a path, a city): DataTable would read a bare str as markup."""
    return Text("" if value is None else shown(str(value)), no_wrap=True)


def split_path(path: str) -> tuple[Text, Text]:
    """(file name, folder): the name first, so an 80-column table still tells photos apart."""
    folder, _, name = path.rpartition("/")
    return plain(name), plain(folder)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def photo_rows(photos: Sequence[PhotoRow]) -> list[tuple[str, tuple[Any, ...]]]:
    """Evidence rows keyed by path, so enter can open the photo straight from the key."""
    rows: list[tuple[str, tuple[Any, ...]]] = []
    for photo in photos:
        where = ", ".join(x for x in (photo.city, photo.country_code) if x)
        exposure = "" if photo.exposure is None else str(photo.exposure)
        name, folder = split_path(photo.path)
        rows.append((photo.path, ((photo.taken_at or "")[:10], exposure, plain(where[:20]), name, folder)))
    return rows
