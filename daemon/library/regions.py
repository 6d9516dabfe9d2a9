"""The countries of the user's library, handed to the personal-data detector.

A phone number written the national way on a screenshot (no GPS) is read in the photo's place,
then the configured home country, then the locale, and last in the countries the user's other
photos were taken in (``[detectors.pii] regions``). Analysis workers cannot read the index, so
the scan and the daemon fill that setting from it when they start, unless the user set it.
"""

from __future__ import annotations

from pathlib import Path

from shadowlens.daemon.config import Config
from shadowlens.daemon.index.reads.queries import Reader

PII_DETECTOR = "pii"
REGIONS_KEY = "regions"
MAX_REGIONS = 5  # the first country that validates a number wins: a long tail would only guess


def with_library_regions(config: Config, index_path: Path | None, installed: set[str]) -> Config:
    """``config`` with the library's countries, most photos first, as the pii detector's regions;
    unchanged when the user set them, the detector is not installed, or no photo has a place."""
    section = dict(config.detectors.get(PII_DETECTOR, {}))
    if PII_DETECTOR not in installed or section.get(REGIONS_KEY) or index_path is None:
        return config
    if not index_path.exists():
        return config
    reader = Reader.open(index_path)
    try:
        countries = reader.countries()[:MAX_REGIONS]
    finally:
        reader.close()
    if not countries:
        return config
    detectors = {**config.detectors, PII_DETECTOR: {**section, REGIONS_KEY: countries}}
    return config.model_copy(update={"detectors": detectors})
