"""One photo: the picture with what was found drawn on it, and why it scores what it scores.

Pushed on top of any screen (``app.open_photo``). The decisions here (safe, "this is me") go
through ``Library``, one queued write at a time.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from PIL import Image as PILImage
from rich.text import Text
from shadowlens.daemon.fsnames import shown
from shadowlens.tui import photo_text, pictures
from shadowlens.tui.base import LibraryScreen
from shadowlens.tui.pictures import boxes_of, render_preview
from shadowlens.tui.safe_copy import run_safe_copies
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Footer, Header, Static

PANELS = (("summary", "Exposure"), ("reasons", "Why"), ("findings", "Findings"), ("paths", "Files"))


@dataclass(frozen=True)
class _Detail:
    info: dict[str, Any] | None
    photo_id: int | None
    image_key: tuple[Any, ...] | None
    image: PILImage.Image | None  # None: unchanged (same image_key) or not decodable (image_error)
    image_error: str | None


class PhotoScreen(LibraryScreen):
    DEFAULT_CSS = """
    PhotoScreen #photo-body { height: 1fr; }
    PhotoScreen #photo-left { width: 1fr; height: 1fr; align: center middle; }
    PhotoScreen #photo-image { width: auto; height: auto; }
    PhotoScreen #photo-info { width: 1fr; height: 1fr; }
    """
    AUTO_FOCUS = "#photo-info"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back"),
        Binding("s", "toggle_safe", "Safe"),
        Binding("m", "this_is_me", "Me"),
        Binding("o", "open_file", "Open"),
        Binding("c", "safe_copy", "Safe copy"),
    ]

    def __init__(self, path: str, photo_id: int | None = None) -> None:
        super().__init__()
        self.photo_path = path
        self.photo_id = photo_id
        self.info: dict[str, Any] | None = None
        self._image_key: tuple[Any, ...] | None = None
        self._writes: queue.SimpleQueue[tuple[Callable[[], None], str]] = queue.SimpleQueue()
        self._write_lock = threading.Lock()

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="photo-body"):
            with Container(id="photo-left"):
                image: Widget = Static(pictures.IMAGE_PROBLEM or "", id="photo-image", classes="muted")
                if pictures.IMAGE_CLASS is not None:
                    image = pictures.IMAGE_CLASS(None, id="photo-image")
                yield image
                yield Static("", id="photo-image-note", classes="muted")
            with VerticalScroll(id="photo-info"):
                for name, title in PANELS:
                    panel = Static("", id=f"photo-{name}", classes="panel")
                    panel.border_title = title
                    yield panel
        yield Footer()

    # -- loading -------------------------------------------------------------------------------

    def fetch(self) -> _Detail:
        info = self.library.photo(self.photo_path)
        found = info.get("photo_id") if info else None
        photo_id = int(found) if found is not None else self.photo_id
        boxes = boxes_of(info)
        try:
            stat = os.stat(self.photo_path)
            key: tuple[Any, ...] | None = (stat.st_mtime_ns, stat.st_size, tuple(boxes))
        except OSError as exc:
            return _Detail(info, photo_id, None, None, f"cannot read the file: {exc.strerror}")
        # Decoding is the slow part: skip it when neither the file nor the boxes changed.
        if key == self._image_key or pictures.IMAGE_CLASS is None:
            return _Detail(info, photo_id, key, None, None)
        try:
            return _Detail(info, photo_id, key, render_preview(self.photo_path, boxes), None)
        except Exception as exc:  # a photo the daemon could not decode either: show the details
            # Keyed all the same, so a broken file is not decoded again on every reload.
            return _Detail(info, photo_id, key, None, f"cannot show the picture: {exc}")

    def show(self, data: _Detail) -> None:
        self.info, self.photo_id = data.info, data.photo_id
        # The picture is only replaced when the file or its boxes changed: no flicker on reload.
        if data.image_key != self._image_key or data.image_error:
            if pictures.IMAGE_CLASS is not None:
                self.query_one("#photo-image", pictures.IMAGE_CLASS).image = data.image
            self.query_one("#photo-image-note", Static).update(data.image_error or "")
        self._image_key = data.image_key
        self._show_summary()
        self.query_one("#photo-reasons", Static).update(photo_text.reasons(self.info))
        count = len(self.info["findings"]) if self.info else 0
        panel = self.query_one("#photo-findings", Static)
        panel.border_title = f"Findings ({count})"
        panel.update(photo_text.findings(self.info))
        others = (self.info or {}).get("other_paths") or []
        self.query_one("#photo-paths", Static).update(Text(shown("\n".join([self.photo_path, *others]))))

    def _show_summary(self) -> None:
        summary = photo_text.summary(self.info, self.library.alert_threshold)
        self.query_one("#photo-summary", Static).update(summary)

    # -- actions -------------------------------------------------------------------------------

    def action_close(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.dismiss()

    def action_toggle_safe(self) -> None:
        if self.info is None or self.photo_id is None:
            self.notify("This photo is not in the index.", severity="warning")
            return
        photo_id, safe = self.photo_id, not self.info.get("marked_safe")
        # Shown at once, so a second press toggles back even before the reload confirms it.
        self.info = {**self.info, "marked_safe": safe}
        self._show_summary()
        message = "Marked safe: no alerts for this photo." if safe else "No longer marked safe."
        self._decide(lambda: self.library.mark_safe(photo_id, safe), message)

    def action_this_is_me(self) -> None:
        faces = [
            f
            for f in (self.info or {}).get("findings") or []
            if f["kind"] == "face" and f.get("person_id") is not None and f.get("bbox")
        ]
        if not faces:
            self.notify("No recognised face in this photo.", severity="warning")
            return
        # The largest face is the one the photo is about; in a selfie, that is you.
        person_id = int(max(faces, key=lambda f: f["bbox"][2] * f["bbox"][3])["person_id"])
        self._decide(lambda: self.library.set_owner(person_id), f"Person #{person_id} is now you.")

    def action_safe_copy(self) -> None:
        self._safe_copy()

    @work(thread=True, group="safe-copy")
    def _safe_copy(self) -> None:
        run_safe_copies(self, self.library, [self.photo_path])

    def action_open_file(self) -> None:
        opener = shutil.which("xdg-open")
        if opener is None:
            self.notify("xdg-open is not installed: open the file yourself.", severity="warning")
            return
        try:
            # A session of its own: the viewer must outlive the TUI and never read its terminal.
            subprocess.Popen(
                [opener, self.photo_path],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            self.notify(f"Could not open the file: {exc}", severity="error")

    def _decide(self, write: Callable[[], None], done: str) -> None:
        self._writes.put((write, done))
        self._write_queued()

    @work(thread=True, group="decide")
    def _write_queued(self) -> None:
        # Writes wait for the daemon's write lock, so never on the UI thread; one at a time and
        # in the order asked, so "safe" then "not safe" pressed quickly ends as "not safe".
        with self._write_lock:
            while True:
                try:
                    write, done = self._writes.get_nowait()
                except queue.Empty:
                    return
                try:
                    write()
                except Exception as exc:
                    self.app.call_from_thread(self.notify, f"Not saved: {exc}", severity="error")
                    continue
                self.app.call_from_thread(self._decided, done)

    def _decided(self, message: str) -> None:
        self.notify(message)
        self.reload()
