"""One clock: nothing reads the wall clock but ``daemon/clock.py``, and pinning it
(``SHADOWLENS_NOW``) reaches every process: the CLI, the scan's workers, the TUI.

``make test`` also runs this file, the TUI snapshots and the profile tests under
``faketime +400d``: a pinned clock must make the date of the run irrelevant.
"""

from __future__ import annotations

import ast
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from shadowlens.daemon import clock
from shadowlens.tui.screens.alerts import ago

from tests.conftest import REPO, Env, small_jpeg

WALL_CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time")}


def wall_clock_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if (name, node.func.attr) in WALL_CLOCK_CALLS:
                found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_only_the_clock_module_reads_the_wall_clock() -> None:
    sources = [p for folder in ("daemon", "tui", "models") for p in (REPO / folder).rglob("*.py")]
    offenders = [hit for path in sources if path.name != "clock.py" for hit in wall_clock_reads(path)]
    assert offenders == [], "use shadowlens.daemon.clock instead: " + ", ".join(offenders)


def test_the_pin_is_utc_and_stands_still(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.ENV_VAR, "2025-05-04T14:00:30+02:00")
    assert clock.now() == datetime(2025, 5, 4, 12, 0, 30, tzinfo=UTC) == clock.now()
    assert clock.utc_naive() == datetime(2025, 5, 4, 12, 0, 30)
    monkeypatch.setenv(clock.ENV_VAR, "2025-05-04 12:00:30")  # no offset: UTC
    assert clock.now() == datetime(2025, 5, 4, 12, 0, 30, tzinfo=UTC)
    monkeypatch.setenv(clock.ENV_VAR, "next tuesday")
    with pytest.raises(clock.ClockError, match="SHADOWLENS_NOW='next tuesday' is not an ISO-8601 time"):
        clock.now()


def test_pinned_restores_what_was_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(clock.ENV_VAR, raising=False)
    with clock.pinned(datetime(2030, 1, 1, 0, 0)) as at:
        assert clock.now() == at == datetime(2030, 1, 1, tzinfo=UTC)
        assert os.environ[clock.ENV_VAR] == "2030-01-01T00:00:00+00:00"
    assert clock.ENV_VAR not in os.environ


def test_n_ago_counts_from_the_pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.ENV_VAR, "2025-05-04T12:00:30Z")
    assert ago("2025-05-04T09:00:00") == "3 h ago"
    assert ago("2025-05-04T12:00:25") == "just now"
    assert ago("2025-04-30T12:00:00") == "4 d ago"
    pinned = datetime(2025, 5, 4, 12, 0, 30, tzinfo=UTC)
    assert ago("2025-05-04T11:58:00", now=pinned + timedelta(days=400)) == "2025-05-04"


def test_a_bad_pin_is_one_line(env: Env) -> None:
    proc = env.run("photos", check=False, extra_env={clock.ENV_VAR: "soon"})
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "shadowlens: SHADOWLENS_NOW='soon' is not an ISO-8601 time (e.g. 2025-05-04T12:00:30Z)"
    ]


def test_the_pin_reaches_the_scan_workers(tmp_path: Path) -> None:
    """A photo dated mid-2026 is "in the future" to a clock pinned in 2025, not to one in 2027:
    the metadata detector runs in a worker process, which must see the same clock."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "2026:06:01 12:00:00"
    photo = small_jpeg(tmp_path / "library" / "dated.jpg", exif=exif.tobytes())
    notes = {}
    for year in (2025, 2027):
        env = Env(tmp_path / str(year), now=f"{year}-01-01T00:00:00Z")
        env.write_config("".join(f"[detectors.{n}]\nenabled = false\n" for n in ("faces", "text", "codes")))
        env.run("scan", "--workers", "2", str(photo.parent))
        (item,) = env.json("photos")
        (taken,) = [f for f in item["findings"] if f["kind"] == "time"]
        notes[year] = taken["attrs"].get("note")
    assert notes[2025] is not None and "future" in notes[2025]
    assert notes[2027] is None
