"""Shared fixtures: isolated XDG dirs, the shared corpus, and running the real CLI."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
SHADOWLENS = Path(sys.executable).with_name("shadowlens")
CLOCK_VAR = "SHADOWLENS_NOW"
# The day the tests' libraries are looked at: after every photo they hold, and never today.
LIBRARY_NOW = "2025-05-04T09:00:00+00:00"
# The models `make test` built before the suite (`shadowlens models build`), in the real user's
# model directory, read before any test isolates the XDG variables. A test account sees them only
# when its config names this folder in `[models] search_paths` (see ``built_models_config``).
BUILT_MODELS = (
    Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "shadowlens" / "models"
)
# Set by `make test`: the offline default set must be there, so a missing model fails, not skips.
REQUIRE_BUILT_VAR = "SHADOWLENS_REQUIRE_BUILT_MODELS"


def built_model_or_skip(model_id: str) -> Path:
    """The verified file of a model `shadowlens models build` makes; skips (or fails under
    `make test`) when it was not built."""
    from shadowlens.models.registry import ModelUnavailable, Registry

    try:
        return Registry(BUILT_MODELS).path(model_id)
    except ModelUnavailable as exc:
        message = f"model {model_id} is not built ({exc}); run `make models` or `shadowlens models build`"
        if os.environ.get(REQUIRE_BUILT_VAR):
            pytest.fail(message)
        pytest.skip(message)


def built_models_config() -> str:
    """A config fragment that lets a test account use the built models."""
    return f"[models]\nsearch_paths = [{json.dumps(str(BUILT_MODELS))}]\n"


def corpus_or_skip() -> Path:
    if not (CORPUS / "manifest.csv").exists():
        pytest.skip(f"the shared corpus is missing: expected {CORPUS}/manifest.csv beside the repo")
    return CORPUS


def manifest_rows() -> list[dict[str, str]]:
    with open(corpus_or_skip() / "manifest.csv", newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if not row["path"].endswith((".xml", ".csv"))]


@dataclass
class Env:
    """An isolated set of XDG directories, as a fresh user account would have."""

    root: Path
    # Pins the clock of every command run in this account (SHADOWLENS_NOW), for tests whose
    # results depend on "now": profile decay, ages, "N days ago". None leaves the real clock to
    # the daemon tests, whose timeouts and forgetting need time to pass.
    now: str | None = None

    @property
    def vars(self) -> dict[str, str]:
        values = {
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_DATA_HOME": str(self.root / "data"),
            "XDG_STATE_HOME": str(self.root / "state"),
            "XDG_CACHE_HOME": str(self.root / "cache"),
            "XDG_PICTURES_DIR": str(self.root / "Pictures"),
        }
        if self.now is not None:
            values[CLOCK_VAR] = self.now
        return values

    @property
    def index(self) -> Path:
        return self.root / "data" / "shadowlens" / "index.sqlite3"

    @property
    def config_file(self) -> Path:
        return self.root / "config" / "shadowlens" / "config.toml"

    def write_config(self, text: str) -> Path:
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(text, encoding="utf-8")
        return self.config_file

    def run(
        self, *args: str, check: bool = True, extra_env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run the installed ``shadowlens`` command in a real process."""
        env = {**os.environ, **self.vars, **(extra_env or {})}
        proc = subprocess.run(
            [str(SHADOWLENS), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"shadowlens {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
        return proc

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.run(*args, "--json", **kwargs).stdout)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    result = Env(tmp_path / "home")
    for key, value in result.vars.items():
        monkeypatch.setenv(key, value)
    return result


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty folder the daemon watches, as a phone's sync folder would be."""
    path = tmp_path / "Phone"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def corpus_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the corpus, so tests may move and delete files."""
    source = corpus_or_skip()
    target = tmp_path_factory.mktemp("corpus") / "corpus"
    shutil.copytree(source, target, copy_function=shutil.copy2)
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


@dataclass
class ScannedCorpus:
    env: Env
    root: Path
    summary: dict[str, Any]
    photos: dict[str, dict[str, Any]]


@pytest.fixture(scope="session")
def scanned_corpus(tmp_path_factory: pytest.TempPathFactory, corpus_copy: Path) -> Iterator[ScannedCorpus]:
    """The whole corpus scanned once by the real CLI, in its own process."""
    env = Env(tmp_path_factory.mktemp("scanned"))
    summary = env.json("scan", str(corpus_copy))
    photos = {Path(p["path"]).relative_to(corpus_copy).as_posix(): p for p in env.json("photos")}
    yield ScannedCorpus(env, corpus_copy, summary, photos)


def small_jpeg(
    path: Path,
    size: tuple[int, int] = (64, 48),
    color: tuple[int, int, int] = (200, 30, 30),
    exif: bytes | None = None,
) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, color)
    image.save(path, "JPEG", **({"exif": exif} if exif else {}))
    return path
