"""One photo: the picture with what was found drawn on it, and why it scores what it scores.

Pushed on top of any screen (``app.open_photo``). The decisions here (safe, "this is me") go
through ``Library``; the only direct read is the photo id of a path, which ``photo()`` omits.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from PIL import Image as PILImage
from PIL import ImageDraw
from rich.text import Text
from shadowlens.daemon.fsnames import shown
from shadowlens.tui.base import LibraryScreen
from shadowlens.tui.safe_copy import run_safe_copies
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Footer, Header, Static

if TYPE_CHECKING:
    from textual_image.widget._base import Image as ImageWidget

# textual-image asks the terminal what it can draw (sixel, kitty) when it is imported. That
# query raises when stdout is a terminal but stdin is not, and "no answer" means Unicode blocks,
# which look worse than half cells in every terminal Textual itself runs in.
IMAGE_CLASS: type[ImageWidget] | None
IMAGE_PROBLEM: str | None = None
try:
    from textual_image.renderable import Image as _DetectedRenderable
    from textual_image.renderable import UnicodeImage as _UnicodeRenderable
    from textual_image.widget import HalfcellImage
    from textual_image.widget import Image as _DetectedImage

    IMAGE_CLASS = HalfcellImage if _DetectedRenderable is _UnicodeRenderable else _DetectedImage
except Exception as exc:  # anything the terminal probe raises: show the details without the picture
    IMAGE_CLASS, IMAGE_PROBLEM = None, f"no image preview: {exc}"

MAX_SIDE = 800
BOX_COLOURS = {
    "face": (0, 200, 255),
    "pii": (255, 50, 50),
    "brand": (255, 170, 0),
    "text": (90, 220, 90),
    "code": (200, 90, 255),
    "nudity": (255, 0, 170),
}
OTHER_BOX = (230, 230, 230)
# Drawn last, so a face or personal data is never hidden under a line of text.
BOX_ORDER = ("text", "object", "code", "brand", "nudity", "face", "pii")
HIGH, MEDIUM = 60, 30


@dataclass(frozen=True)
class _Detail:
    info: dict[str, Any] | None
    photo_id: int | None
    image_key: tuple[Any, ...] | None
    image: PILImage.Image | None  # None: unchanged (same image_key) or not decodable (image_error)
    image_error: str | None


def _boxes(info: dict[str, Any] | None) -> list[tuple[str, tuple[float, ...]]]:
    findings = info["findings"] if info else []
    boxes = [(str(f["kind"]), tuple(f["bbox"])) for f in findings if f.get("bbox")]
    rank = {kind: i for i, kind in enumerate(BOX_ORDER)}
    return sorted(boxes, key=lambda box: rank.get(box[0], 0))


def render_preview(path: str, boxes: list[tuple[str, tuple[float, ...]]]) -> PILImage.Image:
    """The upright photo, at most MAX_SIDE px, with the findings' boxes drawn on it."""
    # The daemon's own decoder: same orientation as the boxes, HEIC support, size limits.
    # Imported here: it loads pillow-heif, which only the detail screen needs.
    from shadowlens.daemon.analysis.decode import open_photo
    from shadowlens.daemon.config import DecodeSettings

    photo = open_photo(Path(path), want_side=MAX_SIDE, max_megapixels=DecodeSettings().max_megapixels)
    image = photo.pixels(MAX_SIDE).copy()
    scale = image.width / photo.width if photo.width else 1.0
    draw = ImageDraw.Draw(image)
    line = max(2, round(max(image.size) / 150))
    for kind, (x, y, w, h) in boxes:
        box = (x * scale, y * scale, (x + w) * scale, (y + h) * scale)
        draw.rectangle(box, outline=BOX_COLOURS.get(kind, OTHER_BOX), width=line)
    return image


def _key_attrs(finding: dict[str, Any]) -> list[str]:
    """The attributes worth a glance, per kind. Personal data only ever in its masked form."""
    kind, attrs = finding["kind"], finding.get("attrs") or {}
    out: list[str] = []
    if kind == "face":
        if attrs.get("age") is not None:
            out.append(f"age ~{attrs['age']:.0f}")
        out += [str(attrs["sex"])] if attrs.get("sex") else []
        out += ["smiling"] if attrs.get("smiling") else []
        if finding.get("person_id") is not None:
            out.append(f"person #{finding['person_id']}")
    elif kind == "pii":
        out.append(str(attrs.get("masked", "")))
    elif kind == "brand":
        out += [str(attrs.get("category") or ""), f"via {attrs['via']}" if attrs.get("via") else ""]
    elif kind == "code":
        out.append(str(attrs.get("payload_type", "")))
    elif kind == "nudity":
        out += [str(attrs.get("body_part", "")), "exposed" if attrs.get("exposed") else "covered"]
    elif kind == "scene":
        out.append(", ".join(str(e) for e in (attrs.get("evidence") or [])[:3]))
    elif kind in ("time", "name", "metadata_issue"):
        out.append(str(attrs.get("source") or attrs.get("field") or attrs.get("reason") or ""))
    return [part for part in out if part]


