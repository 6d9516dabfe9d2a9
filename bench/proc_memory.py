"""The memory of a process tree, read from /proc: each process's own peak, and the tree's sum.

A process's own peak is its ``VmHWM``, which starts afresh at exec. ``ru_maxrss`` (what
``wait4`` returns) does not: Linux carries it across exec, so a child spawned from a large
benchmark process reports at least its parent's size, whatever it used itself.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any


def descendants(root: int) -> list[int]:
    """Every live process below ``root``, from the ppid field of /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # it exited while we looked
        # The command name may hold spaces and parentheses; the fields after its last ")" do not.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def role(pid: int, root: int) -> str:
    if pid == root:
        return "main"
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "gone"
    # multiprocessing's spawn start method runs its helpers as `python -c "from multiprocessing..."`.
    return (
        "resource_tracker" if b"resource_tracker" in cmdline else "worker" if b"spawn" in cmdline else "child"
    )


def rss_kb(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in KiB: resident now, and the process's own peak so far."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        fields = dict(line.split(":", 1) for line in lines if ":" in line)
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
    except (OSError, KeyError, ValueError):
        return None  # exited, or a zombie (which has no memory lines)


@dataclass
class ProcessPeak:
    role: str
    max_rss_mb: float  # the largest sample
    hwm_mb: float  # the kernel's high-water mark: the true peak, even between samples


@dataclass
class TreeRss:
    """Samples the summed RSS of a process and its descendants in a background thread.

    ru_maxrss cannot give this: it is per process, and the pool's workers are reaped (if at
    all) by the daemon, whose rusage then reports only the largest one, never the sum."""

    root: int
    every: float = 0.2
    peak_mb: float = 0.0
    samples: int = 0
    per_process: dict[int, ProcessPeak] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> TreeRss:
        self._thread = threading.Thread(target=self._run, name="tree-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every)

    def sample(self) -> None:
        total = 0
        for pid in [self.root, *descendants(self.root)]:
            kb = rss_kb(pid)
            if kb is None:
                continue
            total += kb[0]
            peak = self.per_process.setdefault(pid, ProcessPeak("child", 0.0, 0.0))
            if peak.role == "child":  # between fork and exec a new worker still looks like its parent
                peak.role = role(pid, self.root)
            peak.max_rss_mb = max(peak.max_rss_mb, kb[0] / 1024)
            peak.hwm_mb = max(peak.hwm_mb, kb[1] / 1024)
        if total:
            self.samples += 1
            self.peak_mb = max(self.peak_mb, total / 1024)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _by_peak(self) -> list[tuple[int, ProcessPeak]]:
        return sorted(self.per_process.items(), key=lambda kv: (kv[1].role != "main", -kv[1].hwm_mb))

    def peaks(self) -> str:
        return "each process's own peak (VmHWM) MB: " + ", ".join(
            f"{p.role} {p.hwm_mb:.0f}" for _, p in self._by_peak()
        )

    def table(self) -> list[dict[str, Any]]:
        return [
            {
                "pid": pid,
                "role": p.role,
                "hwm_mb": round(p.hwm_mb, 1),
                "max_sampled_mb": round(p.max_rss_mb, 1),
            }
            for pid, p in self._by_peak()
        ]
