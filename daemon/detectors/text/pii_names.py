"""People's names in OCR lines: after a label, or reading as a first name and a surname.

A wrong name costs more than a missed one: the safe copy blackens it and the photo's score rises,
on a menu's "Earl Grey" as on a letter's "Jane Doe". So:

- after a label ("Name:", "Patient:", "Dear", "Mr", "Herr", "Mme", "Sra.", "Kind regards,", and a
  label line above a value line on forms) the words must only look like a name: each a known first
  name or surname, or too rare to be an ordinary word;
- without a label, a run of two to four capitalised words counts only as a known first name, then
  optionally middle names or initials, then a known surname or a rare word ("Mehmet Yılmaz"),
  nothing capitalised on either side, no word that makes it a place, a shop or a company ("Grace
  Church", "Paris Hilton Hotel", "Victoria Park"), no brand ("Calvin Klein") and no price on the
  line (a menu's "Shirley Temple 4.50");
- a first name that is mostly an ordinary word ("Will", "May", "Hope", "Summer") counts only after
  a label, and a surname that is a common English word ("Grey", "Gold", "Green") only when the text
  holds other personal data too (a letter, a form), not on a tea box or a colour label;
- "SMITH, John" counts when the whole line is that, and it is no place with its region or
  country ("Paris, France", "Sale, Victoria").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from shadowlens.daemon.detectors.text.lexicon import default_lexicon, normalise, word_zipf
from shadowlens.daemon.detectors.text.pii_gazetteers import (
    english_zipf,
    first_names,
    fold,
    places,
    surname_rank,
)
from shadowlens.daemon.detectors.text.pii_patterns import STREET_TYPES, Hit
from shadowlens.daemon.detectors.text.pii_words import FIELD_START, PARTICLES, Run, Word, runs, word_set

_FIELD = (
    r"(?:full\s+|first\s+|given\s+|last\s+|family\s+|middle\s+|maiden\s+|account\s+|birth\s+)?names?|forenames?"
    r"|surnames?|patient(?:'s)?(?:\s+name)?|pt\.?\s+name|card\s*holder|account\s+holder|policy\s*holder"
    r"|passenger(?:\s+name)?|insured|employee(?:\s+name)?|student(?:\s+name)?|member(?:\s+name)?|recipient"
    r"|addressee|attn\.?|attention|c/o|signed|vorname|nachname|familienname|geburtsname|patient(?:in)?"
    r"|versicherte[rn]?|karteninhaber(?:in)?|kontoinhaber(?:in)?|empfänger(?:in)?|nom(?:\s+de\s+famille)?"
    r"|nom\s+d'usage|pr[ée]noms?|titulaire|assur[ée]e?|destinataire|nombres?|apellidos?|titular|paciente"
    r"|asegurad[oa]|nome|cognome|intestatario|paziente|assicurat[oa]|naam|voornamen|voornaam|achternaam"
    r"|geslachtsnaam|pati[ëe]nt"
)
# A form's label: at a line's start or after another field, followed by ":" (or alone on its line,
# the value on the next line). "name" inside a sentence is no label.
_FIELD_LABEL = re.compile(rf"(?i){FIELD_START}(?:{_FIELD})(?:\s*/\s*(?:{_FIELD}))*\s*(?::|-|$)")
_GREETING = re.compile(
    r"(?i)(?:^|(?<=\s))(?:dear|hi|hello|hey|sehr\s+geehrte[rs]?|liebe[rs]?|hallo|cher|ch[èe]re|bonjour"
    r"|querid[oa]|estimad[oa]|hola|car[oa]|gentile|ciao|beste|lieve)\s+(?=\S)"
)
# Titles before a name; the abbreviated ones only with their full stop ("M. Dupont", not a size "M").
_HONORIFIC = re.compile(
    r"(?:^|(?<=[\s(,:]))(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Mme|Mlle|MR|MRS|MS|DR|HERR|FRAU|MME)\.?"
    r"|(?:M|Hr|Fr|Sr|Sra|Srta|Sig|Sig\.ra|Dott|Dott\.ssa|Dhr|Mevr)\.)\s+(?=[A-ZÀ-Ý])"
)
_SIGN_OFF = re.compile(
    r"(?i)(?:^|(?<=\s))(?:(?:kind|best|warm|warmest)\s+regards|regards|sincerely|yours\s+(?:sincerely|faithfully|truly)"
    r"|best\s+wishes|mit\s+freundlichen\s+gr(?:ü|ue)(?:ß|ss)en|(?:viele|beste|liebe)\s+gr(?:ü|ue)(?:ß|ss)e"
    r"|cordialement|bien\s+à\s+vous|atentamente|saludos|cordiali\s+saluti|distinti\s+saluti"
    r"|met\s+vriendelijke\s+groet(?:en)?)\s*,?\s*"
)


def _folded(*texts: str) -> frozenset[str]:
    return frozenset(fold(word) for text in texts for word in text.split())


# Words that make a capitalised pair a place, a building, a shop or a company, not a person:
# "Grace Church", "Victoria Park", "Albert Hall", "Jackson Hotel", "Morgan Stanley & Co".
_NOT_A_PERSON = _folded(
    " ".join(STREET_TYPES),
    "Straße Strasse Str Weg Platz Allee Gasse Rue Via Calle Avenida Piazza Plaza Corso Viale",
    "Hotel Motel Inn Hostel Restaurant Ristorante Café Cafe Bar Pub Bistro Pizzeria Bakery Deli",
    "Bank Park Garden Gardens Church Chapel Cathedral Temple Mosque Abbey School College University",
    "Academy Institute Hospital Clinic Pharmacy Center Centre Museum Gallery Theatre Theater",
    "Cinema Station Airport Terminal Market Mall Shop Store Stores Club Stadium Arena Hall House",
    "Tower Bridge Castle Palace Beach Bay Lake River Island Hill Hills Valley Forest Mount Port",
    "Fort Saint St San Santa Sankt Inc Ltd LLC GmbH AG Co Corp Company Group Foundation Trust",
    "Association Society Partners Sons Brothers Bros Tea Coffee Wine Beer Ale Gin Whisky Sauce",
)
_PRICE = re.compile(r"\d[.,]\d{2}\b|[$€£¥]|\b(?:EUR|USD|GBP|CHF)\b")
_FIELD_AFTER = re.compile(r"\s*[:/]")
# Titles that may open a labelled name ("Dear Prof. Dr. Anna Becker"); they are not part of it.
_TITLES = word_set(
    "Mr Mrs Ms Miss Mx Dr Prof Herr Frau Hr Fr M Mme Mlle Sr Sra Srta Sig Dott Dhr Mevr MR MRS MS DR PROF HERR FRAU MME"
)


def _zipf(word: Word) -> float:
    """How common a word is as written and as folded ("Grüße" is common, "grusse" is not)."""
    return max(word_zipf(word.text.casefold()), word_zipf(word.key))


def _ordinary_first(word: Word) -> bool:
    """A first name that is mostly an ordinary word: more common in running text than its use
    as a name explains ("will" 6.5 against a rare name; "mark" 5.0 against a very common one)."""
    return _zipf(word) > 3.9 + 0.15 * first_names().get(word.key, 0)


def _rare(word: Word) -> bool:
    """Too rare to be an ordinary word of the covered languages: a proper name ("yilmaz")."""
    return len(word.key) >= 3 and _zipf(word) < 3.0


def _surname(word: Word) -> bool:
    """A known surname or a rare word. The census also lists common words as surnames ("Sale",
    "Guest", "Welcome"): those count only among the 5,000 most frequent surnames ("Brown")."""
    rank = surname_rank(word.key)
    if rank is not None and rank <= 50_000 and (rank <= 5_000 or _zipf(word) < 4.0):
        return True
    return _rare(word)


def _common_word_surname(word: Word) -> bool:
    """A surname that is also a common English word: "Grey", "Gold", "Green" beside "Earl", "Rose",
    "Olive" make teas and colours as often as people. English only: "Müller" and "Rossi" are
    frequent in German and Italian text because so many people bear them."""
    english = max(english_zipf(word.text.casefold()), english_zipf(word.key))
    if english >= 5.0:
        return first_names().get(word.key, 0) < 5  # "Thomas", "James" are names either way
    return english >= 4.3 and (surname_rank(word.key) or 10**6) > 1_000


def _name_like(word: Word) -> bool:
    """A word that may be part of a labelled name: a first name, a surname, or rare."""
    if word.key in _NOT_A_PERSON:
        return False
    known_first = word.key in first_names() and not _ordinary_first(word)
    return word.initial or known_first or _surname(word)


def _brand(text: str) -> bool:
    """A brand's spelling (brands.toml), which names a product, not its namesake."""
    return normalise(text) in default_lexicon().spellings


