"""When inotify cannot be used: exhausted limits and network mounts fall back to polling."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from shadowlens.daemon.service.mounts import filesystem_type, needs_polling

from tests.conftest import Env, small_jpeg
from tests.daemon_helpers import WatchProcess, status_of, wait_for

DROP_ROOT = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
HOG = """
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
fds = []
while True:
    fd = libc.inotify_init()
    if fd < 0:
        break
    fds.append(fd)
print(len(fds), flush=True)
time.sleep(120)
"""


def test_mountinfo_decides_which_folders_are_polled(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        "40 22 0:50 / /mnt/nas rw,relatime shared:20 - nfs4 nas:/photos rw\n"
        "41 22 0:51 / /home/me/Phone\\040Sync rw - fuse.rclone remote: rw\n"
    )
    assert filesystem_type(Path("/home/me/Pictures"), mountinfo) == "ext4"
    assert not needs_polling(Path("/home/me/Pictures"), mountinfo)
    assert needs_polling(Path("/mnt/nas/2024"), mountinfo)
    assert needs_polling(Path("/home/me/Phone Sync/DCIM"), mountinfo)
    assert filesystem_type(Path("/"), Path("/proc/self/mountinfo")) is not None


# serial: the hog takes every inotify instance of the user, and a watcher of another test running
# at the same time would free one or take one back; `make test` runs it after the parallel part.
@pytest.mark.serial
@pytest.mark.skipif(sys.platform != "linux", reason="inotify is Linux-only")
def test_exhausted_inotify_limit_logs_the_sysctl_and_polls(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    # Another program of the same user holds every inotify instance the kernel allows it
    # (fs.inotify.max_user_instances); it is stopped as soon as the daemon has started.
    hog = subprocess.Popen([sys.executable, "-c", HOG], stdout=subprocess.PIPE, text=True)
    daemon = None
    try:
        assert hog.stdout is not None and int(hog.stdout.readline()) >= 0
        daemon = WatchProcess(env, folder)
        daemon.wait_ready()
    finally:
        hog.kill()
        hog.wait()
    try:
        assert env.json("status")["folders"] == {str(folder): "polling"}
        text = daemon.output()
        assert "inotify instance limit is exhausted" in text
        assert "sudo sysctl fs.inotify.max_user_instances=" in text
        photo = small_jpeg(folder / "arrived.jpg")
        wait_for(lambda: status_of(env.index, photo) == "indexed", 60, "the photo, found by polling", daemon)
    finally:
        daemon.stop()
