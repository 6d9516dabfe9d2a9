"""How findings count, through their detectors' hooks: one record per photo whether the findings
come from the index or from a fresh analysis, the defaults a detector inherits, and the built-in
detectors' declarations (facts, scrub boxes, words)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import pytest
from shadowlens.daemon.analysis.findings import (
    BrandFinding,
    CodeFinding,
    DeviceFinding,
    FaceFinding,
    Finding,
    GpsFinding,
    NudityFinding,
    PlaceFinding,
    TextFinding,
    TimeFinding,
)
from shadowlens.daemon.analysis.hooks import ExposureContext, FindingHooks, Hooks, ScrubBox, StoredFinding
from shadowlens.daemon.analysis.results import AnalysisResult, DetectorRun, FileStat
from shadowlens.daemon.config import ConfigError, ExposurePoints, parse_config
from shadowlens.daemon.detectors.text.personal import PiiFinding
from shadowlens.daemon.detectors.vision.objects import ObjectFinding
from shadowlens.daemon.detectors.vision.scene import SceneFinding
from shadowlens.daemon.index.reads import findings as read_findings
from shadowlens.daemon.index.reads.queries import Reader
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.profile.facts import installed_hooks
from shadowlens.daemon.profile.load import load_facts
from shadowlens.daemon.scrub.verify import boxes_of, facts_from, stored

PATH = "/photos/everything.jpg"


class Redness(FindingHooks):
    """A third-party detector that declares nothing: every hook is the default."""


@dataclass(frozen=True, kw_only=True)
class TattooFinding(Finding):
    kind: ClassVar[str] = "tattoo"
    ink: str


def _runs() -> list[DetectorRun]:
    face = {"expression": {"label": "happy", "probs": {"happy": 0.9}}, "smiling": True, "sex": "female"}
    return [
        DetectorRun(
            "metadata",
            "1",
            [
                GpsFinding(label="43.467448, 11.885127", lat=43.467448, lon=11.885127),
                TimeFinding(label="2024-05-01T12:00:00+02:00", source="DateTimeOriginal", offset="+0200"),
                DeviceFinding(label="NIKON COOLPIX P6000", make="NIKON", model="COOLPIX P6000"),
            ],
        ),
        DetectorRun(
            "place",
            "1",
            [
                PlaceFinding(
                    label="Arezzo, Tuscany, IT",
                    city="Arezzo",
                    admin="Tuscany",
                    country_code="IT",
                    lat=43.46,
                    lon=11.88,
                    distance_km=2.6,
                )
            ],
        ),
        DetectorRun(
            "faces",
            "1",
            [
                FaceFinding(
                    label="face",
                    bbox=(10.123, 20.0, 30.0, 40.0),
                    age=7.4,
                    embedding=bytes(8),  # two float32s: the face gets a row in the faces table
                    embedding_dim=2,
                    embedder="test-embedder",
                    **face,
                ),
                FaceFinding(label="face", bbox=(60.0, 20.0, 30.0, 40.0), age=35.0, smiling=False),
            ],
        ),
        DetectorRun("text", "1", [TextFinding(label="4242 4242 4242 4242", bbox=(5.0, 80.0, 90.0, 10.0))]),
        DetectorRun(
            "pii",
            "1",
            [
                PiiFinding(
                    label="card", bbox=(5.0, 80.0, 90.0, 10.0), value="4242424242424242", masked="**** 4242"
                )
            ],
        ),
        DetectorRun(
            "codes",
            "1",
            [
                CodeFinding(
                    label="QR_CODE", bbox=(0.0, 0.0, 9.0, 9.0), payload_type="wifi", payload="WIFI:***"
                ),
                CodeFinding(
                    label="EAN_13", bbox=(0.0, 50.0, 9.0, 9.0), payload_type="product", payload="4006381"
                ),
            ],
        ),
        DetectorRun(
            "brands",
            "1",
            [
                BrandFinding(
                    label="Heineken",
                    category="alcohol",
                    parent="Heineken N.V.",
                    via="text",
                    matched="x",
                    score=1,
                )
            ],
        ),
        DetectorRun("objects", "1", [ObjectFinding(label="wine glass", model="yolo")]),
        DetectorRun("scene", "1", [SceneFinding(label="id_card", evidence=["payment card number"])]),
        DetectorRun(
            "nudity",
            "1",
            [NudityFinding(label="BELLY_EXPOSED", bbox=(1, 1, 5, 5), exposed=True, body_part="belly")],
        ),
        # A detector that is not installed here: its findings count by kind and label.
        DetectorRun(
            "tattoo", "1", [TattooFinding(label="anchor", bbox=(70.0, 70.0, 10.0, 10.0), ink="blue")]
        ),
    ]


def _result() -> AnalysisResult:
    return AnalysisResult(
        path=PATH,
        stat=FileStat(10, 1, 2, 3),
        sha256="e" * 64,
        format="JPEG",
        width=100,
        height=100,
        runs=_runs(),
        signature="test",
    )


def test_the_index_and_a_fresh_analysis_give_the_same_photo_facts(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "index.sqlite3")
    store.save(_result())
    with store.transaction() as session:
        [loaded] = load_facts(session)
    store.close()
    fresh = facts_from(stored(_result()), PATH, installed_hooks())
    assert replace(fresh, photo_id=loaded.photo_id) == loaded
    assert loaded.faces[0].face_id > 0 and fresh.faces[0].face_id == -1  # row ids only in the index
    assert (loaded.city, loaded.country_code, loaded.device) == ("Arezzo", "IT", "NIKON COOLPIX P6000")
    assert loaded.taken_at is not None and loaded.taken_at.isoformat() == "2024-05-01T12:00:00"
    assert [(f.age, f.smiling, f.expression) for f in loaded.faces] == [
        (7.4, True, "happy"),
        (35.0, False, None),
    ]
    assert [b.name for b in loaded.brands] == ["Heineken"]
    assert loaded.facts == (
        ("brand", "Heineken"),
        ("brand_category", "alcohol"),
        ("code", "product"),
        ("code", "wifi"),
        ("nudity", "BELLY_EXPOSED"),
        ("object", "wine glass"),
        ("pii", "card"),
        ("scene", "id_card"),
        ("tattoo", "anchor"),
    )
    # What the scorers read, without bboxes and with only the attrs their detectors read.
    card = next(f for f in loaded.findings if f.kind == "pii")
    assert card == StoredFinding("pii", "pii", "card", 1.0, None, {}, None)
    gps = next(f for f in loaded.findings if f.kind == "gps")
    assert gps.attrs == {"lat": 43.467448, "lon": 11.885127} and gps.bbox is None
    face = next(f for f in loaded.findings if f.kind == "face")
    assert face.attrs == {
        "age": 7.4,
        "expression.label": "happy",
        "possible_child": None,
        "smiling": 1,
    }  # as SQLite gives them


def test_a_detector_that_declares_nothing_gets_the_defaults() -> None:
    finding = StoredFinding("redness", "redness", "red", 0.9, (0, 0, 64, 48), {"mean_red": 250.0})
    assert list(Redness.facts(finding)) == [("redness", "red")]
    assert Redness.exposure([finding], ExposureContext(), ExposurePoints()) == []
    assert list(Redness.scrub_boxes(finding)) == []
    assert Redness.shown(finding) == "redness red"
    hooks = Hooks({"redness": Redness})
    assert hooks.scorers == () and hooks.counts(finding)
    assert hooks.project(finding) == finding._replace(bbox=None)  # reads all its attrs
    # A detector that is not installed: defaults, counted by kind and label only.
    gone = hooks.project(finding._replace(detector="gone"))
    assert gone.attrs == {} and list(hooks.of("gone").facts(gone)) == [("redness", "red")]


def test_the_built_in_detectors_say_what_a_safe_copy_must_cover() -> None:
    findings = stored(_result())
    covered = [(f.detector, box.what) for f, box in boxes_of(findings, installed_hooks())]
    assert covered == [
        ("faces", "face"),
        ("faces", "face"),
        ("text", "text"),
        ("pii", "personal_data"),
        ("codes", "personal_data"),  # a Wi-Fi password
        ("codes", "text"),  # a product code: covered only with --redact text
    ]
    first_face = boxes_of(findings, installed_hooks())[0][1]
    assert first_face == ScrubBox((10.12, 20.0, 30.0, 40.0), "face", None, 7.4)


def test_the_built_in_detectors_say_their_findings_in_words() -> None:
    hooks = installed_hooks()
    words = {f.kind: hooks.of(f.detector).shown(f) for f in stored(_result())}
    assert words["face"] == "face, about 35"
    assert words["pii"] == "payment card number: **** 4242"
    assert words["code"] == "code EAN_13: product 4006381"
    assert words["brand"] == "brand Heineken (alcohol, text)"
    assert words["text"] == 'text "4242 4242 4242 4242"'
    assert words["gps"] == "gps 43.467448, 11.885127"  # the default
    assert words["tattoo"] == "tattoo anchor"  # not installed: the default


def test_the_read_api_adds_the_words_and_survives_a_broken_hook(tmp_path: Path) -> None:
    class Broken(FindingHooks):
        @classmethod
        def shown(cls, finding: StoredFinding) -> str:
            raise RuntimeError("bug in a plugin")

    store = Store.open(tmp_path / "index.sqlite3")
    store.save(_result())
    store.close()
    reader = Reader.open(tmp_path / "index.sqlite3")
    try:
        read_findings.show_with(Hooks({**installed_hooks().classes, "tattoo": Broken}))
        item = reader.photo(PATH)
        assert item is not None
        shown = {f["kind"]: f["shown"] for f in item["findings"]}
        assert shown["pii"] == "payment card number: **** 4242" and shown["tattoo"] == "tattoo anchor"
        read_findings.show_with(Hooks())  # as in the TUI, which never loads detectors
        item = reader.photo(PATH)
        assert item is not None
        assert {f["kind"]: f["shown"] for f in item["findings"]}["pii"] == "pii card"
    finally:
        read_findings.show_with(Hooks())
        reader.close()


def test_alerts_points_accept_any_reason_code_checked_like_the_built_in_ones() -> None:
    points = parse_config({"alerts": {"points": {"tattoo": 35}}}, "x").alerts.points
    assert points.of("tattoo", 20) == 35 and points.of("other", 20) == 20 and points.of("gps", 1) == 15
    with pytest.raises(ConfigError, match=r"alerts\.points\.tattoo: .*less than or equal to 100"):
        parse_config({"alerts": {"points": {"tattoo": 101}}}, "x")
    with pytest.raises(ConfigError, match=r"alerts\.points\.tattoo: .*valid integer"):
        parse_config({"alerts": {"points": {"tattoo": "many"}}}, "x")


def test_a_segments_file_of_ones_own_is_checked_when_the_config_is_read(tmp_path: Path) -> None:
    rules = tmp_path / "segments.toml"
    rules.write_text("")
    assert parse_config({"profile": {"segments_file": str(rules)}}, "x").profile.segments_file == rules
    with pytest.raises(ConfigError, match=r"profile\.segments_file: .*no such file"):
        parse_config({"profile": {"segments_file": str(tmp_path / "missing.toml")}}, "x")