def _hit(
    run: Sequence[Word], line: int, confidence: float, form: str, label: str | None = None, family: int = 0
) -> Hit:
    """``family``: the first words are this many words of a surname written first ("SMITH, John")."""
    details: dict[str, object] = {"form": form}
    if label:
        details["label"] = " ".join(label.split()).rstrip(":-, ")
    written = [w.text + ("." if w.initial and w.dotted else "") for w in run]
    if family:
        written[family - 1] += ","
    return Hit("name", " ".join(written), line, run[0].start, run[-1].end, confidence, details)


def _labelled_value(text: str, offset: int) -> tuple[list[Word], int] | None:
    """The name that starts ``text`` (a line after its label), or None if what follows the label
    is not a name. It ends where the next field starts ("John Smith DOB: ..." or "John Smith MRN").
    With it, how many of its first words are a surname written first ("Smith, John")."""
    reversed_name = _last_first(_before_next_field(text))
    if reversed_name:
        words, family = reversed_name
        return [Word(w.text, w.start + offset, w.end + offset, w.dotted) for w in words], family
    found = runs(text)
    if not found or text[: found[0].start].strip(" :-,\t"):
        return None
    words = list(found[0].words)
    while words and words[0].text in _TITLES:
        words = words[1:]  # "Prof. Dr. Anna Becker": the titles are not the name
    kept: list[Word] = []
    for word in words:
        if kept and "  " in text[kept[-1].end : word.start]:
            break  # a column gap: "John Smith    Room 12"
        if kept and _FIELD_AFTER.match(text, word.end):
            break  # the next field's label: "John Smith DOB: ..."
        if kept and word.text.isupper() and len(word.text) > 1 and not all(w.text.isupper() for w in kept):
            break  # an abbreviation starts the next field: "John Smith MRN 0042"
        if not (word.particle or _name_like(word)):
            return None  # "Acme Support", "Friends": not a name
        kept.append(word)
    while kept and kept[-1].particle:
        kept.pop()
    if not any(w.capitalised and not w.initial for w in kept) or len(kept) > 5:
        return None
    return [Word(w.text, w.start + offset, w.end + offset, w.dotted) for w in kept], 0


