"""The photos behind one statement of the profile, pushed from the Profile screen by enter.

The list is the claim's own evidence (its photo ids, newest first), so what is listed is what
the profile counted; enter on a photo opens it with the findings that made it count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from shadowlens.daemon.wording import backing
from shadowlens.tui.base import LibraryScreen
from shadowlens.tui.formats import plural
from shadowlens.tui.tables import PHOTO_COLUMNS, fixed_table, photo_rows, split_path, sync_table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Static

if TYPE_CHECKING:
    from shadowlens.daemon.index.reads.browse import PhotoRow


class EvidenceListScreen(LibraryScreen):
    DEFAULT_CSS = """
    EvidenceListScreen #evidence-claim { height: auto; }
    EvidenceListScreen #evidence-photos { height: 1fr; }
    """
    AUTO_FOCUS = "#evidence-photos"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Back")]

    def __init__(self, claim: dict[str, Any]) -> None:
        super().__init__()
        self.claim = claim

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(claim_text(self.claim), id="evidence-claim", classes="panel")
        yield Static("", id="evidence-caption", classes="panel-title")
        yield fixed_table("evidence-photos", PHOTO_COLUMNS)
        yield Footer()

    def fetch(self) -> list[PhotoRow] | None:
        ids = self.claim.get("photo_ids")
        if ids is None:
            return None  # a profile from before claims kept photo ids: its paths are all there is
        return self.library.photos_by_id([int(i) for i in ids])

    def show(self, data: list[PhotoRow] | None) -> None:
        counted = int(self.claim.get("count") or 0)
        if data is None:
            rows = [(path, ("", "", "", *split_path(path))) for path in self.claim.get("evidence") or []]
            listed = len(rows)
        else:
            rows, listed = photo_rows(data), len(data)
        if not counted:
            caption = "No photo behind this statement."
        elif listed >= counted:
            caption = f"{plural(counted, 'photo')} behind this statement, newest first (enter opens one)"
        else:  # a long list is cut, or photos have left the index since the profile was built
            caption = f"{plural(counted, 'photo')} behind this statement; {listed} listed (enter opens one)"
        self.query_one("#evidence-caption", Static).update(Text(caption))
        sync_table(self.query_one("#evidence-photos", DataTable), rows)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value:
            self.shadowlens.open_photo(event.row_key.value)

    def action_close(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.dismiss()


def claim_text(claim: dict[str, Any]) -> Text:
    text = Text(str(claim["text"]), style="bold")
    text.append(f"\n{backing(claim)}  [{claim['id']}]", style="dim")
    if claim.get("why"):
        text.append(f"\nWhy: {claim['why']}")
    return text
