"""File names whose bytes are not UTF-8: how they are stored, shown and printed as JSON.

A POSIX file name is bytes. Old cameras, SMB shares and unzipped archives write Latin-1 or
CP-1252 names (``F\\xeate.jpg``), which Python hands over as ``str`` with each undecodable byte
as a lone surrogate U+DC80-U+DCFF (PEP 383, ``surrogateescape``). Such a string opens the right
file, but SQLite, terminals, D-Bus and JSON parsers refuse lone surrogates, so every way out of
the process goes through this module:

- **The index** stores ``index_text(path)``: each escaped byte 0xNN becomes U+EFNN, a
  private-use character (the MirBSD OPTU-8 convention), and a real U+EF7F-U+EFFF in a name
  (private-use, so practically never) is kept behind the marker U+EF7F. The mapping is one
  character at a time, so it is exact both ways and keeps prefixes: a folder's files are still
  the rows that start with the folder's stored text. UTF-8 names are stored unchanged.
- **People** see ``shown(path)``: each undecodable byte as ``\\xNN``, as ``ls -b`` and Python's
  ``repr`` write it. Lossless to read, not meant to be pasted back.
- **JSON** carries the exact name: each undecodable byte as the escape ``\\udcNN`` (PEP 383).
  ``os.fsencode(json.loads(text)["path"])`` gives the original bytes back; see the README.
"""

from __future__ import annotations

import json
import re
from typing import Any

_MARK = "\uef7f"
_STORED_BASE = 0xEF00 - 0xDC00  # U+DCNN (an escaped byte) <-> U+EFNN (its stored form)
_NEEDS_STORING = re.compile("[\udc80-\udcff\uef7f-\uefff]")
_NEEDS_LOADING = re.compile("[\uef7f-\uefff]")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_OTHER_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def _store_char(match: re.Match[str]) -> str:
    char = match.group()
    return chr(ord(char) + _STORED_BASE) if char < "\ue000" else _MARK + char


def index_text(path: str) -> str:
    """The text the index stores for ``path`` (unchanged unless it holds an escaped byte)."""
    if _OTHER_SURROGATE.search(path):
        raise ValueError(f"not a file name: {shown(path)!r} holds a surrogate that is no escaped byte")
    return _NEEDS_STORING.sub(_store_char, path)


def from_index_text(text: str) -> str:
    """The file name back from its stored text; ``from_index_text(index_text(p)) == p``."""
    if not _NEEDS_LOADING.search(text):
        return text
    out, chars = [], iter(text)
    for char in chars:
        if char == _MARK:
            out.append(next(chars, ""))
        elif "\uef80" <= char <= "\uefff":
            out.append(chr(ord(char) - _STORED_BASE))
        else:
            out.append(char)
    return "".join(out)


def shown(text: str) -> str:
    """``text`` safe to print: each undecodable byte written as ``\\xNN``."""
    if not _ESCAPED_BYTE.search(text):
        return text
    return _ESCAPED_BYTE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def json_text(value: Any, indent: int | None = None) -> str:
    """``json.dumps`` that keeps readable UTF-8 but writes escaped bytes as ``\\udcNN``, so the
    output can always be printed and the exact names can be read back."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return _ESCAPED_BYTE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
