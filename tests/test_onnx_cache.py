"""The optimised graphs workers keep in the cache folder (models/onnx_cache.py): saved by a model's
first session, opened by later ones with the same outputs bit for bit, rebuilt when damaged or
stale, never in the way when the cache cannot be written, and one entry for workers that build
it together. Real onnxruntime sessions on real models (NudeNet's, which its wheel ships, and the
built default set), real processes and files; nothing is mocked.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from shadowlens.models import onnx_cache
from shadowlens.models.sessions import InferenceSession, onnx_session

from tests.conftest import BUILT_MODELS, Env, built_model_or_skip, corpus_or_skip
from tests.onnx_graphs import mean_colour_projection


def nudenet_model() -> Path:
    import nudenet

    return Path(nudenet.__file__).parent / "320n.onnx"


def feed(session: InferenceSession) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        i.name: rng.random(
            [d if isinstance(d, int) else 1 if n == 0 else 320 for n, d in enumerate(i.shape)]
        ).astype(np.float32)
        for i in session.get_inputs()
    }


def outputs(session: InferenceSession, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [np.asarray(o) for o in session.run(None, inputs)]


def level(session: InferenceSession) -> Any:
    return session.get_session_options().graph_optimization_level  # type: ignore[attr-defined]


def entries(cache: Path) -> list[Path]:
    return sorted(p for p in cache.iterdir() if not p.name.startswith("."))


def graph_identity(entry: Path) -> tuple[int, int]:
    st = (entry / onnx_cache.GRAPH).stat()
    return st.st_ino, st.st_mtime_ns


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A copy of a real model, so that tests may change or remove it."""
    (tmp_path / "models").mkdir()
    return Path(shutil.copy2(nudenet_model(), tmp_path / "models" / "320n.onnx"))


