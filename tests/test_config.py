"""Config and paths: XDG locations, typed defaults, one clear line for every config mistake."""

from __future__ import annotations

import re
import stat
import tomllib
from pathlib import Path

import pytest
from shadowlens.daemon.config import Config, default_config_text, parse_config
from shadowlens.daemon.paths import app_paths, pictures_dir

from tests.conftest import Env, small_jpeg


def test_xdg_variables_decide_every_location(env: Env) -> None:
    paths = app_paths()
    assert paths.config_file == env.config_file
    assert paths.index_file == env.index
    assert paths.state_dir == env.root / "state" / "shadowlens"
    assert paths.cache_dir == env.root / "cache" / "shadowlens"
    assert pictures_dir() == env.root / "Pictures"
    assert Config().library.paths == [env.root / "Pictures"]


def test_the_shipped_default_config_parses_to_the_defaults() -> None:
    data = tomllib.loads(default_config_text())
    parsed_defaults = parse_config(data, "default_config.toml").model_dump()
    assert parsed_defaults.pop("detectors") == {"metadata": {}, "place": {}}
    assert parsed_defaults == {k: v for k, v in Config().model_dump().items() if k != "detectors"}
    # Every commented default really is the default: uncomment them all and compare.
    uncommented = "\n".join(
        line[2:] if re.match(r"# [a-z_]+ = ", line) and not line.startswith(("# folders", "# path")) else line
        for line in default_config_text().splitlines()
    )
    parsed = parse_config(tomllib.loads(uncommented), "default_config.toml")
    defaults = Config()
    assert parsed.library.exclude == defaults.library.exclude
    assert parsed.decode == defaults.decode and parsed.scan == defaults.scan
    assert parsed.detectors["place"]["max_distance_km"] == 50.0


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[decode]\nmax_megapixels = 'lots'\n", "decode.max_megapixels", "valid number"),
        ("[decode]\nmax_megapixels = -1\n", "decode.max_megapixels", "greater than 0"),
        ("[library]\nfoldrs = ['/x']\n", "library.foldrs", "unknown setting"),
        ("[scan]\nworkers = 'all'\n", "scan.workers", "valid integer"),
        ("[detectors.place]\nmax_distance_km = 'far'\n", "detectors.place.max_distance_km", "valid number"),
        ("[detectors.place]\nenabeld = false\n", "detectors.place.enabeld", "unknown setting"),
        ("[detectors.fancy]\nenabled = true\n", "detectors.fancy", "unknown detector"),
        ("[library\nfolders = 1\n", "", "invalid TOML"),
    ],
)
def test_a_bad_config_gives_one_line_naming_file_key_and_problem(
    env: Env, text: str, key: str, problem: str
) -> None:
    config_file = env.write_config(text)
    (env.root / "Pictures").mkdir(parents=True)
    proc = env.run("scan", check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(config_file) in lines[0] and key in lines[0] and problem in lines[0]
    assert not env.index.exists(), "a bad config must not create or touch the index"


def test_config_option_points_at_another_file(env: Env, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text("[detectors.place]\nenabled = false\n")
    folder = tmp_path / "photos"
    small_jpeg(folder / "a.jpg")
    env.run("--config", str(other), "scan", str(folder))
    doctor = env.json("--config", str(other), "doctor")
    assert doctor["config"]["source"] == str(other)
    enabled = {d["name"]: d["enabled"] for d in doctor["detectors"]}
    assert enabled["place"] is False and enabled["metadata"] is True
    assert all(on for name, on in enabled.items() if name != "place")
    missing = env.run("--config", str(tmp_path / "nope.toml"), "scan", str(folder), check=False)
    assert missing.returncode == 2 and "file not found" in missing.stderr


def test_configured_folders_and_index_path_are_used(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "Phone Uploads"
    small_jpeg(folder / "IMG_0001.jpg")
    index = tmp_path / "elsewhere" / "my-index.sqlite3"
    env.write_config(f'[library]\nfolders = ["{folder}"]\n[index]\npath = "{index}"\n')
    summary = env.json("scan")
    assert summary["indexed"] == 1
    assert index.exists() and not env.index.exists()
    assert stat.S_IMODE(index.stat().st_mode) == 0o600


def test_default_folder_is_the_pictures_dir_and_data_dirs_are_private(env: Env) -> None:
    small_jpeg(env.root / "Pictures" / "holiday.jpg")
    summary = env.json("scan")
    assert summary["indexed"] == 1
    data_dir = env.index.parent
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(env.index.stat().st_mode) == 0o600


def test_a_missing_default_folder_is_a_clear_error(env: Env) -> None:
    proc = env.run("scan", check=False)
    assert proc.returncode == 2
    assert "Pictures" in proc.stderr and "[library] folders" in proc.stderr


def test_doctor_reports_paths_schema_and_inotify(env: Env) -> None:
    small_jpeg(env.root / "Pictures" / "a.jpg")
    env.run("scan")
    report = env.json("doctor")
    assert report["index"]["schema"] == report["index"]["schema_head"]
    assert report["index"]["mode"] == "0o600"
    assert report["index"]["counts"]["indexed"] == 1
    assert "max_user_watches" in report["inotify"]
    assert "index.sqlite3" in env.run("doctor").stdout


def test_problems_are_logged_to_a_private_file_in_the_state_dir(env: Env, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    small_jpeg(root / "fine.jpg")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not the rest of a jpeg")
    env.run("scan", str(root))
    log = env.root / "state" / "shadowlens" / "log" / "shadowlens.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert f"{root / 'broken.jpg'}: " in log.read_text()
