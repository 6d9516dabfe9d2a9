"""Which folders inotify cannot watch: network and FUSE mounts need a polling observer."""

from __future__ import annotations

import os
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
# Changes made on another machine (or by a FUSE daemon) never reach the local inotify.
POLLED_FILESYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "sshfs", "9p", "afs", "ceph", "glusterfs", "davfs", "virtiofs"}
)


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def filesystem_type(folder: Path, mountinfo: Path = MOUNTINFO) -> str | None:
    """The type of the file system holding ``folder``, from the longest matching mount point."""
    try:
        lines = mountinfo.read_text().splitlines()
    except OSError:
        return None
    real = os.path.realpath(folder)
    best: tuple[int, str] | None = None
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, extra = left.split(), right.split()
        if len(fields) < 5 or not extra:
            continue
        mount_point = _unescape(fields[4])
        inside = real == mount_point or real.startswith(mount_point.rstrip("/") + "/")
        if inside and (best is None or len(mount_point) >= best[0]):
            best = (len(mount_point), extra[0])
    return best[1] if best else None


def needs_polling(folder: Path, mountinfo: Path = MOUNTINFO) -> bool:
    fs_type = filesystem_type(folder, mountinfo) or ""
    return fs_type in POLLED_FILESYSTEMS or fs_type.startswith("fuse")
