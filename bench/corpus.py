"""The shared photo corpus (``../shared/corpus`` beside the repo) and the subsets benchmarks use.

The corpus is described by ``manifest.csv``; its files are never copied into the repo. Rows
hard-link them into a scratch directory (copying only if linking is impossible), which costs
nothing and lets one photo appear under many names.

Subsets:

* photos: every manifest row with known, non-zero dimensions whose notes do not start with
  ``BROKEN`` (deliberately undecodable files) or ``HUGE`` (the 200 MP Galaxy S24 Ultra HEIC).
  These are what a scan should index without a file error.
* phone-size photos: the photos with width x height >= 3,000,000 pixels (3 MP; every phone
  camera of the last decade writes at least that). The 200 MP file is excluded because it
  would dominate the set: scanned alone it took ~6 s and 1.6 GB RSS on the 2-core reference
  machine, about twice the scan time of the 19 other phone-size photos together, so
  photos-per-second and peak RSS would measure that one file; it deserves a row of its own.
  ``ODD`` photos (damaged EXIF, pixels fine) stay in: real libraries contain them.
"""

from __future__ import annotations

import csv
import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

PHONE_MIN_PIXELS = 3_000_000


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the corpus root, as in the manifest
    format: str
    width: int
    height: int
    size_bytes: int
    sha256: str
    notes: str

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def broken(self) -> bool:
        return self.notes.startswith("BROKEN")

    @property
    def huge(self) -> bool:
        return self.notes.startswith("HUGE")

    @property
    def name(self) -> str:
        return Path(self.path).name


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


class Corpus:
    def __init__(self, root: Path, entries: list[Entry]) -> None:
        self.root = root
        self.entries = entries
        self.copied = 0  # files that had to be copied because hard-linking failed

    @classmethod
    def default_root(cls, repo: Path) -> Path:
        return repo.parent / "shared" / "corpus"

    @classmethod
    def load(cls, root: Path) -> Corpus | None:
        """The corpus at ``root``, or None when its manifest is missing."""
        manifest = root / "manifest.csv"
        if not manifest.is_file():
            return None
        with open(manifest, newline="", encoding="utf-8") as handle:
            entries = [
                Entry(
                    path=rec["path"],
                    format=rec.get("format", ""),
                    width=_int(rec.get("width")),
                    height=_int(rec.get("height")),
                    size_bytes=_int(rec.get("size_bytes")),
                    sha256=rec.get("sha256", ""),
                    notes=rec.get("notes", ""),
                )
                for rec in csv.DictReader(handle)
            ]
        return cls(root, entries)

    def photos(self) -> list[Entry]:
        return [e for e in self.entries if e.pixels > 0 and not e.broken and not e.huge]

    def phone_size(self) -> list[Entry]:
        return [e for e in self.photos() if e.pixels >= PHONE_MIN_PIXELS]

    def place(self, entry: Entry, dest: Path) -> Path:
        """Put ``entry`` at ``dest`` (a hard link when possible). The scan only reads photos, so
        sharing the corpus inode is safe."""
        source = self.root / entry.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, dest)
        except OSError as exc:
            # Another filesystem, or a policy (protected_hardlinks) that forbids linking.
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EACCES, errno.EMLINK, errno.ENOTSUP):
                raise
            shutil.copyfile(source, dest)
            self.copied += 1
        return dest

    def place_variant(self, entry: Entry, dest: Path, variant: int) -> Path:
        """A copy of ``entry`` whose bytes (so its content hash) differ but whose pixels do not: an
        ISOBMFF ``free`` box at the end of a HEIF, or bytes after a JPEG's or PNG's end marker,
        which decoders skip. Lets a row analyse more photos than the corpus has."""
        data = (self.root / entry.path).read_bytes()
        tag = f"shadowlens-bench-{variant}".encode()
        if entry.format.upper() in {"HEIC", "HEIF", "AVIF"}:
            data += (8 + len(tag)).to_bytes(4, "big") + b"free" + tag
        else:
            data += tag
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        self.copied += 1
        return dest

    def warm(self, entries: list[Entry]) -> None:
        """Read files once so the first timed repetition does not also measure a cold disk."""
        for entry in entries:
            with open(self.root / entry.path, "rb") as handle:
                while handle.read(1 << 20):
                    pass


def describe(entries: list[Entry]) -> str:
    """``19 photos: 12 JPEG, 7 HEIF`` for a row's notes."""
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry.format] = counts.get(entry.format, 0) + 1
    kinds = ", ".join(f"{n} {fmt}" for fmt, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"{len(entries)} photos: {kinds}"
