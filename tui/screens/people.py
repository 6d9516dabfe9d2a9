"""People: the face clusters the daemon found, and the user's word on them (names, merges,
splits, "this is me", child marks). Every decision goes through Library, then a reload."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from PIL import Image as PILImage
from PIL import ImageOps
from rich.markup import escape
from shadowlens.daemon.analysis.decode import DecodeError, open_photo
from shadowlens.daemon.index.schema import Person
from shadowlens.tui.base import LibraryScreen
from shadowlens.tui.library import Library
from shadowlens.tui.screens.dialogs import (
    ConfirmDialog,
    RenameDialog,
    fixed_table,
    plain,
    plural,
    selected_key,
    split_path,
    sync_table,
)
from sqlalchemy import select
from sqlalchemy.orm import Session
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import get_current_worker

if TYPE_CHECKING:
    from textual_image.widget._base import Image as ImageWidget

# textual-image probes the terminal (sixel? kitty?) on import; the probe can raise (stdout a
# terminal, stdin not), and its "no answer" fallback, Unicode blocks, looks worse than half
# cells wherever Textual runs. Without it the screen works, only the face is missing.
THUMB_CLASS: type[ImageWidget] | None
try:
    from textual_image.renderable import Image as _DetectedRenderable
    from textual_image.renderable import UnicodeImage as _UnicodeRenderable
    from textual_image.widget import HalfcellImage
    from textual_image.widget import Image as _DetectedImage

    THUMB_CLASS = HalfcellImage if _DetectedRenderable is _UnicodeRenderable else _DetectedImage
except Exception:
    THUMB_CLASS = None

THUMB_SIDE = 160
THUMB_MARGIN = 0.3  # of the face's longer side, so hair and chin are in the crop
# Enough pixels for a sharp 160 px crop of any face the detectors could find, at a fraction
# of the cost of decoding a 50 MP photo at full size.
DECODE_SIDE = 1600
MAX_MEGAPIXELS = 250.0
THUMB_CACHE = 64
SEEN_WITH = 5
# auto -> child -> not a child -> auto: the user's mark is child_override, None means "estimate".
NEXT_CHILD: dict[bool | None, bool | None] = {None: True, True: False, False: None}
PEOPLE_COLUMNS = [("mark", "✓", 1), ("name", "Person", 12), ("photos", "Photos", 6), ("faces", "Faces", 5)]
PEOPLE_COLUMNS += [("owner", "★", 1), ("child", "Child", 6)]
FACE_COLUMNS = (("face", "Face", 5), ("photo", "Photo", 24), ("folder", "Folder", 60))


@dataclass
class PeopleData:
    persons: list[dict[str, Any]]
    profile: dict[str, Any]
    child_marks: dict[int, bool | None] = field(default_factory=dict)


def person_label(person: dict[str, Any]) -> str:
    return str(person.get("name") or f"person {person.get('id', person.get('person_id'))}")


def face_crop(path: str, bbox: object) -> PILImage.Image | None:
    """The face at ``bbox`` (x, y, w, h in full-size upright pixels) with a margin, ~160 px."""
    if isinstance(bbox, str):  # browse reads the JSON column with raw SQL: it arrives as text
        bbox = json.loads(bbox)
    if not isinstance(bbox, list | tuple) or len(bbox) != 4:
        return None
    x, y, w, h = (float(v) for v in bbox)
    try:
        photo = open_photo(Path(path), want_side=DECODE_SIDE, max_megapixels=MAX_MEGAPIXELS)
        pixels = photo.pixels()
    except (DecodeError, OSError, ValueError):
        return None
    scale, margin = pixels.width / photo.width, THUMB_MARGIN * max(w, h)
    box = (
        max(0, round((x - margin) * scale)),
        max(0, round((y - margin) * scale)),
        min(pixels.width, round((x + w + margin) * scale)),
        min(pixels.height, round((y + h + margin) * scale)),
    )
    if box[2] <= box[0] or box[3] <= box[1]:
        return None
    return ImageOps.contain(pixels.crop(box), (THUMB_SIDE, THUMB_SIDE))


def read_child_marks(library: Library) -> dict[int, bool | None]:
    # persons() folds the user's mark into is_child; cycling the mark needs the mark itself.
    with Session(library.reader.engine) as session:
        return {pid: mark for pid, mark in session.execute(select(Person.id, Person.child_override))}


class PeopleScreen(LibraryScreen):
    DEFAULT_CSS = """
    #people-table { width: 44; }
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
        self._wanted: int | None = None  # person whose detail is loading or shown
        self._faces: dict[str, dict[str, Any]] = {}
        self._thumb_face: int | None = None
        self._thumbs: dict[int, PILImage.Image | None] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield fixed_table("people-table", PEOPLE_COLUMNS, zebra=True)
            with Vertical(id="person-detail"):
                with Horizontal(id="person-head"):
                    if THUMB_CLASS is None:
                        yield Static("(no preview)", id="person-thumb")
                    else:
                        yield THUMB_CLASS(None, id="person-thumb")
                    yield Static("", id="person-info")
                yield Static("", id="person-seen")
                yield fixed_table("person-faces", FACE_COLUMNS)
        yield Footer()

    # -- loading -------------------------------------------------------------------------------

    def fetch(self) -> PeopleData:
        return PeopleData(
            self.library.persons(), self.library.profile() or {}, read_child_marks(self.library)
        )

    def show(self, data: PeopleData) -> None:
        self.data = data
        ids = {p["id"] for p in data.persons}
        self.marked &= ids
        owner, chosen = self.owner()
        rows = [(str(p["id"]), self._cells(p, owner, chosen)) for p in data.persons]
        sync_table(self.query_one("#people-table", DataTable), rows)
        if not data.persons:
            self._wanted = None
            self.query_one("#person-info", Static).update(
                "No faces found yet.\nPeople appear once photos with faces are indexed."
            )
            self.query_one("#person-seen", Static).update("")
            sync_table(self.query_one("#person-faces", DataTable), [])
            self._set_thumb(None, None)
            return
        current = self.current()
        if current is not None:  # the detail may have changed too (a face moved, a new name)
            self._load_detail(current["id"])

    def _cells(self, person: dict[str, Any], owner: int | None, chosen: bool) -> tuple[Any, ...]:
        mark = self.data.child_marks.get(person["id"])
        # "child?" is estimated from the faces' ages; "child" and "adult" are the user's word.
        child = {None: "child?" if person["is_child"] else "", True: "child", False: "adult"}[mark]
        star = ("★" if chosen else "☆") if person["id"] == owner else ""
        check = "✓" if person["id"] in self.marked else ""
        return check, plain(person_label(person)), person["photo_count"], person["face_count"], star, child

    def owner(self) -> tuple[int | None, bool]:
        """The user's choice (★), else the profile's guess (☆), which may lag a decision."""
        chosen = next((p["id"] for p in self.data.persons if p["is_owner"]), None)
        if chosen is not None:
            return chosen, True
        return (self.data.profile.get("owner") or {}).get("person_id"), False

    def current(self) -> dict[str, Any] | None:
        key = selected_key(self.query_one("#people-table", DataTable))
        return next((p for p in self.data.persons if str(p["id"]) == key), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "people-table" and event.row_key.value is not None:
            person_id = int(event.row_key.value)
            if person_id != self._wanted:
                self._load_detail(person_id)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "people-table":
            self.query_one("#person-faces", DataTable).focus()
        elif event.data_table.id == "person-faces" and event.row_key.value in self._faces:
            self.shadowlens.open_photo(self._faces[event.row_key.value]["path"])

    def _load_detail(self, person_id: int) -> None:
        self._wanted = person_id
        self._fetch_detail(person_id)

    @work(thread=True, exclusive=True, group="detail")
    def _fetch_detail(self, person_id: int) -> None:
        faces = self.library.person_faces(person_id)
        if get_current_worker().is_cancelled:
            return
        self.app.call_from_thread(self._show_detail, person_id, faces)
        cover = faces[0] if faces else None
        if cover is not None and cover["face_id"] not in self._thumbs and cover["path"]:
            thumb = face_crop(cover["path"], cover["bbox"])
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._show_thumb, person_id, cover["face_id"], thumb)

    def _show_detail(self, person_id: int, faces: list[dict[str, Any]]) -> None:
        person = next((p for p in self.data.persons if p["id"] == person_id), None)
        if not self.is_attached or person is None or person_id != self._wanted:
            return
        self._faces = {str(f["face_id"]): f for f in faces}
        self.query_one("#person-info", Static).update(self._info(person))
        self.query_one("#person-seen", Static).update(self._seen_with(person_id))
        rows = [(str(f["face_id"]), (f["face_id"], *split_path(f["path"] or ""))) for f in faces]
        sync_table(self.query_one("#person-faces", DataTable), rows)
        cover: int | None = faces[0]["face_id"] if faces else None
        if cover != self._thumb_face:
            if cover is not None and cover in self._thumbs:
                self._set_thumb(cover, self._thumbs[cover])
            else:  # blank until the crop loads: never the last person's face under this name
                self._set_thumb(None, None)

    def _show_thumb(self, person_id: int, face_id: int, thumb: PILImage.Image | None) -> None:
        if len(self._thumbs) >= THUMB_CACHE:
            self._thumbs.pop(next(iter(self._thumbs)))
        self._thumbs[face_id] = thumb
        if self.is_attached and person_id == self._wanted:
            self._set_thumb(face_id, thumb)

    def _set_thumb(self, face_id: int | None, thumb: PILImage.Image | None) -> None:
        self._thumb_face = face_id
        widget = self.query_one("#person-thumb")
        if THUMB_CLASS is not None and isinstance(widget, THUMB_CLASS):
            widget.image = thumb

    def _info(self, person: dict[str, Any]) -> str:
        owner, chosen = self.owner()
        lines = [f"[b]{escape(person_label(person))}[/b]"]
        lines.append(f"{plural(person['photo_count'], 'photo')} · {plural(person['face_count'], 'face')}")
        if person["id"] == owner:
            lines.append("★ you (your choice)" if chosen else "☆ probably you (appears most)")
        mark = self.data.child_marks.get(person["id"])
        if mark is None:
            lines.append(f"{'a child' if person['is_child'] else 'not a child'} (estimated)")
        else:
            lines.append(f"{'a child' if mark else 'not a child'} (your mark)")
        lines.append(f"[dim]{escape(str(person['engine']))}[/dim]")
        return "\n".join(lines)

    def _seen_with(self, person_id: int) -> str:
        if not self.data.profile:
            return "[b]Seen with[/b]\n[dim]the profile is not built yet[/dim]"
        entry: dict[str, Any] = next(
            (p for p in self.data.profile.get("people", []) if p["id"] == person_id), {}
        )
        names = {p["id"]: person_label(p) for p in self.data.persons}
        lines = ["[b]Seen with[/b]"]
        # The profile lags decisions: a person merged away since is no longer worth a line.
        others = [o for o in entry.get("seen_with", []) if o["person_id"] in names]
        for other in others[:SEEN_WITH]:
            name = names[other["person_id"]]
            where = f" · {', '.join(other['places'])}" if other.get("places") else ""
            lines.append(escape(f"  {name}: {plural(other['photos'], 'photo')}{where}"))
        return "\n".join(lines) if len(lines) > 1 else "[b]Seen with[/b]\n[dim]nobody else so far[/dim]"

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
        face = selected_key(self.query_one("#person-faces", DataTable))
        person = next((p for p in self.data.persons if p["id"] == self._wanted), None)
        if face is None or person is None:
            self.notify("Pick a face in the faces table first.", severity="warning")
            return
        if person["face_count"] <= 1:
            self.notify(f"That is the only face of {person_label(person)}.", severity="warning")
            return
        face_id = int(face)
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
