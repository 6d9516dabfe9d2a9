"""Watching the photo folders: turn file-system events into settled files for the queue.

A file counts once it is complete: on close-after-write, on a move into the folder, or when
its size and mtime have not changed for the settle interval (the only signal polling gives).
Sync tools write under temporary names and rename at the end; the rename is the new photo.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shadowlens.daemon.library.names import is_excluded, is_temporary
from shadowlens.daemon.service.mounts import needs_polling
from watchdog.events import (
    DirMovedEvent,
    FileClosedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
    FileSystemMovedEvent,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

log = logging.getLogger(__name__)
WATCH_LIMIT_HINT = (
    "the inotify {what} limit is exhausted; polling {folder} instead. To watch it efficiently, run: "
    "sudo sysctl fs.inotify.{sysctl}={value} (and add it to /etc/sysctl.d/ to keep it)"
)


class WatchSink(Protocol):
    """What the watcher reports to; the daemon implements it."""

    def settled(self, paths: Sequence[str], reason: str) -> None: ...
    def moved(self, source: str, target: str, is_dir: bool) -> None: ...
    def deleted(self, path: str, is_dir: bool) -> None: ...
    def folder_appeared(self, path: str) -> None: ...
    def overflowed(self) -> None: ...


@dataclass
class _Pending:
    size: int
    mtime_ns: int
    changed_at: float


class Settler:
    """Holds files that are still being written until they stop changing."""

    def __init__(self, settle_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.settle_seconds = settle_seconds
        self.clock = clock
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    def touch(self, path: str) -> None:
        try:
            st = os.stat(path)
        except OSError:
            return
        with self._lock:
            self._pending[path] = _Pending(st.st_size, st.st_mtime_ns, self.clock())

    def forget(self, path: str) -> None:
        with self._lock:
            self._pending.pop(path, None)

    def due(self) -> list[str]:
        """Files unchanged for the settle interval; they leave the settler."""
        now, ready = self.clock(), []
        with self._lock:
            for path, entry in list(self._pending.items()):
                try:
                    st = os.stat(path)
                except OSError:
                    del self._pending[path]
                    continue
                if (st.st_size, st.st_mtime_ns) != (entry.size, entry.mtime_ns):
                    self._pending[path] = _Pending(st.st_size, st.st_mtime_ns, now)
                elif now - entry.changed_at >= self.settle_seconds:
                    ready.append(path)
                    del self._pending[path]
        return ready

    def __len__(self) -> int:
        return len(self._pending)


class PhotoEventHandler(FileSystemEventHandler):
    def __init__(self, root: Path, sink: WatchSink, settler: Settler, exclude: Sequence[str]) -> None:
        self.root = str(root)
        self.sink = sink
        self.settler = settler
        self.exclude = exclude

    def wanted(self, path: str) -> bool:
        """Inside the root, not a temporary name, not excluded (photo-ness is checked at enqueue)."""
        if not (path == self.root or path.startswith(self.root.rstrip(os.sep) + os.sep)):
            return False
        relative = os.path.relpath(path, self.root)
        parts = relative.split(os.sep)
        return not any(is_temporary(part) for part in parts) and not is_excluded(relative, self.exclude)

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self._dispatch(event)
        except Exception:  # the observer thread must survive anything one event does
            log.exception("could not handle %s", event)

    def _dispatch(self, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path)
        if isinstance(event, FileSystemMovedEvent):
            self._moved(src, os.fsdecode(event.dest_path), isinstance(event, DirMovedEvent))
        elif event.event_type == "deleted":
            self.settler.forget(src)
            if self.wanted(src):
                self.sink.deleted(src, event.is_directory)
        elif event.is_directory:
            if event.event_type == "created" and self.wanted(src):
                self.sink.folder_appeared(src)
        elif isinstance(event, FileClosedEvent):
            if self.wanted(src):
                self.settler.forget(src)
                self.sink.settled([src], "new")
        elif event.event_type in ("created", "modified") and self.wanted(src):
            self.settler.touch(src)

    def _moved(self, src: str, dest: str, is_dir: bool) -> None:
        self.settler.forget(src)
        src_ok, dest_ok = self.wanted(src), self.wanted(dest)
        if src_ok and dest_ok:
            self.sink.moved(src, dest, is_dir)
        elif dest_ok:  # from a temporary name, or from outside: a new arrival
            if is_dir:
                self.sink.folder_appeared(dest)
            else:
                self.sink.settled([dest], "new")
        elif src_ok:  # to the trash, outside, or to an excluded name: gone from the library
            self.sink.deleted(src, is_dir)


class _OverflowHook(logging.Handler):
    """watchdog only logs an inotify queue overflow; events were lost, so the daemon reconciles."""

    def __init__(self, on_overflow: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self.on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.on_overflow()


class FolderWatcher:
    """One observer per folder: inotify where it works, polling where it cannot."""

    def __init__(
        self, sink: WatchSink, settler: Settler, exclude: Sequence[str], poll_interval: float
    ) -> None:
        self.sink, self.settler, self.exclude = sink, settler, exclude
        self.poll_interval = poll_interval
        self.observers: dict[str, BaseObserver] = {}
        self._hook = _OverflowHook(sink.overflowed)
        logging.getLogger("watchdog.observers.inotify").addHandler(self._hook)
        logging.getLogger("watchdog.observers.inotify_c").addHandler(self._hook)

    def watch(self, folder: Path, poll: bool | None = None) -> str:
        """Start watching; returns "inotify" or "polling"."""
        use_polling = needs_polling(folder) if poll is None else poll
        if not use_polling:
            try:
                self._start(folder, Observer())
                return "inotify"
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EMFILE):
                    raise
                if exc.errno == errno.ENOSPC:
                    hint = WATCH_LIMIT_HINT.format(
                        what="watch", folder=folder, sysctl="max_user_watches", value=524288
                    )
                else:
                    hint = WATCH_LIMIT_HINT.format(
                        what="instance", folder=folder, sysctl="max_user_instances", value=1024
                    )
                log.warning(hint)
        self._start(folder, PollingObserver(timeout=self.poll_interval))
        return "polling"

    def _start(self, folder: Path, observer: BaseObserver) -> None:
        handler = PhotoEventHandler(folder, self.sink, self.settler, self.exclude)
        observer.schedule(handler, str(folder), recursive=True)
        try:
            observer.start()
        except Exception:
            observer.stop()
            raise
        self.observers[str(folder)] = observer

    def stop(self) -> None:
        for observer in self.observers.values():
            observer.stop()
        for observer in self.observers.values():
            observer.join(timeout=5)
        logging.getLogger("watchdog.observers.inotify").removeHandler(self._hook)
        logging.getLogger("watchdog.observers.inotify_c").removeHandler(self._hook)
