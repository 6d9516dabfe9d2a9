"""Personal data and OCR on the rendered documents of issue #16 (``tests/rendered_documents.py``:
forms, letters, medical headers, national phone numbers and misread links at 12 to 40 px, and
ordinary text), the set ``tests/test_pii_rendered.py`` asserts on.

Each document is decoded as the pipeline decodes it for the text detector (at its ``long_side``)
outside the timing. NEW is the text detector as configured by default, OLD the same with
``small_print=False`` (the gate and the read pass only, as version 1 read); they share one set of
models, read every document once to warm up, then take turns, document by document, so a noisy
machine slows both alike. The personal-data detector then runs alone on NEW's lines.

Rows:

* ``pii.recall.<type>``: the share of the set's expected findings of that type that are found
  (on NEW's lines); the notes give the count, the count on OLD's lines and what was missed.
* ``pii.false_positives``: findings on the negatives (the check fails on any); the notes add the
  findings on the documents that no expected finding accounts for.
* ``pii.ms_per_photo``: the personal-data detector alone, median over the documents of each's
  median.
* ``ocr.rendered_doc_ms`` / ``ocr.rendered_doc_ms.small_print_off``: NEW and OLD, median over the
  documents of each's median; the notes split the large pages (3000 px and more, 12 px text) from
  the others.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from detector_timing import decoded_photo
from harness import Context, Measurement, median, row

# The set lives with the test that asserts on it, and imports neither pytest nor shadowlens, so
# the bench measures the very documents the test checks. run.py puts bench/ on sys.path, not the
# repository root that holds the tests package.
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.document_renderer import holds  # noqa: E402
from tests.rendered_documents import NEGATIVES, POSITIVES, Document, missed, write  # noqa: E402

DOCUMENTS = POSITIVES + NEGATIVES
REPEATS, QUICK_REPEATS = 3, 1
PII_REPEATS, QUICK_PII_REPEATS = 5, 1
LARGE_SIDE = 3000


@dataclass
class Run:
    """Per document: what was found on NEW's and OLD's lines, the lines read, and ms samples."""

    found: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    found_old: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    lines_old: dict[str, int] = field(default_factory=dict)
    ocr: dict[str, list[float]] = field(default_factory=dict)
    ocr_old: dict[str, list[float]] = field(default_factory=dict)
    pii: dict[str, list[float]] = field(default_factory=dict)


def _ms(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def _measure(ctx: Context) -> Run:
    from shadowlens.daemon.api import PhotoContext
    from shadowlens.daemon.detectors.text.ocr import OcrDetector, OcrSettings
    from shadowlens.daemon.detectors.text.personal import PersonalDataDetector, PiiFinding, PiiSettings

    corpus, folder = ctx.need_corpus(), ctx.tempdir("pii-rendered")
    old, new = OcrDetector(OcrSettings(small_print=False)), OcrDetector(OcrSettings())
    old.engine = new.engine  # one set of models: two would take turns in the CPU caches
    photos = {
        doc.name: decoded_photo(write(doc, corpus.root, folder), new.options.long_side) for doc in DOCUMENTS
    }
    run, contexts = Run(), dict[str, tuple[Any, Any]]()
    for doc in DOCUMENTS:
        photo = photos[doc.name]
        # No system locale: a national number's country is the page's home country or its label's.
        pii = PersonalDataDetector(
            PiiSettings(home_country=doc.page.home_country), system_region=lambda: None
        )
        for detector, found, lines in ((new, run.found, run.lines), (old, run.found_old, run.lines_old)):
            text = PhotoContext(path=photo.path, decoded=photo.decoded, findings=list(detector.detect(photo)))
            found[doc.name] = [(f.label, f.value) for f in pii.detect(text) if isinstance(f, PiiFinding)]
            lines[doc.name] = len(text.findings)
            if detector is new:
                contexts[doc.name] = (pii, text)
        run.ocr[doc.name], run.ocr_old[doc.name], run.pii[doc.name] = [], [], []
    for repeat in range(QUICK_REPEATS if ctx.quick else REPEATS):
        for doc in DOCUMENTS:
            # Who goes first alternates: the second often finds the CPU caches warmer.
            pair = [(new, run.ocr), (old, run.ocr_old)]
            for detector, samples in pair if repeat % 2 == 0 else pair[::-1]:
                samples[doc.name].append(_ms(partial(detector.detect, photos[doc.name])))
    for doc in DOCUMENTS:
        pii, text = contexts[doc.name]
        for _ in range(QUICK_PII_REPEATS if ctx.quick else PII_REPEATS):
            run.pii[doc.name].append(_ms(partial(pii.detect, text)))
    new.close()
    return run


def _run(ctx: Context) -> Run:
    return ctx.memo("pii.rendered", lambda: _measure(ctx))


def _found(found: dict[str, list[tuple[str, str]]], kind: str) -> tuple[int, int, list[str]]:
    """(found, expected, what was missed) for the expected findings of type ``kind``."""
    expected = [(doc, e) for doc in POSITIVES for e in doc.expected if e.type == kind]
    lost = [f"{doc.name}: {e}" for doc, e in expected if e in missed(doc, found[doc.name])]
    return len(expected) - len(lost), len(expected), lost


def _recall(kind: str) -> Callable[[Context], Measurement]:
    def measure(ctx: Context) -> Measurement:
        run = _run(ctx)
        hit, total, lost = _found(run.found, kind)
        hit_old = _found(run.found_old, kind)[0]
        notes = f"{hit}/{total} found; small print off {hit_old}/{total}"
        return Measurement(hit / total, notes + (f"; missed {', '.join(lost)}" if lost else ""))

    return measure


for _kind in sorted({e.type for doc in POSITIVES for e in doc.expected}):
    row(f"pii.recall.{_kind}", unit="fraction", needs_corpus=True)(_recall(_kind))


def _unexplained(doc: Document, found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Findings of ``doc`` that none of its expected findings accounts for."""
    return [(kind, value) for kind, value in found if not any(holds(e, kind, value) for e in doc.expected)]