def _before_next_field(text: str) -> str:
    """``text`` up to the next field of a one-line form: a column gap, or a word followed by ":"
    ("DOE, JANE DOB: 04/11/1962" gives "DOE, JANE")."""
    end = text.find("  ")
    end = len(text) if end < 0 else end
    label = re.search(r"(?<=\s)\S+(?=\s*:)", text)
    return text[: min(end, label.start()) if label else end]


def _labelled(lines: Sequence[str]) -> Iterator[Hit]:
    for index, line in enumerate(lines):
        for pattern, form, confidence in (
            (_FIELD_LABEL, "labelled", 0.9),
            (_GREETING, "salutation", 0.85),
            (_HONORIFIC, "honorific", 0.85),
            (_SIGN_OFF, "sign_off", 0.85),
        ):
            for label in pattern.finditer(line):
                before = line[: label.start()].split()
                if form == "honorific" and before and before[-1][:1].isupper() and not _GREETING.search(line):
                    continue  # "Elm Dr. Springfield": after a capitalised word, "Dr" is a Drive
                rest = line[label.end() :]
                value = _labelled_value(rest, label.end())
                if value and _brand(line[label.start() : value[0][-1].end]):
                    continue  # "Dr Pepper", "Hello Kitty", "Dr. Martens"
                if value:
                    yield _hit(value[0], index, confidence, form, label.group(), value[1])
                elif form in {"labelled", "sign_off"} and not (line[: label.start()] + rest).strip():
                    if index + 1 == len(lines):
                        continue
                    below = _labelled_value(lines[index + 1], 0)
                    if below:
                        yield _hit(below[0], index + 1, confidence - 0.05, form, label.group(), below[1])


