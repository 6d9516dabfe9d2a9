"""What the TUI's status screen reads: the daemon's state, the errors, and the models in use.

The models in use are not configured anywhere the TUI may look (that would mean loading the
detectors): they are the version strings the daemon stored with its latest detector runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shadowlens.daemon.index.reads.queries import Reader
from shadowlens.daemon.index.state import daemon_status
from sqlalchemy import Engine, text

ERRORS_SHOWN = 50
# The runs of the newest analysed photo: a primary-key lookup, where a GROUP BY over all of
# detector_runs would scan a row per photo and detector on every reload (once a second while
# the daemon works). Each version reads "<version>+<model>+<model>...", "off" for no model.
LATEST_RUNS = text(
    "SELECT detector, version FROM detector_runs WHERE photo_id = (SELECT MAX(photo_id) FROM detector_runs)"
)


def detector_versions(engine: Engine) -> dict[str, str]:
    """Detector name -> the version (with its models) of its latest run."""
    with engine.connect() as connection:
        return {str(detector): str(version) for detector, version in connection.execute(LATEST_RUNS)}


def status_report(reader: Reader, state_dir: Path, index_path: Path) -> dict[str, Any]:
    """``daemon_status`` (running?, queue, counts) plus the first errors, each with its reason."""
    info = daemon_status(state_dir, index_path)
    info["scan_errors"] = reader.scan_errors()[:ERRORS_SHOWN]
    info["error_photos"] = [
        {"path": p["path"], "error": p["error"]} for p in reader.photos("error")[:ERRORS_SHOWN]
    ]
    info["detector_versions"] = detector_versions(reader.engine)
    return info
