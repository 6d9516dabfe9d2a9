"""What a new worker does before and during its first photo (bench: daemon.pool_restart_s).

A worker builds its detectors before it takes any job, so what they import or load then delays
every photo that waits for a restarted pool: the brand lexicon, wordfreq's word lists and the
personal-data patterns wait for the first photo with text (or a product code, or a logo),
rapidocr's table of downloadable models is parsed once, not twice, and the worker looks up the
analyses the index holds without SQLAlchemy. Each check runs in a new interpreter, as a worker
is one; the detectors and the lookup still answer what they answered before.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

from shadowlens.daemon.index import db
from shadowlens.daemon.index.reads import signatures
from shadowlens.daemon.index.reads.queries import Reader, signature_source

from tests.conftest import Env, small_jpeg

TEXT_LIBRARIES = ("wordfreq", "rapidfuzz", "phonenumbers", "shadowlens.daemon.detectors.text.pii")

BUILD_AND_ANALYSE = r"""
import json, sys
from pathlib import Path
from shadowlens.daemon.analysis.detector import DetectorSettings, PhotoContext
from shadowlens.daemon.analysis.decode import open_photo
from shadowlens.daemon.analysis.findings import TextFinding
from shadowlens.daemon.analysis.pool import build_pipeline
from shadowlens.daemon.config import parse_config
from shadowlens.daemon.detectors.text.brands import BrandsDetector
from shadowlens.daemon.detectors.text.lexicon import default_lexicon
from shadowlens.daemon.detectors.text.personal import PersonalDataDetector

watched = json.loads(sys.argv[2])

def state():
    loaded = default_lexicon.cache_info().currsize == 1
    return {"modules": sorted(m for m in watched if m in sys.modules), "lexicon": loaded}

report = {}
build_pipeline(parse_config({}, "defaults"), None)  # every detector, as a worker builds them
report["built"] = state()
# A photo without text through the detectors that read text, codes or logos (the heavy ones off).
off = ("faces", "text", "codes", "nudity", "objects", "labels", "place")
pipeline = build_pipeline(parse_config({"detectors": {n: {"enabled": False} for n in off}}, "t"), None)
[result] = pipeline.analyse([sys.argv[1]])
report["runs"] = {r.detector: (len(r.findings), r.error) for r in result.runs}
report["analysed"] = state()
# The first photo with text loads what reading it needs, and finds what it always found.
photo = PhotoContext(path=Path(sys.argv[1]), decoded=open_photo(Path(sys.argv[1]), want_side=256, max_megapixels=50))
photo.findings.append(TextFinding(label="Coca-Cola", confidence=0.95, bbox=(0.0, 0.0, 40.0, 10.0)))
photo.findings.append(TextFinding(label="mail jane.doe@example.com", confidence=0.95, bbox=(0.0, 12.0, 40.0, 10.0)))
report["brands"] = [f.label for f in BrandsDetector(DetectorSettings()).detect(photo)]
personal = PersonalDataDetector(DetectorSettings(), system_region=lambda: None)
report["pii"] = [f.label for f in personal.detect(photo)]
report["read"] = state()
print(json.dumps(report))
"""


def run_python(script: str, *args: str) -> Any:
    proc = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_worker_loads_the_text_libraries_with_its_first_photo_that_has_text(tmp_path: Path) -> None:
    photo = small_jpeg(tmp_path / "red.jpg")
    report = run_python(BUILD_AND_ANALYSE, str(photo), json.dumps(TEXT_LIBRARIES))
    assert report["built"] == {"modules": [], "lexicon": False}
    assert report["runs"].keys() == {"metadata", "brands", "logos", "pii", "scene"}
    assert all(error is None for _, error in report["runs"].values())
    assert report["analysed"] == {"modules": [], "lexicon": False}
    assert report["brands"] == ["Coca-Cola"]
    assert report["pii"] == ["email"]
    assert report["read"] == {"modules": sorted(TEXT_LIBRARIES), "lexicon": True}


KNOWN_SOURCE = r"""
import json, pickle, sys
lookup = pickle.loads(bytes.fromhex(sys.argv[1]))()  # as a worker gets it from the daemon
print(json.dumps({"answers": [lookup(sha) for sha in json.loads(sys.argv[2])], "sqlalchemy": "sqlalchemy" in sys.modules}))
"""


def test_a_worker_looks_up_stored_analyses_as_the_reader_does_without_sqlalchemy(
    env: Env, tmp_path: Path
) -> None:
    env.write_config("".join(f"[detectors.{n}]\nenabled = false\n" for n in ("faces", "text", "objects")))
    for name, colour in (("a", (200, 30, 30)), ("b", (30, 200, 30))):
        small_jpeg(tmp_path / "library" / f"{name}.jpg", color=colour)
    env.run("scan", str(tmp_path / "library"))
    reader = Reader.open(env.index)
    stored = [photo["sha256"] for photo in reader.photos()]
    asked = [*stored, "0" * 64]
    expected = [reader.signature_for(sha) for sha in asked]
    assert len(stored) == 2 and all(expected[:2]) and expected[2] is None

    known = pickle.dumps(signature_source(env.index))
    report = run_python(KNOWN_SOURCE, known.hex(), json.dumps(asked))
    assert report == {"answers": expected, "sqlalchemy": False}
    assert signatures.BUSY_TIMEOUT_MS == db.BUSY_TIMEOUT_MS