def _unlabelled_run(run: Run, context: bool) -> float | None:
    """The confidence that a run without a label is a first name (+ middles) + surname, or None."""
    words = [w for w in run.words if not w.particle]
    if not 2 <= len(words) <= 4 or words[0].initial or words[-1].initial:
        return None
    first, last = words[0], words[-1]
    if any(w.key in _NOT_A_PERSON for w in words) or first_names().get(first.key, 0) < 3:
        return None
    # After a particle ("Jan de Vries", "Ludwig van Beethoven") the word is a surname unless common.
    particled = len(run.words) > 2 and run.words[-2].particle and _zipf(last) < 4.5
    if _ordinary_first(first) or not (_surname(last) or particled):
        return None
    if not all(w.initial or w.key in first_names() for w in words[1:-1]):
        return None
    if _brand(run.text) or fold(run.text) in places():
        return None
    if _common_word_surname(last):
        return 0.6 if context else None
    return 0.7


def _last_first(line: str) -> tuple[list[Word], int] | None:
    """ "SMITH, John" or "Smith, John A." as the whole line: its words, and how many are the surname."""
    match = re.fullmatch(r"\s*([^\W\d_][^\s,]*(?:\s+[^\W\d_][^\s,]*){0,2})\s*,\s*(.+?)\s*", line)
    if not match:
        return None
    family, given = runs(match.group(1)), runs(match.group(2))
    if len(family) != 1 or len(given) != 1:
        return None
    given_end = len(match.group(2).rstrip("."))  # "John A." ends with its initial's full stop
    if family[0].end < len(match.group(1)) or given[0].start != 0 or given[0].end < given_end:
        return None  # "Kind regards, The Team": a word that no run covers
    surname = [w for w in family[0].words if w.text.lower() not in PARTICLES]
    first = given[0].named
    if not surname or not first or len(first) > 3:
        return None
    given_place = places().get(first[0].key)  # "Smith, Elizabeth" is a name, "Sale, Victoria" a town
    if given_place and (given_place.kind != "city" or fold(family[0].text) in places()):
        return None
    if first[0].key not in first_names() or _ordinary_first(first[0]):
        return None
    if any(w.key in _NOT_A_PERSON or not _surname(w) for w in surname):
        return None
    offset = match.start(2)
    given_words = [Word(w.text, w.start + offset, w.end + offset, w.dotted) for w in given[0].words]
    return [*family[0].words, *given_words], len(family[0].words)


def find_names(lines: Sequence[str], context: bool) -> list[Hit]:
    """Names in ``lines``; ``context``: the text holds other personal data (a form, a letter)."""
    hits = list(_labelled(lines))
    for index, line in enumerate(lines):
        reversed_name = _last_first(line)
        if reversed_name:
            hits.append(_hit(reversed_name[0], index, 0.8, "last_first", family=reversed_name[1]))
            continue
        if _PRICE.search(line):
            continue
        for run in runs(line):
            confidence = _unlabelled_run(run, context)
            if confidence is not None:
                hits.append(_hit(run.words, index, confidence, "first_last"))
    return hits