@row("pii.false_positives", unit="findings", needs_corpus=True)
def false_positives(ctx: Context) -> Measurement:
    run = _run(ctx)
    on_negatives = {doc.name: run.found[doc.name] for doc in NEGATIVES if run.found[doc.name]}
    count = sum(len(found) for found in on_negatives.values())
    old = sum(len(run.found_old[doc.name]) for doc in NEGATIVES)
    unexplained = {doc.name: u for doc in POSITIVES if (u := _unexplained(doc, run.found[doc.name]))}
    notes = (
        f"on {len(NEGATIVES)} negatives {on_negatives or 'none'}; small print off {old}; on the "
        f"{len(POSITIVES)} documents with personal data, findings no expected one accounts for: "
        f"{unexplained or 'none'}"
    )
    problem = f"ordinary text gave personal data: {on_negatives}" if count else None
    return Measurement(count, notes, check_failed=problem)


def _split(samples: dict[str, list[float]]) -> tuple[float, str]:
    """The median over documents of each's median, and notes on the large pages and the others."""
    medians = {doc.name: median(samples[doc.name]) for doc in DOCUMENTS}
    large = [medians[d.name] for d in DOCUMENTS if max(d.page.size) >= LARGE_SIDE]
    rest = [medians[d.name] for d in DOCUMENTS if max(d.page.size) < LARGE_SIDE]
    slowest = max(medians, key=medians.__getitem__)
    runs = len(samples[DOCUMENTS[0].name])
    notes = (
        f"{len(DOCUMENTS)} documents x {runs} runs; {len(large)} pages >= {LARGE_SIDE} px (12 px text) "
        f"median {statistics.median(large):.0f} ms, {len(rest)} others {statistics.median(rest):.0f} ms; "
        f"slowest {slowest} {medians[slowest]:.0f} ms; total {sum(medians.values()):.0f} ms"
    )
    return statistics.median(medians.values()), notes


@row("pii.ms_per_photo", unit="ms", needs_corpus=True)
def pii_ms_per_photo(ctx: Context) -> Measurement:
    value, notes = _split(_run(ctx).pii)
    return Measurement(value, f"the personal-data detector alone on the text detector's lines; {notes}")


@row("ocr.rendered_doc_ms", unit="ms", needs_corpus=True)
def rendered_doc_ms(ctx: Context) -> Measurement:
    run = _run(ctx)
    value, notes = _split(run.ocr)
    ratio = sum(median(s) for s in run.ocr.values()) / sum(median(s) for s in run.ocr_old.values())
    lines, lines_old = sum(run.lines.values()), sum(run.lines_old.values())
    notes += f"; NEW/OLD of the total {ratio:.2f}; {lines} lines read, small print off {lines_old}"
    return Measurement(value, notes)


@row("ocr.rendered_doc_ms.small_print_off", unit="ms", needs_corpus=True)
def rendered_doc_ms_small_print_off(ctx: Context) -> Measurement:
    value, notes = _split(_run(ctx).ocr_old)
    return Measurement(value, f"OcrSettings(small_print=False), as version 1 read; {notes}")