def test_the_first_session_saves_the_graph_and_the_next_opens_it_with_the_same_outputs(
    tmp_path: Path, model: Path
) -> None:
    cache = tmp_path / "cache"
    first = onnx_session(model, threads=1, cache=cache)
    assert level(first) == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    [entry] = entries(cache)
    assert entry.name.startswith("320n-")
    assert onnx_cache.cached_graph(entry) == entry / onnx_cache.GRAPH
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []  # no scratch left
    saved = graph_identity(entry)

    second = onnx_session(model, threads=1, cache=cache)
    assert level(second) == ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the saved graph, as saved
    assert entries(cache) == [entry] and graph_identity(entry) == saved
    inputs = feed(first)
    for a, b in zip(outputs(first, inputs), outputs(second, inputs), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_truncated_graph_is_rebuilt(tmp_path: Path, model: Path) -> None:
    cache = tmp_path / "cache"
    reference = onnx_session(model, threads=1, cache=cache)
    [entry] = entries(cache)
    graph = entry / onnx_cache.GRAPH
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])
    assert onnx_cache.cached_graph(entry) is None  # the record no longer matches

    again = onnx_session(model, threads=1, cache=cache)
    assert level(again) == ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # optimised from the source
    assert entries(cache) == [entry] and onnx_cache.cached_graph(entry) is not None
    inputs = feed(reference)
    reopened = onnx_session(model, threads=1, cache=cache)
    for a, b in zip(outputs(reference, inputs), outputs(reopened, inputs), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_graph_that_cannot_be_read_is_reported_and_rebuilt(
    tmp_path: Path, model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    onnx_session(model, threads=1, cache=cache)
    [entry] = entries(cache)
    graph = entry / onnx_cache.GRAPH
    graph.write_bytes(b"not a graph at all")
    # A record that matches the damaged file: only onnxruntime can tell.
    record = json.loads((entry / onnx_cache.RECORD).read_text())
    st = graph.stat()
    (entry / onnx_cache.RECORD).write_text(
        json.dumps({**record, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    )

    with caplog.at_level(logging.WARNING, logger="shadowlens.models.onnx_cache"):
        session = onnx_session(model, threads=1, cache=cache)
    assert "cannot be read" in caplog.text and "optimising" in caplog.text
    assert level(session) == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert entries(cache) == [entry] and onnx_cache.cached_graph(entry) is not None
    assert graph.stat().st_size > 1_000_000
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []


def test_a_cache_that_cannot_be_written_only_means_optimising_each_time(tmp_path: Path, model: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    session = onnx_session(model, threads=1, cache=blocker / "onnx-optimised")
    assert level(session) == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert outputs(session, feed(session))
    assert blocker.read_text() == "a file where the cache folder would go"


def test_a_missing_model_raises_onnxruntimes_own_error_and_writes_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(Exception, match=r"missing\.onnx"):
        onnx_session(tmp_path / "missing.onnx", threads=1, cache=cache)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_changed_model_gets_a_new_entry_and_stale_entries_and_scratch_go(
    tmp_path: Path, model: Path
) -> None:
    cache = tmp_path / "cache"
    onnx_session(model, threads=1, cache=cache)
    [old] = entries(cache)
    gone = mean_colour_projection(tmp_path / "gone.onnx", 8, 2, np.ones((3, 2)), np.zeros(2))
    onnx_session(gone, threads=1, cache=cache)
    gone.unlink()
    dead = cache / f"{onnx_cache.BUILDING}999999999-leftover"  # a build its killed process left
    dead.mkdir()
    running = cache / f"{onnx_cache.BUILDING}{os.getpid()}-in-progress"  # a build still going on
    running.mkdir()

    # The model is rebuilt (another version of it): a new entry, and the old one is of no use.
    mean_colour_projection(model, 16, 4, np.ones((3, 4)), np.arange(4.0))
    session = onnx_session(model, threads=1, cache=cache)
    [new] = entries(cache)
    assert new != old and new.name.startswith("320n-")
    assert not dead.exists() and running.exists()
    [result] = outputs(session, {"input.1": np.zeros((1, 3, 16, 16), dtype=np.float32)})
    np.testing.assert_array_equal(result, np.arange(4.0, dtype=np.float32)[None])


def _open_together(model: Path, cache: Path, barrier: Any) -> None:
    barrier.wait()
    onnx_session(model, threads=1, cache=cache)


def test_workers_that_start_together_leave_one_whole_entry(tmp_path: Path, model: Path) -> None:
    cache = tmp_path / "cache"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    workers = [context.Process(target=_open_together, args=(model, cache, barrier)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    [entry] = entries(cache)
    assert onnx_cache.cached_graph(entry) is not None
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []
    assert level(onnx_session(model, threads=1, cache=cache)) == ort.GraphOptimizationLevel.ORT_DISABLE_ALL


@pytest.mark.corpus
def test_analysis_is_the_same_from_the_optimised_graphs(env: Env) -> None:
    """The default detectors on real photos: a first pipeline optimises every model (and saves the
    graphs), a second one opens the saved graphs; every finding, face embeddings included, is the
    same to the last bit."""
    from shadowlens.daemon.analysis.pool import build_pipeline
    from shadowlens.daemon.config import parse_config
    from shadowlens.models.sessions import optimised_graphs

    corpus = corpus_or_skip()
    built_model_or_skip("dlib-resnet-128-onnx")
    photos = [corpus / "face_recognition/obama_and_biden.jpg", corpus / "exif-samples/hdr/iphone_hdr_YES.jpg"]
    config = parse_config({"models": {"search_paths": [str(BUILT_MODELS)]}}, "test")

    def analysed() -> list[dict[str, Any]]:
        pipeline = build_pipeline(config, None)
        try:
            results = pipeline.analyse(photos)
        finally:
            pipeline.close()  # unloads every model: the next pipeline opens its sessions again
        return [{r.detector: [asdict(f) for f in r.findings] for r in result.runs} for result in results]

    assert not optimised_graphs().exists()
    first = analysed()
    saved = {p.name: graph_identity(p) for p in entries(optimised_graphs())}
    assert any(name.startswith("dlib-resnet-128-") for name in saved)
    second = analysed()
    assert {p.name: graph_identity(p) for p in entries(optimised_graphs())} == saved  # read, not rebuilt
    assert first[0]["faces"] and any(f.get("embedding") is not None for f in first[0]["faces"])
    assert second == first
