"""Pictures in the terminal: which widget draws them, a person's face as a thumbnail, and a
photo's preview with a coloured box around everything found on it.

textual-image asks the terminal what it can draw (sixel, the kitty protocol) when it is
imported. The probe can raise (stdout a terminal, stdin not), and its "no answer" fallback,
Unicode blocks, looks worse than half cells in every terminal Textual itself runs in: half
cells then. Without textual-image at all the screens still work, only the pictures are missing
and ``IMAGE_PROBLEM`` says why. Screens read ``IMAGE_CLASS`` when they compose, so a test can
pin it (half cells) in one place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image as PILImage
from PIL import ImageDraw, ImageOps

if TYPE_CHECKING:
    from textual_image.widget._base import Image as ImageWidget

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

THUMB_SIDE = 160
THUMB_MARGIN = 0.3  # of the face's longer side, so hair and chin are in the crop
# Enough pixels for a sharp 160 px crop of any face the detectors could find, at a fraction
# of the cost of decoding a 50 MP photo at full size.
DECODE_SIDE = 1600
MAX_MEGAPIXELS = 250.0
PREVIEW_SIDE = 800
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
Box = tuple[str, tuple[float, ...]]  # (kind, (x, y, w, h))


def face_crop(path: str, bbox: object) -> PILImage.Image | None:
    """The face at ``bbox`` (x, y, w, h in full-size upright pixels) with a margin, ~160 px."""
    # The daemon's own decoder: same orientation as the boxes, HEIC support, size limits.
    # Imported here: it loads pillow-heif, which only the screens with pictures need.
    from shadowlens.daemon.analysis.decode import DecodeError, open_photo

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


def colour_of(kind: str) -> str:
    """The box colour of a kind, as a Rich colour (the findings list uses it too)."""
    red, green, blue = BOX_COLOURS.get(kind, OTHER_BOX)
    return f"rgb({red},{green},{blue})"


def boxes_of(info: dict[str, Any] | None) -> list[Box]:
    findings = info["findings"] if info else []
    boxes = [(str(f["kind"]), tuple(f["bbox"])) for f in findings if f.get("bbox")]
    rank = {kind: i for i, kind in enumerate(BOX_ORDER)}
    return sorted(boxes, key=lambda box: rank.get(box[0], 0))


def render_preview(path: str, boxes: list[Box]) -> PILImage.Image:
    """The upright photo, at most PREVIEW_SIDE px, with the findings' boxes drawn on it."""
    from shadowlens.daemon.analysis.decode import open_photo
    from shadowlens.daemon.config import DecodeSettings

    max_megapixels = DecodeSettings().max_megapixels
    photo = open_photo(Path(path), want_side=PREVIEW_SIDE, max_megapixels=max_megapixels)
    image = photo.pixels(PREVIEW_SIDE).copy()
    scale = image.width / photo.width if photo.width else 1.0
    draw = ImageDraw.Draw(image)
    line = max(2, round(max(image.size) / 150))
    for kind, (x, y, w, h) in boxes:
        box = (x * scale, y * scale, (x + w) * scale, (y + h) * scale)
        draw.rectangle(box, outline=BOX_COLOURS.get(kind, OTHER_BOX), width=line)
    return image
