"""Capitalised words of an OCR line, grouped into the runs a name or a place can be.

"Dear Jan de Vries, thank you" has the run "Jan de Vries": capitalised words, initials ("J.") and
the lower-case particles of names and places ("de", "van", "von", "am", "sur") between them. A run
ends at punctuation, a digit or an ordinary lower-case word, so a name never reaches across a
comma into the next field, and "Paris Hilton Hotel" stays one run of three words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shadowlens.daemon.detectors.text.pii_gazetteers import fold


def word_set(text: str) -> frozenset[str]:
    """The space-separated words of ``text``: word lists stay one readable line each."""
    return frozenset(text.split())


PARTICLES = word_set(
    "de del della der den di da das do dos du la le van von ten ter zu am an im bin ibn al el y e upon on sur sous"
)
# Where a form's field label may start: the line's start, after a separator, or after a column gap
# ("Cognome: Esposito  Nome: Giulia"). Not after a word: "Product name:", "IP address:", "Due date:"
# label things, not people.
FIELD_START = r"(?:^\s*|(?<=[|,;/•])\s*|(?<=\s\s))"
_TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*\.?|\d+|[^\s\w]")


@dataclass(frozen=True)
class Word:
    text: str  # as written, without a trailing full stop
    start: int
    end: int  # end of the text (a trailing full stop is not part of the word)
    dotted: bool  # followed by a full stop: an initial, an abbreviation or a sentence's end

    @property
    def key(self) -> str:
        return fold(self.text)

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()

    @property
    def initial(self) -> bool:
        return len(self.text) == 1 and self.text.isupper()

    @property
    def particle(self) -> bool:
        return self.text in PARTICLES


@dataclass(frozen=True)
class Run:
    """Consecutive words of one line; ``start``/``end`` are columns of that line."""

    words: tuple[Word, ...]

    @property
    def start(self) -> int:
        return self.words[0].start

    @property
    def end(self) -> int:
        return self.words[-1].end

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def named(self) -> tuple[Word, ...]:
        """The capitalised words, without particles and initials."""
        return tuple(w for w in self.words if w.capitalised and not w.initial)


def words(line: str) -> list[Word | str]:
    """The line's words, with every other token (punctuation, digits) as a plain string."""
    found: list[Word | str] = []
    for token in _TOKEN.finditer(line):
        text = token.group()
        if text[0].isalpha():
            dotted = text.endswith(".")
            bare = text.rstrip(".")
            found.append(Word(bare, token.start(), token.start() + len(bare), dotted))
        else:
            found.append(text)
    return found


def runs(line: str) -> list[Run]:
    """The maximal runs of capitalised words (with initials and inner particles) of a line."""
    result: list[Run] = []
    current: list[Word] = []

    def close() -> None:
        while current and current[-1].particle:  # a particle ends no name: "Smith and" -> "Smith"
            current.pop()
        if current:
            result.append(Run(tuple(current)))
        current.clear()

    for token in words(line):
        if isinstance(token, Word) and (token.capitalised or (token.particle and current)):
            current.append(token)
            if token.dotted and not token.initial and len(token.text) > 3:
                close()  # a full stop after a word ends the sentence: "... Smith. Then"
        else:
            close()
    close()
    return result
