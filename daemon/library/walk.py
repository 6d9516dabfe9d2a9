"""Walking the photo folders: no symlink leaves the roots, loops end, unreadable folders are reported."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shadowlens.daemon.analysis.formats import has_image_magic, is_image_name
from shadowlens.daemon.library.names import is_excluded, is_temporary

_SNIFF_BYTES = 262
NOT_AN_IMAGE = "not an image (neither a photo's extension nor an image format's first bytes)"


@dataclass
class WalkResult:
    files: dict[str, os.stat_result] = field(default_factory=dict)
    # (path, stage, one-line message): problems the user must see.
    errors: list[tuple[str, str, str]] = field(default_factory=list)
    # (path, reason): things deliberately not followed.
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # Folders that could not be listed: files known beneath them must not be treated as deleted.
    incomplete: list[str] = field(default_factory=list)

    def is_incomplete(self, path: str) -> bool:
        return any(path == d or path.startswith(d.rstrip(os.sep) + os.sep) for d in self.incomplete)


def _inside(real: str, real_roots: Sequence[str]) -> bool:
    return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in real_roots)


def looks_like_photo(path: str) -> bool:
    """A photo's extension, or an image format's first bytes (a photo saved without one)."""
    if is_image_name(Path(path)):
        return True
    try:
        with open(path, "rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError:
        return False
    return has_image_magic(head)


def walk(roots: Sequence[Path], exclude: Sequence[str] = (), follow_symlinks: bool = True) -> WalkResult:
    result = WalkResult()
    real_roots = [os.path.realpath(r) for r in roots]
    visited: set[tuple[int, int]] = set()
    for root in roots:
        root_str = os.path.abspath(root)
        try:
            st = os.stat(root_str)
        except OSError as exc:
            result.errors.append((root_str, "walk", f"cannot open folder: {exc.strerror or exc}"))
            result.incomplete.append(root_str)
            continue
        if not os.path.isdir(root_str):
            if looks_like_photo(root_str):
                result.files[root_str] = st
            else:
                result.skipped.append((root_str, NOT_AN_IMAGE))
            continue
        stack = [(root_str, root_str)]
        visited.add((st.st_dev, st.st_ino))
        while stack:
            folder, base = stack.pop()
            _walk_folder(folder, base, stack, visited, real_roots, exclude, follow_symlinks, result)
    return result


def _walk_folder(
    folder: str,
    base: str,
    stack: list[tuple[str, str]],
    visited: set[tuple[int, int]],
    real_roots: Sequence[str],
    exclude: Sequence[str],
    follow_symlinks: bool,
    result: WalkResult,
) -> None:
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    except OSError as exc:
        result.errors.append((folder, "walk", f"cannot list folder: {exc.strerror or exc}"))
        result.incomplete.append(folder)
        return
    for entry in sorted(entries, key=lambda e: e.name):
        relative = os.path.relpath(entry.path, base)
        if is_temporary(entry.name) or is_excluded(relative, exclude):
            continue
        try:
            is_link = entry.is_symlink()
            if is_link:
                if not follow_symlinks:
                    result.skipped.append((entry.path, "symlink (follow_symlinks is off)"))
                    continue
                real = os.path.realpath(entry.path)
                if not os.path.exists(real):
                    result.skipped.append((entry.path, "broken symlink"))
                    continue
                if not _inside(real, real_roots):
                    result.skipped.append((entry.path, "symlink points outside the scanned folders"))
                    continue
            st = entry.stat(follow_symlinks=True)
        except FileNotFoundError:
            continue
        except OSError as exc:
            result.errors.append((entry.path, "walk", f"cannot read: {exc.strerror or exc}"))
            continue
        if entry.is_dir(follow_symlinks=True):
            key = (st.st_dev, st.st_ino)
            if key in visited:
                if is_link:
                    result.errors.append(
                        (entry.path, "walk", "symlink loop: this folder is already being scanned")
                    )
                continue
            visited.add(key)
            stack.append((entry.path, base))
        elif entry.is_file(follow_symlinks=True):
            _consider_file(entry.path, entry.name, st, exclude, result)


def _consider_file(
    path: str, name: str, st: os.stat_result, exclude: Sequence[str], result: WalkResult
) -> None:
    if looks_like_photo(path):
        result.files[path] = st
