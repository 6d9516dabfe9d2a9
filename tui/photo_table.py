"""The photos list as a widget: fixed columns that fill the terminal, and rows rewritten in
place when the index changes, so the cursor, the selection and the scroll position survive
without a repaint of an empty table.

What to list (filters, sorting, paging) is the photos screen's business; this only shows rows.
"""

from __future__ import annotations

from rich.text import Text
from shadowlens.daemon.fsnames import shown
from shadowlens.daemon.index.reads.browse import PhotoRow
from shadowlens.tui.formats import risk_style
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

# (column key, header label, sort key or None when the column cannot sort)
COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("exposure", "Exposure", "exposure"),
    ("taken", "Taken", "date"),
    ("place", "Place", "place"),
    ("people", "People", "person"),
    ("brands", "Brands", "brand"),
    ("safe", "Safe", None),
    ("path", "Path", "path"),
)
SORT_BY_COLUMN = {key: sort for key, _, sort in COLUMNS}
# Header label plus a cell for the sort arrow; Place, Brands and Path share what is left.
FIXED_WIDTHS = {"exposure": 9, "taken": 10, "people": 7, "safe": 4}
MIN_PATH, MIN_TEXT, MAX_TEXT = 18, 6, 16
Cells = tuple[Text, ...]


def column_widths(screen_width: int) -> dict[str, int]:
    """Fixed widths that fill the screen, so 80 columns still show a file's name."""
    # Each column has one cell of padding on either side; the vertical scrollbar takes two.
    room = screen_width - sum(FIXED_WIDTHS.values()) - 2 * len(COLUMNS) - 2
    text = max(MIN_TEXT, min(MAX_TEXT, (room - MIN_PATH) // 2))
    return {**FIXED_WIDTHS, "place": text, "brands": text, "path": max(MIN_PATH, room - 2 * text)}


def _clip(value: str, width: int) -> str:
    return value if len(value) <= width else value[: width - 1] + "…"


def _clip_left(value: str, width: int) -> str:
    # The end of a path (the file's name) says the most.
    return value if len(value) <= width else "…" + value[len(value) - width + 1 :]


class PhotoTable(DataTable[Text]):
    def __init__(self, alert_threshold: int, *, id: str) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.alert_threshold = alert_threshold
        self.photos: list[PhotoRow] = []  # what the rows show, in order
        self.order = ("exposure", True)  # (sort, descending): the arrow in the headers
        self._widths: dict[str, int] = {}

    @property
    def paths(self) -> list[str]:
        return [photo.path for photo in self.photos]

    def fit(self, screen_width: int) -> None:
        widths = column_widths(screen_width)
        if widths == self._widths:
            return
        # Only on a resize: rebuilding is simpler than re-measuring DataTable columns in place.
        self._widths = widths
        cursor = self.cursor_row
        self.clear(columns=True)
        for key, label, _ in COLUMNS:
            self.add_column(self._label(key, label), key=key, width=widths[key])
        self.add_rows(self._cells(photo) for photo in self.photos)
        if 0 < cursor < len(self.photos):
            self.move_cursor(row=cursor)

    def show_order(self, sort: str, descending: bool) -> None:
        self.order = (sort, descending)
        for key, label, _ in COLUMNS:
            self.columns[ColumnKey(key)].label = self._label(key, label)
        self.notify_style_update()  # the public way to drop the header's render cache

    def replace(self, photos: list[PhotoRow]) -> None:
        """New results: start again from the top."""
        self.photos = photos
        self.clear()
        self.add_rows(self._cells(photo) for photo in photos)

    def rewrite(self, photos: list[PhotoRow]) -> None:
        """Same query, new data: change only the cells that differ, keep the cursor on its photo."""
        current = self.photos[self.cursor_row].path if 0 <= self.cursor_row < len(self.photos) else None
        keys = [row.key for row in self.ordered_rows]
        for index, photo in enumerate(photos[: len(keys)]):
            if photo == self.photos[index]:
                continue
            old_cells, new_cells = self._cells(self.photos[index]), self._cells(photo)
            for (column, _, _), old, new in zip(COLUMNS, old_cells, new_cells, strict=True):
                if old != new:
                    self.update_cell(keys[index], column, new)
        for key in keys[len(photos) :]:
            self.remove_row(key)
        self.add_rows(self._cells(photo) for photo in photos[len(keys) :])
        self.photos = photos
        paths = self.paths
        if current is not None and current in paths and paths.index(current) != self.cursor_row:
            self.move_cursor(row=paths.index(current), scroll=False)

    def extend(self, photos: list[PhotoRow]) -> None:
        """The next page. Rows can shift between pages while the daemon writes: a photo already
        listed is not listed twice."""
        seen = set(self.paths)
        new = [photo for photo in photos if photo.path and photo.path not in seen]
        self.photos.extend(new)
        self.add_rows(self._cells(photo) for photo in new)

    def _label(self, key: str, label: str) -> Text:
        sort, descending = self.order
        # A cell is always reserved for the arrow so the columns don't jump when sorting.
        arrow = ("▼" if descending else "▲") if SORT_BY_COLUMN[key] == sort else " "
        return Text(f"{label}{arrow}")

    def _cells(self, photo: PhotoRow) -> Cells:
        widths = self._widths
        exposure = Text("–", justify="right")
        if photo.exposure is not None:
            style = risk_style(photo.exposure, self.alert_threshold)
            exposure = Text(str(photo.exposure), style=style, justify="right")
        place = ", ".join(part for part in (photo.city, photo.country_code) if part)
        return (
            exposure,
            Text((photo.taken_at or "")[:10]),
            Text(_clip(place, widths["place"])),
            Text(str(photo.people) if photo.people else "", justify="right"),
            Text(_clip((photo.brands or "").replace(",", ", "), widths["brands"])),
            Text("✓" if photo.marked_safe else "", style="green"),
            Text(_clip_left(shown(photo.path), widths["path"])),
        )
