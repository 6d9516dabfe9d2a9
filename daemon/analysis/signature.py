"""Which detectors run, at which versions: the analysis signature, without detector code.

The daemon learns its detectors from its workers (their first job answers with each detector's
name and version) and must not import the models' libraries itself, so the signature is made
from anything with a name and a version: a built detector, or the worker's answer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class Versioned(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...


@dataclass(frozen=True)
class DetectorVersion:
    """A built detector as a worker describes it to the daemon: plain, picklable data."""

    name: str
    version: str


def analysis_signature(detectors: Iterable[Versioned]) -> str:
    """Changes whenever a detector is added, removed or upgraded, so photos get re-analysed."""
    return ",".join(f"{d.name}@{d.version}" for d in sorted(detectors, key=lambda d: d.name))
