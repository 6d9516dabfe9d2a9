"""How ``rendered_documents`` draws its documents: on a corpus photo, paper, an X-ray or a drawn
app screen, with Pillow's scalable font, saved without metadata (no GPS, no camera) as a scanner,
a screenshot tool or an export writes them.

A document is a ``Page`` (its name, size, background, text height and the home country the
personal-data detector is configured with) and its text, which names, beside each line, the
findings that line must give::

    Page("form_us_16px", (1280, 800), SCREEN, 16, "US").drawn('''
        @ 0.2 0.15
        Name: Jane Doe              => name=Jane Doe
        Phone: (617) 555-0142       => phone=+16175550142
    ''')

so a reader sees what is expected of each line where it is drawn. ``@ x y`` starts a block of
lines at that share of the image's width and height; an empty line is a line of space. Values are
as ``find_pii`` normalises them: phones in E.164, dates in ISO, links and e-mails in lower case.

It imports neither pytest nor shadowlens, for the bench imports it too; the caller passes the
corpus root. Nothing is random and nothing reads the clock.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

PAPER, GREY_PAPER, SCREEN, XRAY = "paper", "grey paper", "screen", "x-ray"
# Corpus photos text is pasted on (a label, a sign, a sheet of paper on a table), and the one an
# X-ray is made from.
STREET, CAMERA_SHOT, PHONE_SHOT = (
    "exif-samples/gps/DSCN0010.jpg",
    "exif-samples/cameras/Canon_40D.jpg",
    "exif-samples/mobile/jolla.jpg",
)
LINE_PITCH = 1.7  # in text heights
EXPECTS, AND, BLOCK_AT = "=>", ";", "@ "
FIRST_BLOCK_AT = (0.08, 0.08)


@dataclass(frozen=True)
class Expected:
    """A finding a document must give: its type (``PII_TYPES``) and a part of its value."""

    type: str
    contains: str

    def __str__(self) -> str:
        return f"{self.type}={self.contains}"


@dataclass(frozen=True)
class Block:
    at: tuple[float, float]
    rows: tuple[tuple[str, tuple[Expected, ...]], ...]  # each line and what it must give


@dataclass(frozen=True)
class Page:
    name: str  # starts with its kind: form_, letter_, medical_, link_, phone_ or negative_
    size: tuple[int, int]
    background: str  # PAPER, GREY_PAPER, SCREEN, XRAY or a corpus photo's path
    text_px: int
    # [detectors.pii] home_country; None leaves a national number to its phone label.
    home_country: str | None = None

    def drawn(self, text: str) -> Document:
        return Document(self, text)


def _expected(wanted: str) -> tuple[Expected, ...]:
    pairs = [pair.split("=", 1) for pair in wanted.split(AND) if pair.strip()]
    return tuple(Expected(kind.strip(), value.strip()) for kind, value in pairs)


@dataclass(frozen=True)
class Document:
    page: Page
    text: str

    @property
    def name(self) -> str:
        return self.page.name

    @property
    def kind(self) -> str:
        return self.page.name.split("_", 1)[0]

    @property
    def blocks(self) -> list[Block]:
        blocks: list[Block] = []
        at, rows = FIRST_BLOCK_AT, list[tuple[str, tuple[Expected, ...]]]()
        for row in textwrap.dedent(self.text).strip("\n").splitlines():
            if row.startswith(BLOCK_AT):
                if rows:
                    blocks.append(Block(at, tuple(rows)))
                x, y = row.removeprefix(BLOCK_AT).split()
                at, rows = (float(x), float(y)), []
                continue
            line, _, wanted = row.partition(EXPECTS)
            rows.append((line.rstrip(), _expected(wanted)))
        return [*blocks, Block(at, tuple(rows))]

    @property
    def lines(self) -> list[str]:
        return [line for block in self.blocks for line, _ in block.rows if line]

    @property
    def expected(self) -> tuple[Expected, ...]:
        return tuple(e for block in self.blocks for _, wanted in block.rows for e in wanted)

    @property
    def file_name(self) -> str:
        # Screenshots are PNG, as screenshot tools write them; scans and photos JPEG.
        return f"{self.name}.{'png' if self.page.background == SCREEN else 'jpg'}"


def _background(page: Page, corpus: Path) -> Image.Image:
    if page.background == PAPER:
        return Image.new("RGB", page.size, (250, 249, 245))
    if page.background == GREY_PAPER:
        return Image.new("RGB", page.size, (222, 222, 216))
    if page.background == SCREEN:
        return _screen(*page.size)
    source = STREET if page.background == XRAY else page.background
    image = Image.open(corpus / source).convert("RGB").resize(page.size)
    if page.background == XRAY:
        # A radiograph's dark grey: the photo's shapes at a third of their brightness.
        return image.convert("L").point(lambda value: value // 3).convert("RGB")
    return image


def _screen(width: int, height: int) -> Image.Image:
    """An app window: a title bar with the app's name, a sidebar and a light form area."""
    image = Image.new("RGB", (width, height), (243, 244, 246))
    draw = ImageDraw.Draw(image)
    bar = max(height // 14, 40)
    draw.rectangle((0, 0, width, bar), fill=(30, 58, 110))
    draw.text((bar // 2, bar // 4), "Records", fill="white", font=ImageFont.load_default(size=bar // 2))
    draw.rectangle((0, bar, width // 8, height), fill=(226, 229, 234))
    return image


def _ink(background: str) -> tuple[str, str | None]:
    """The text's colour and the colour of the field it sits in (None: on the background)."""
    if background == XRAY:
        return "white", None  # burned into the pixels, as a modality's overlay is
    if background in (PAPER, GREY_PAPER):
        return "black", None
    return "black", "white"  # an input field on a screen, a paper label on a photo


def write(document: Document, corpus: Path, folder: Path) -> Path:
    """Draw ``document`` into ``folder`` and return its path."""
    page = document.page
    image = _background(page, corpus)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=page.text_px)
    ink, field = _ink(page.background)
    pad = max(page.text_px // 2, 4)
    for block in document.blocks:
        x, y = block.at[0] * page.size[0], block.at[1] * page.size[1]
        for line, _ in block.rows:
            if line and field:
                left, top, right, bottom = draw.textbbox((x, y), line, font=font)
                draw.rectangle((left - pad, top - pad, right + pad, bottom + pad), fill=field)
            draw.text((x, y), line, fill=ink, font=font)
            y += page.text_px * LINE_PITCH
    path = folder / document.file_name
    if page.background == SCREEN:
        image.save(path)
    else:
        image.save(path, quality=90)
    return path


def holds(expected: Expected, kind: str, value: str) -> bool:
    """Whether a finding of type ``kind`` and ``value`` is ``expected``. An address holds its
    postcode: where both are read, ``find_pii`` keeps the longer match, the whole address."""
    kinds = ("postcode", "address") if expected.type == "postcode" else (expected.type,)
    return kind in kinds and expected.contains in value


def missed(document: Document, found: Iterable[tuple[str, str]]) -> list[Expected]:
    """The expected findings that no ``(type, value)`` of ``found`` holds."""
    found = list(found)
    return [e for e in document.expected if not any(holds(e, kind, value) for kind, value in found)]
