"""The person under the people screen's cursor: a face thumbnail, who they are, who they are
seen with, and their faces (enter opens a face's photo).

The faces and the thumbnail load in workers; a person's detail never shows another person's
face, even while the cursor runs down the list faster than the crops load.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PIL import Image as PILImage
from shadowlens.tui import pictures
from shadowlens.tui.pictures import face_crop
from shadowlens.tui.tables import fixed_table, selected_key, split_path, sync_table
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

if TYPE_CHECKING:
    from shadowlens.tui.app import ShadowlensApp

FACE_COLUMNS = (("face", "Face", 5), ("photo", "Photo", 24), ("folder", "Folder", 60))
THUMB_CACHE = 64
# (who they are, who they are seen with) for a person id, or None when the person is gone.
Describe = Callable[[int], tuple[str, str] | None]


class PersonDetail(Vertical):
    def __init__(self, describe: Describe, *, id: str) -> None:
        super().__init__(id=id)
        self.describe = describe
        self.wanted: int | None = None  # the person whose detail is loading or shown
        self._faces: dict[str, dict[str, Any]] = {}
        self._thumb_face: int | None = None
        self._thumbs: dict[int, PILImage.Image | None] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="person-head"):
            if pictures.IMAGE_CLASS is None:
                yield Static("(no preview)", id="person-thumb")
            else:
                yield pictures.IMAGE_CLASS(None, id="person-thumb")
            yield Static("", id="person-info")
        yield Static("", id="person-seen")
        yield fixed_table("person-faces", FACE_COLUMNS)

    @property
    def shadowlens(self) -> ShadowlensApp:
        from shadowlens.tui.app import ShadowlensApp

        assert isinstance(self.app, ShadowlensApp)
        return self.app

    @property
    def faces_table(self) -> DataTable[Any]:
        return self.query_one("#person-faces", DataTable)

    def selected_face(self) -> int | None:
        key = selected_key(self.faces_table)
        return None if key is None else int(key)

    def nobody(self, message: str) -> None:
        self.wanted = None
        self.query_one("#person-info", Static).update(message)
        self.query_one("#person-seen", Static).update("")
        sync_table(self.faces_table, [])
        self._set_thumb(None, None)

    def load(self, person_id: int) -> None:
        self.wanted = person_id
        self._fetch(person_id)

    @work(thread=True, exclusive=True, group="detail")
    def _fetch(self, person_id: int) -> None:
        faces = self.shadowlens.library.person_faces(person_id)
        if get_current_worker().is_cancelled:
            return
        self.app.call_from_thread(self._show, person_id, faces)
        cover = faces[0] if faces else None
        if cover is not None and cover["face_id"] not in self._thumbs and cover["path"]:
            thumb = face_crop(cover["path"], cover["bbox"])
            if not get_current_worker().is_cancelled:
                self.app.call_from_thread(self._show_thumb, person_id, cover["face_id"], thumb)

    def _show(self, person_id: int, faces: list[dict[str, Any]]) -> None:
        described = self.describe(person_id)
        if not self.is_attached or described is None or person_id != self.wanted:
            return
        self._faces = {str(f["face_id"]): f for f in faces}
        self.query_one("#person-info", Static).update(described[0])
        self.query_one("#person-seen", Static).update(described[1])
        rows = [(str(f["face_id"]), (f["face_id"], *split_path(f["path"] or ""))) for f in faces]
        sync_table(self.faces_table, rows)
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
        if self.is_attached and person_id == self.wanted:
            self._set_thumb(face_id, thumb)

    def _set_thumb(self, face_id: int | None, thumb: PILImage.Image | None) -> None:
        self._thumb_face = face_id
        widget = self.query_one("#person-thumb")
        if pictures.IMAGE_CLASS is not None and isinstance(widget, pictures.IMAGE_CLASS):
            widget.image = thumb

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "person-faces" and event.row_key.value in self._faces:
            event.stop()
            self.shadowlens.open_photo(self._faces[event.row_key.value]["path"])
