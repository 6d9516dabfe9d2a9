"""Bad folders and files: every one is indexed or reported with a one-line reason; the scan goes on."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SHADOWLENS, Env, corpus_or_skip, small_jpeg

DROP_ROOT = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _by_name(env: Env) -> dict[str, dict[str, object]]:
    return {Path(str(p["path"])).name: p for p in env.json("photos")}


def test_symlinks_never_leave_the_scanned_folder_and_loops_end(env: Env, tmp_path: Path) -> None:
    root, outside = tmp_path / "photos", tmp_path / "private"
    small_jpeg(root / "inside.jpg")
    small_jpeg(outside / "secret.jpg", color=(1, 2, 3))
    (root / "sub").mkdir()
    (root / "sub" / "loop").symlink_to(root)  # a loop back to the root
    (root / "escape").symlink_to(outside)  # a folder outside the root
    (root / "secret-link.jpg").symlink_to(outside / "secret.jpg")
    (root / "alias.jpg").symlink_to(root / "inside.jpg")  # stays inside: followed
    (root / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    summary = env.json("scan", str(root))
    paths = {Path(str(p["path"])).relative_to(root).as_posix(): p for p in env.json("photos")}
    assert set(paths) == {"inside.jpg", "alias.jpg"}
    assert paths["alias.jpg"]["sha256"] == paths["inside.jpg"]["sha256"]
    assert summary["skipped"] == 3  # escape, secret-link.jpg, dangling.jpg
    loop_errors = [p for p in summary["problems"] if "symlink loop" in p["error"]]
    assert len(loop_errors) == 1 and loop_errors[0]["path"].endswith("sub/loop")


def test_files_that_are_not_photos_are_ignored_and_photos_with_odd_names_are_found(
    env: Env, tmp_path: Path
) -> None:
    root = tmp_path / "photos"
    small_jpeg(root / "real.jpg")
    (root / "notes.txt").write_text("not a photo")
    shutil.copy(root / "real.jpg", root / "sent-by-chat-app.bin")
    small_jpeg(root / "other.jpg", color=(9, 9, 9))
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 5)
    summary = env.json("scan", str(root))
    photos = _by_name(env)
    assert set(photos) == {"real.jpg", "sent-by-chat-app.bin", "other.jpg", "broken.png"}
    assert photos["broken.png"]["status"] == "error"
    assert summary["errors"] == 1


def test_sync_tool_temporary_files_and_excluded_folders_are_skipped(env: Env, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    small_jpeg(root / "keep.jpg")
    for name in (
        ".syncthing.IMG_1.jpg.tmp",
        "~syncthing~IMG_2.jpg.tmp",
        "IMG_3.jpg.part",
        ".hidden.jpg",
        "IMG_4.jpg.~1234",
        ".goutputstream-ABC",
    ):
        shutil.copy(root / "keep.jpg", root / name)
    small_jpeg(root / ".thumbnails" / "t.jpg")
    small_jpeg(root / "raw-exports" / "x.jpg")
    env.write_config('[library]\nexclude = ["*/raw-exports/*", "*/.thumbnails/*"]\n')
    env.json("scan", str(root))
    assert set(_by_name(env)) == {"keep.jpg"}


@pytest.mark.skipif(
    shutil.which("setpriv") is None and os.geteuid() == 0, reason="needs setpriv to drop root"
)
def test_unreadable_folders_and_files_are_reported_and_known_files_beneath_are_kept(
    world_writable_dir: Path,
) -> None:
    # Root reads everything, so when the suite runs as root the scan runs as `nobody`.
    if os.geteuid() == 0:
        probe = subprocess.run(
            [*DROP_ROOT, str(SHADOWLENS), "--version"], capture_output=True, text=True, check=False
        )
        if probe.returncode != 0:
            pytest.skip(
                f"user nobody cannot run {SHADOWLENS} here (the checkout is private): {probe.stderr.strip()}"
            )
    base = world_writable_dir
    env = Env(base / "home")
    root = base / "photos"
    small_jpeg(root / "open" / "a.jpg")
    small_jpeg(root / "locked" / "b.jpg", color=(0, 0, 255))
    small_jpeg(root / "secret.jpg", color=(0, 255, 0))
    for path in [root, *root.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)

    def scan() -> dict[str, object]:
        env_vars = {**os.environ, **env.vars}
        prefix = DROP_ROOT if os.geteuid() == 0 else []
        proc = subprocess.run(
            [*prefix, str(SHADOWLENS), "scan", "--json", str(root)],
            env=env_vars,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        import json

        return dict(json.loads(proc.stdout))

    first = scan()
    assert first["indexed"] == 3
    (root / "locked").chmod(0o000)
    (root / "secret.jpg").chmod(0o000)
    (root / "secret.jpg").touch()  # changed, so it is read again
    try:
        second = scan()
    finally:
        (root / "locked").chmod(0o777)
    problems = {Path(p["path"]).name: p["error"] for p in second["problems"]}  # type: ignore[union-attr]
    assert "permission denied" in problems["locked"].lower()
    assert problems["secret.jpg"] == "permission denied"
    assert second["deleted"] == 0, "files under an unreadable folder must not be forgotten"
    photos = {Path(str(p["path"])).name: p for p in env.json("photos")}
    assert photos["b.jpg"]["status"] == "indexed"
    assert photos["secret.jpg"]["status"] == "error" and photos["secret.jpg"]["error"] == "permission denied"


@pytest.fixture
def world_writable_dir() -> Iterator[Path]:
    """A folder that an unprivileged user can reach (pytest's own tmp root is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="shadowlens-test-"))
    path.chmod(0o777)
    yield path
    for sub in [path, *path.rglob("*")]:
        if sub.is_dir() and not sub.is_symlink():
            sub.chmod(0o777)
    shutil.rmtree(path)


def test_a_file_that_vanishes_mid_scan_is_recorded_and_the_scan_goes_on(env: Env, tmp_path: Path) -> None:
    from shadowlens.daemon.config import parse_config
    from shadowlens.daemon.index.writer import Store
    from shadowlens.daemon.library.scan import Scanner

    root = tmp_path / "photos"
    files = [small_jpeg(root / f"{i}.jpg", color=(40 * i, 0, 0)) for i in range(6)]
    config = parse_config({"scan": {"workers": 1, "batch_size": 1}}, "<test>")
    store = Store.open(env.index)

    def delete_the_rest(result: object) -> None:
        for path in files[3:]:
            path.unlink(missing_ok=True)

    summary = Scanner(config, store).scan([root], progress=delete_the_rest)
    store.close()
    assert summary.indexed == 3
    assert summary.new_errors == 3
    assert all("vanished" in p["error"] for p in summary.problems)
    # The next scan forgets them: they are gone, not broken.
    again = env.json("scan", str(root))
    assert again["deleted"] == 3 and again["errors"] == 0


def test_broken_corpus_files_mixed_with_good_ones_in_one_pool(env: Env, tmp_path: Path) -> None:
    corpus = corpus_or_skip()
    root = tmp_path / "mixed"
    root.mkdir()
    names = [
        "pillow/truncated_jpeg.jpg",
        "heic/libheif/fuzz/github_20.heic",
        "pillow/hopper.jpg",
        "heic/pillow-heif/empty.heic",
        "exif-samples/gps/DSCN0010.jpg",
        "pillow/zero_width.gif",
    ]
    for name in names:
        shutil.copy(corpus / name, root / name.replace("/", "_"))
    env.write_config("[scan]\nbatch_size = 1\n")
    summary = env.json("scan", "--workers", "2", str(root))
    assert summary["indexed"] == 2 and summary["errors"] == 4
