"""What the cluster rows need from the machine itself: a network namespace with netem latency
between the daemon and its workers, and where the CPU went during a run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

from harness import Skip
from proc_memory import descendants


class Netns:
    """A network namespace joined to this one by a veth pair, with ``netem delay`` on the host
    side: every packet from the daemon's side (scheduler, client) to a worker in the namespace
    waits ``delay_ms``, so each round trip between them takes that much longer. Raises Skip,
    having undone what it made, when this machine cannot do it; removes everything on exit."""

    SUBNET = "10.213.19"  # /30: .1 this side (the scheduler listens there), .2 the workers' side

    def __init__(self, delay_ms: float) -> None:
        self.delay_ms = delay_ms
        self.name = f"slbench{os.getpid()}"
        self.host_if, self.ns_if = f"slb{os.getpid()}h"[:15], f"slb{os.getpid()}n"[:15]
        self.host, self.peer = f"{self.SUBNET}.1", f"{self.SUBNET}.2"
        self.made: list[str] = []

    @property
    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def __enter__(self) -> Netns:
        if os.geteuid() != 0:
            raise Skip(f"network namespaces and netem need root; this is uid {os.geteuid()}")
        missing = [tool for tool in ("ip", "tc") if shutil.which(tool) is None]
        if missing:
            raise Skip(f"{' and '.join(missing)} not found (Debian package iproute2)")
        addresses = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
        if f"{self.SUBNET}." in addresses:
            raise Skip(f"{self.SUBNET}.0/30 is already in use on this machine")
        try:
            self._step("netns", "ip", "netns", "add", self.name)
            self._step("veth", "ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            self._step("", "ip", "link", "set", self.ns_if, "netns", self.name)
            self._step("", "ip", "addr", "add", f"{self.host}/30", "dev", self.host_if)
            self._step("", "ip", "link", "set", self.host_if, "up")
            for args in (
                ("addr", "add", f"{self.peer}/30", "dev", self.ns_if),
                ("link", "set", self.ns_if, "up"),
            ):
                self._step("", *self.prefix, "ip", *args)
            self._step("", *self.prefix, "ip", "link", "set", "lo", "up")
            delay = ("root", "netem", "delay", f"{self.delay_ms:g}ms")
            self._step("", "tc", "qdisc", "add", "dev", self.host_if, *delay)
        except BaseException:  # Skip, or Ctrl-C half-way: nothing made may stay behind
            self.__exit__(None, None, None)
            raise
        return self

    def _step(self, made: str, *argv: str) -> None:
        done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            reason = f"`{' '.join(argv)}` failed: {done.stderr.strip() or done.returncode}"
            if "netem" in argv:
                reason += _netem_hint()
            raise Skip(reason)
        if made:
            self.made.append(made)

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        # Deleting the namespace destroys the veth end inside it, and with it the pair; the
        # host end is deleted explicitly in case the namespace never got it.
        if "veth" in self.made:
            subprocess.run(["ip", "link", "del", self.host_if], capture_output=True, check=False)
        if "netns" in self.made:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
        self.made.clear()


def _netem_hint() -> str:
    """Why the kernel has no netem qdisc, when it can be told."""
    try:
        import gzip

        config = gzip.decompress(Path("/proc/config.gz").read_bytes()).decode()
    except OSError:
        return ""
    line = next((ln for ln in config.splitlines() if "CONFIG_NET_SCH_NETEM" in ln), "")
    modules = Path("/lib/modules", os.uname().release)
    return (
        f"; the running kernel {os.uname().release} says `{line}` in /proc/config.gz"
        f"{'' if modules.is_dir() else f' and has no {modules} to load sch_netem from'}"
        if line and not line.endswith("=y")
        else ""
    )


def _cpu_ticks(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return None


def _busy_ticks() -> int:
    """Every core's non-idle time since boot (/proc/stat: all but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    return sum(values) - values[3] - values[4]


def _role(pid: int) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "gone"
    if b"scheduler" in cmdline:  # `dask scheduler`, or shadowlens's wrapper of it (scheduler_main)
        return "scheduler"
    if b"dask_worker" in cmdline:
        return "nanny"  # `dask worker` itself: the process that hosts the nanny
    # multiprocessing's spawn start method runs its children as `python -c "from multiprocessing..."`.
    return "tracker" if b"resource_tracker" in cmdline else "pool" if b"spawn" in cmdline else "child"


class CpuShare:
    """Where this machine's CPU went between ``start()`` and ``stop()``: per role of the processes
    under ``roots`` (pid -> "daemon" or "launcher wN"), this benchmark, and everything else
    ("others": another user's work on a shared machine). In cores: 2.0 is all of 2 cores."""

    def __init__(self, roots: dict[int, str]) -> None:
        self.roots = {**roots, os.getpid(): "bench"}
        self.started: dict[int, tuple[str, int]] = {}
        self.shares: dict[str, float] = {}

    def _table(self) -> dict[int, tuple[str, int]]:
        table = {}
        for root, name in self.roots.items():
            for pid in [root, *(descendants(root) if name != "bench" else [])]:
                ticks = _cpu_ticks(pid)
                if ticks is None:
                    continue
                label, role = name, _role(pid)
                if pid != root:
                    # Under a launcher: "nanny w1", and "worker w1" for the process the nanny spawned.
                    worker = name.removeprefix("launcher ")
                    label = role if name == "daemon" else f"{'worker' if role == 'pool' else role} {worker}"
                table[pid] = (label, ticks)
        return table

    def start(self) -> None:
        self.wall, self.busy, self.started = time.monotonic(), _busy_ticks(), self._table()

    def stop(self) -> dict[str, float]:
        wall, busy, ended = time.monotonic() - self.wall, _busy_ticks() - self.busy, self._table()
        hz = os.sysconf("SC_CLK_TCK")
        mine = 0
        for pid, (role, ticks) in ended.items():
            # A process that started during the window counts from zero, under its own name:
            # a short-lived child (the profile's) is not the pool that was there all along.
            if pid not in self.started:
                role = f"{role} (new)"
            spent = ticks - self.started.get(pid, (role, 0))[1]
            mine += spent
            self.shares[role] = self.shares.get(role, 0.0) + spent / hz / wall
        self.shares["others"] = max(0.0, busy - mine) / hz / wall
        return self.shares


def describe_shares(shares: dict[str, float]) -> str:
    """The roles that used any CPU, most first."""
    used = sorted(((cores, role) for role, cores in shares.items() if cores >= 0.005), reverse=True)
    return ", ".join(f"{role} {cores:.2f}" for cores, role in used)
