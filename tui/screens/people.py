"""People: the face clusters the daemon found, and the user's word on them (names, merges,
splits, "this is me", child marks). Every decision goes through Library, then a reload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from shadowlens.tui import people_text
from shadowlens.tui.base import LibraryScreen
from shadowlens.tui.people_text import PeopleData, person_label
from shadowlens.tui.person_detail import PersonDetail
from shadowlens.tui.screens.dialogs import ConfirmDialog, RenameDialog
from shadowlens.tui.tables import fixed_table, selected_key, sync_table
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header

# auto -> child -> not a child -> auto: the user's mark is child_override, None means "estimate".
NEXT_CHILD: dict[bool | None, bool | None] = {None: True, True: False, False: None}
PEOPLE_COLUMNS = [("mark", "✓", 1), ("name", "Person", 12), ("photos", "Photos", 6), ("faces", "Faces", 5)]
PEOPLE_COLUMNS += [("owner", "★", 1), ("child", "Child", 15)]
NO_FACES = "No faces found yet.\nPeople appear once photos with faces are indexed."


class PeopleScreen(LibraryScreen):
    DEFAULT_CSS = """
    #people-table { width: 53; }
    #person-detail { width: 1fr; padding-left: 1; }
    #person-head { height: auto; max-height: 9; }
    #person-thumb { width: 14; height: 7; margin-right: 1; }
    #person-info { width: 1fr; height: auto; }
    #person-seen { height: auto; max-height: 7; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "mark", "Mark"),
        Binding("m", "merge", "Merge"),
        Binding("n", "rename", "Name"),
        Binding("x", "split", "Split face"),
        Binding("i", "owner", "It's me"),
        Binding("c", "child", "Child"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.data = PeopleData([], {})
        self.marked: set[int] = set()

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield fixed_table("people-table", PEOPLE_COLUMNS, zebra=True)
            yield PersonDetail(self.describe, id="person-detail")
        yield Footer()

    @property
    def _detail(self) -> PersonDetail:
        return self.query_one(PersonDetail)

    # -- loading -------------------------------------------------------------------------------

    def fetch(self) -> PeopleData:
        library = self.library
        return PeopleData(
            library.persons(), library.profile() or {}, library.child_marks(), library.possible_children()
        )

    def show(self, data: PeopleData) -> None:
        self.data = data
        self.marked &= {p["id"] for p in data.persons}
        rows = [(str(p["id"]), self._cells(p)) for p in data.persons]
        sync_table(self.query_one("#people-table", DataTable), rows)
        if not data.persons:
            self._detail.nobody(NO_FACES)
            return
        current = self.current()
        if current is not None:  # the detail may have changed too (a face moved, a new name)
            self._detail.load(current["id"])

    def _cells(self, person: dict[str, Any]) -> tuple[Any, ...]:
        return people_text.cells(self.data, person, person["id"] in self.marked)

    def describe(self, person_id: int) -> tuple[str, str] | None:
        person = self.data.person(person_id)
        if person is None:
            return None
        return people_text.info(self.data, person), people_text.seen_with(self.data, person_id)

    def current(self) -> dict[str, Any] | None:
        key = selected_key(self.query_one("#people-table", DataTable))
        return next((p for p in self.data.persons if str(p["id"]) == key), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "people-table" and event.row_key.value is not None:
            person_id = int(event.row_key.value)
            if person_id != self._detail.wanted:
                self._detail.load(person_id)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "people-table":
            self._detail.faces_table.focus()

    # -- decisions -----------------------------------------------------------------------------

    @work(thread=True, group="decide")
    def _decide(self, action: Callable[[], Any], done: str | Callable[[Any], str]) -> None:
        """Runs one Library decision off the UI thread (the daemon may hold the write lock),
        then says ``done`` (or ``done(result)``) and reloads."""
        try:
            result = action()
        except Exception as exc:  # a refused merge, a busy index: say so, never crash the app
            self.app.call_from_thread(self.notify, f"Not saved: {exc}", severity="error", timeout=8)
            return
        self.app.call_from_thread(self._decided, done if isinstance(done, str) else done(result))

    def _decided(self, message: str) -> None:
        self.notify(message)
        self.reload()

    def action_mark(self) -> None:
        person = self.current()
        if person is None:
            return
        self.marked ^= {person["id"]}
        mark = "✓" if person["id"] in self.marked else ""
        self.query_one("#people-table", DataTable).update_cell(str(person["id"]), "mark", mark)

    def action_merge(self) -> None:
        target = self.current()
        if target is None:
            return
        others = [p for p in self.data.persons if p["id"] in self.marked and p["id"] != target["id"]]
        if not others:
            self.notify(
                "Mark the duplicates with space, then press m on the person to keep.", severity="warning"
            )
            return
        if any(p["engine"] != target["engine"] for p in others):
            self.notify("These were found by different face engines and cannot be merged.", severity="error")
            return
        ids, into = [p["id"] for p in others], target["id"]
        names = ", ".join(person_label(p) for p in others)
        message = f"Merged {names} into {person_label(target)}"

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.marked.clear()
                self._decide(lambda: self.library.merge_persons(into, ids), message)

        question = f"Merge {names} into {person_label(target)}? Their faces become one person."
        self.app.push_screen(ConfirmDialog(question), confirmed)

    def action_rename(self) -> None:
        person = self.current()
        if person is None:
            return
        person_id, label = person["id"], person_label(person)

        def renamed(name: str | None) -> None:
            if name is not None:
                done = f"Named {label} “{name}”" if name else f"Cleared the name of {label}"
                self._decide(lambda: self.library.rename_person(person_id, name or None), done)

        self.app.push_screen(RenameDialog(f"Name for {label}", person.get("name") or ""), renamed)

    def action_split(self) -> None:
        face_id = self._detail.selected_face()
        person = self.data.person(self._detail.wanted)
        if face_id is None or person is None:
            self.notify("Pick a face in the faces table first.", severity="warning")
            return
        if person["face_count"] <= 1:
            self.notify(f"That is the only face of {person_label(person)}.", severity="warning")
            return
        self._decide(
            lambda: self.library.split_face(face_id), lambda new: f"Face {face_id} is now person {new}"
        )

    def action_owner(self) -> None:
        person = self.current()
        if person is None:
            return
        person_id, label = person["id"], person_label(person)
        if person["is_owner"]:
            self._decide(lambda: self.library.set_owner(None), f"{label} is no longer marked as you")
        else:
            self._decide(lambda: self.library.set_owner(person_id), f"Marked {label} as you")

    def action_child(self) -> None:
        person = self.current()
        if person is None:
            return
        person_id, label = person["id"], person_label(person)
        mark = NEXT_CHILD[self.data.child_marks.get(person_id)]
        said = {None: "estimated again", True: "marked as a child", False: "marked as not a child"}[mark]
        self._decide(lambda: self.library.set_child(person_id, mark), f"{label}: {said}")
