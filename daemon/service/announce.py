"""What `shadowlens watch` always tells its user, with or without -v.

What it watches, with which detectors and models, how the catch-up is going, and that it
stopped. These go to the ``shadowlens.watch`` logger at info level: under systemd, stderr is
the journal, and the private log file gets them too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TextIO

from shadowlens.daemon.analysis.signature import Versioned
from shadowlens.daemon.analysis.states import DetectorState, describe

log = logging.getLogger("shadowlens.watch")


def say(message: str) -> None:
    log.info(message)


class _OwnHandler(logging.StreamHandler[TextIO]):
    """Marks the handler added below, so that a second `watch` in one process adds no twin."""


def show_without_verbose(stream: TextIO) -> None:
    """Without -v the console handler shows warnings only; these lines get a handler of their own.

    With -v the console already shows info lines, so nothing is added (no line twice).
    """
    for handler in [h for h in log.handlers if isinstance(h, _OwnHandler)]:
        log.removeHandler(handler)
    handler = _OwnHandler(stream)
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("shadowlens: %(message)s"))
    log.addHandler(handler)


def detector_states(detectors: Iterable[Versioned]) -> list[DetectorState]:
    """Each enabled detector's state in the words ``doctor`` and the TUI use (from its version:
    a built detector, or a worker's description of one)."""
    return [describe(detector.name, detector.version) for detector in detectors]


def start_lines(watch_modes: Mapping[str, str], workers: int, states: Sequence[DetectorState]) -> list[str]:
    folders = ", ".join(f"{folder} ({mode})" for folder, mode in watch_modes.items())
    ordered = sorted(states, key=lambda s: s.name)
    lines = [
        f"watching {folders} with {workers} worker process{'es' if workers != 1 else ''}",
        "detectors: " + (", ".join(s.name for s in ordered) or "none enabled"),
    ]
    with_models = [
        f"{s.name} {s.models_text(origin=False)}" for s in ordered if s.models and not s.finds_nothing
    ]
    if with_models:
        lines.append("models: " + "; ".join(with_models) + " (details: shadowlens doctor)")
    lines += [f"{s.name}: {s.summary}" for s in ordered if s.finds_nothing]
    return lines
