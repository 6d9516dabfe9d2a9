"""The CLI's edges, through the real command: each wrong path gets one line and a documented exit
status (2: the input is wrong; 1: the input is fine but the work failed or is not done yet)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import SHADOWLENS, Env, small_jpeg
from tests.daemon_helpers import query

FAST = "".join(f"[detectors.{n}]\nenabled = false\n" for n in ("faces", "text", "codes", "nudity"))
EXIF_IFD, DATETIME_ORIGINAL = 0x8769, 0x9003


def dated_jpeg(path: Path, when: datetime | None) -> Path:
    exif = Image.Exif()
    if when is not None:
        exif.get_ifd(EXIF_IFD)[DATETIME_ORIGINAL] = when.strftime("%Y:%m:%d %H:%M:%S")
    return small_jpeg(path, color=(when.day * 9 if when else 7, 40, 90), exif=exif.tobytes())


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Usage:" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("shopping: milk, eggs\n", encoding="utf-8")
    return path


def test_scanning_a_text_file_says_it_is_not_an_image(env: Env, notes: Path, tmp_path: Path) -> None:
    env.write_config(FAST)
    alone = env.run("scan", str(notes), check=False)
    assert alone.returncode == 2
    assert "notes.txt: not an image" in alone.stderr and "nothing to scan" in alone.stderr
    assert not env.index.exists()
    photo = small_jpeg(tmp_path / "photo.jpg")
    beside = env.run("scan", "--json", str(notes), str(photo), check=False)
    assert beside.returncode == 0, beside.stderr
    assert '"skipped": 1' in beside.stdout and '"indexed": 1' in beside.stdout
    assert "notes.txt: not an image" in beside.stderr


def test_show_says_which_case_it_is(env: Env, notes: Path, tmp_path: Path) -> None:
    env.write_config(FAST)
    library = tmp_path / "library"
    indexed = small_jpeg(library / "a.jpg")
    env.run("scan", str(library))
    assert env.run("show", str(indexed)).returncode == 0
    cases = {
        library: (2, "is a folder"),
        notes: (2, "never indexed: not an image"),
        small_jpeg(tmp_path / "later.jpg", color=(1, 2, 3)): (1, "not indexed yet; run `shadowlens scan"),
        tmp_path / "gone.jpg": (2, "no such file or folder"),
        notes / "inside.jpg": (2, "a part of the path is a file"),
    }
    for path, (code, words) in cases.items():
        proc = env.run("show", str(path), check=False)
        assert proc.returncode == code and words in one_line(proc), (path, proc.stderr)


def unusable_paths(tmp_path: Path, notes: Path) -> dict[str, tuple[Path, str]]:
    """Paths that fail for reasons other than permissions (the tests run as root, for whom
    mode 000 hides nothing)."""
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    return {
        "symlink loop": (loop, "too many levels of symbolic links"),
        "name too long": (tmp_path / ("x" * 300 + ".jpg"), "file name too long"),
        "under a file": (notes / "photo.jpg", "a part of the path is a file"),
        "missing": (tmp_path / "nowhere", "no such"),
    }


@pytest.mark.parametrize("command", ["scan", "watch", "show", "scrub"])
def test_an_unusable_path_gets_one_line_not_a_usage_screen(
    env: Env, notes: Path, tmp_path: Path, command: str
) -> None:
    env.write_config(FAST)
    env.run("scan", str(small_jpeg(tmp_path / "indexed" / "a.jpg")))  # show needs an index
    extra = ["--out", str(tmp_path / "safe")] if command == "scrub" else []
    for case, (path, words) in unusable_paths(tmp_path, notes).items():
        proc = env.run(command, *extra, str(path), check=False, timeout=60)
        assert proc.returncode == 2, (command, case, proc.stderr)
        assert words in one_line(proc), (command, case)


def test_a_config_or_an_out_folder_of_the_wrong_kind(env: Env, notes: Path, tmp_path: Path) -> None:
    folder_as_config = env.run("--config", str(tmp_path), "photos", check=False)
    assert folder_as_config.returncode == 2 and "config error" in one_line(folder_as_config)
    env.write_config(FAST)
    photo = small_jpeg(tmp_path / "p.jpg")
    file_as_out = env.run("scrub", "--out", str(notes), str(photo), check=False)
    assert file_as_out.returncode == 2 and "is a file" in one_line(file_as_out)


def test_photos_has_headers_and_lists_the_newest_first(env: Env, tmp_path: Path) -> None:
    env.write_config(FAST)
    library = tmp_path / "library"
    dated_jpeg(library / "a-old.jpg", datetime(2019, 6, 1, 10, 0))
    dated_jpeg(library / "b-new.jpg", datetime(2024, 2, 3, 18, 30))
    dated_jpeg(library / "c-undated.jpg", None)
    dated_jpeg(library / "d-middle.jpg", datetime(2021, 12, 24, 20, 0))
    env.run("scan", str(library))
    lines = env.run("photos").stdout.splitlines()
    assert lines[0].split() == ["STATUS", "EXP", "TAKEN", "PLACE", "PATH"]
    names = [Path(line.split()[-1]).name for line in lines[1:]]
    assert names == ["b-new.jpg", "d-middle.jpg", "a-old.jpg", "c-undated.jpg"]
    by_path = [Path(p["path"]).name for p in env.json("photos", "--sort", "path")]
    assert by_path == sorted(by_path)


def test_ctrl_c_on_a_scan_is_one_line_and_the_next_scan_finishes(env: Env, tmp_path: Path) -> None:
    """Ctrl-C reaches the whole foreground group (the scan and its workers), as in a terminal."""
    env.write_config(FAST)
    library = tmp_path / "library"
    for i in range(120):
        small_jpeg(library / f"{i:03}.jpg", size=(1600, 1200), color=(i, 255 - i, 90))
    proc = subprocess.Popen(
        [str(SHADOWLENS), "scan", "--workers", "2", str(library)],
        env={**os.environ, **env.vars},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    # Interrupt once some photos are in the index, as a user would while it works.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if env.index.exists() and indexed_count(env.index) >= 5:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the scan finished before Ctrl-C reached it")  # a very fast machine
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("shadowlens: interrupted; the photos analysed so far")
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    summary = env.json("scan", str(library))
    assert summary["found"] == 120 and summary["indexed"] + summary["unchanged"] == 120
    assert summary["unchanged"] >= 5 and summary["errors"] == 0


def indexed_count(index: Path) -> int:
    try:
        return int(query(index, "SELECT count(*) FROM files WHERE status = 'indexed'")[0][0])
    except sqlite3.OperationalError:
        return 0  # the index is still being created


def test_rescanning_one_indexed_file_finds_it_unchanged(env: Env, tmp_path: Path) -> None:
    env.write_config(FAST)
    photo = small_jpeg(tmp_path / "one.jpg")
    first = env.json("scan", str(photo))
    again = env.json("scan", str(photo))
    assert (first["indexed"], again["unchanged"], again["moved"], again["indexed"]) == (1, 1, 0, 0)