def _label(finding: dict[str, Any], secrets: list[tuple[str, str]]) -> str:
    label = str(finding["label"])
    if label == finding["kind"]:
        return ""  # a face is labelled "face": once is enough
    if finding["kind"] == "text":
        # A line of text holds the personal data found in it: show it the way pii is shown.
        # OCR keeps the printed spacing ("4242 4242 ...") while pii stores the value normalised,
        # so compare letters and digits only; a line holding a secret is shown as its mask.
        for value, masked in secrets:
            if value in label:
                label = label.replace(value, masked)
            elif _alnum(value) and _alnum(value) in _alnum(label):
                label = masked
    return label


def _alnum(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum()).lower()


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
                image: Widget = Static(IMAGE_PROBLEM or "", id="photo-image", classes="muted")
                if IMAGE_CLASS is not None:
                    image = IMAGE_CLASS(None, id="photo-image")
                yield image
                yield Static("", id="photo-image-note", classes="muted")
            with VerticalScroll(id="photo-info"):
                for name, title in (
                    ("summary", "Exposure"),
                    ("reasons", "Why"),
                    ("findings", "Findings"),
                    ("paths", "Files"),
                ):
                    panel = Static("", id=f"photo-{name}", classes="panel")
                    panel.border_title = title
                    yield panel
        yield Footer()

    # -- loading -------------------------------------------------------------------------------

    def fetch(self) -> _Detail:
        info = self.library.photo(self.photo_path)
        found = info.get("photo_id") if info else None
        photo_id = int(found) if found is not None else self.photo_id
        boxes = _boxes(info)
        try:
            stat = os.stat(self.photo_path)
            key: tuple[Any, ...] | None = (stat.st_mtime_ns, stat.st_size, tuple(boxes))
        except OSError as exc:
            return _Detail(info, photo_id, None, None, f"cannot read the file: {exc.strerror}")
        # Decoding is the slow part: skip it when neither the file nor the boxes changed.
        if key == self._image_key or IMAGE_CLASS is None:
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
            if IMAGE_CLASS is not None:
                self.query_one("#photo-image", IMAGE_CLASS).image = data.image
            self.query_one("#photo-image-note", Static).update(data.image_error or "")
        self._image_key = data.image_key
        self.query_one("#photo-summary", Static).update(self._summary())
        self.query_one("#photo-reasons", Static).update(self._reasons())
        findings = self.info["findings"] if self.info else []
        panel = self.query_one("#photo-findings", Static)
        panel.border_title = f"Findings ({len(findings)})"
        panel.update(self._findings())
        self.query_one("#photo-paths", Static).update(self._paths())

    def _summary(self) -> Text:
        info = self.info
        if info is None:
            return Text("Not in the index (yet).", style="italic")
        score = info.get("exposure")
        style = "bold red" if (score or 0) >= HIGH else "yellow" if (score or 0) >= MEDIUM else "bold"
        out = Text.assemble((f"{score if score is not None else '–'}/100", style))
        if info.get("marked_safe"):
            out.append("  marked safe", style="green")
        if info.get("status") != "indexed":
            out.append(f"  {info.get('status')}: {info.get('error') or ''}", style="italic")
        place = info.get("place") or {}
        device = info.get("device") or {}
        facts = [
            (info.get("taken_at") or "").replace("T", " ")[:16],
            ", ".join(
                str(v) for v in (place.get("city"), place.get("admin"), place.get("country_code")) if v
            ),
            " ".join(str(v) for v in (device.get("make"), device.get("model")) if v),
            f"{info['width']}×{info['height']}" if info.get("width") else "",
        ]
        out.append("\n" + " · ".join(fact for fact in facts if fact), style="dim")
        for problem in info.get("detector_errors") or []:
            out.append(f"\n{problem['detector']} failed: {problem['error']}", style="dim italic")
        return out

    def _reasons(self) -> Text:
        reasons = (self.info or {}).get("reasons") or []
        if not reasons:
            return Text("Nothing that raises the score.", style="dim")
        lines = [Text.assemble((f"{'+' + str(r['points']):>4} ", "bold"), str(r["text"])) for r in reasons]
        return Text("\n").join(lines)

    def _findings(self) -> Text:
        findings: list[dict[str, Any]] = (self.info or {}).get("findings") or []
        if not findings:
            return Text("None.", style="dim")
        secrets = [
            (str(f["attrs"]["value"]), str(f["attrs"].get("masked", "•••")))
            for f in findings
            if f["kind"] == "pii" and (f.get("attrs") or {}).get("value")
        ]
        lines = []
        for f in findings:
            red, green, blue = BOX_COLOURS.get(f["kind"], OTHER_BOX)
            colour = f"rgb({red},{green},{blue})"
            line = Text.assemble((f"{f['kind']:<7}", f"bold {colour}"), " ", _label(f, secrets))
            if f.get("bbox"):
                x, y, w, h = (round(v) for v in f["bbox"])
                line.append(f"  [{x},{y} {w}×{h}]", style="dim")
            attrs = _key_attrs(f)
            if attrs:
                line.append("  " + " · ".join(attrs), style="italic")
            lines.append(line)
        return Text("\n").join(lines)

    def _paths(self) -> Text:
        others = (self.info or {}).get("other_paths") or []
        return Text(shown("\n".join([self.photo_path, *others])))

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
        self.query_one("#photo-summary", Static).update(self._summary())
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
