"""Is the daemon running and keeping up: its state, queue, folders, models and what went wrong.

The TUI never imports detector or watcher code. Installed detectors come from entry-point
metadata (``registry.discover()`` would import every detector module, models and all), and the
models in use from the version strings the daemon stored with its detector runs (read by
``index.reads.status``), put into the same words as ``shadowlens doctor`` by
``analysis.states.describe``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import PurePath
from typing import Any, ClassVar

from rich.text import Text
from shadowlens.daemon.analysis.states import DetectorState, describe
from shadowlens.tui.base import LibraryScreen
from shadowlens.tui.formats import ago
from shadowlens.tui.tables import set_columns, sync_table
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Static

DETECTOR_GROUP = "shadowlens.detectors"  # = shadowlens.daemon.analysis.plugins.GROUP, without importing it
# (key, label, width); the problem takes the rest (see tables.set_columns).
ERROR_COLUMNS = (("where", "Where", 28), ("stage", "Stage", 9), ("problem", "Problem", 0))


@dataclass(frozen=True)
class Models:
    in_use: list[DetectorState] = field(default_factory=list)
    # Enabled, but finding nothing: no model, or a chosen one that is not usable.
    idle: list[DetectorState] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)


def installed_detectors() -> list[str]:
    # Entry-point metadata only: ep.load() is exactly what the TUI must not do.
    names: list[str] = []
    for ep in entry_points(group=DETECTOR_GROUP):
        if ep.name not in names:  # an editable install can list the same distribution twice
            names.append(ep.name)
    return names


def models_in_use(installed: list[str], versions: dict[str, str]) -> Models:
    """Sort detectors into in use (with their models), finding nothing, and not run (yet)."""
    models = Models()
    for name in [*installed, *sorted(set(versions) - set(installed))]:
        version = versions.get(name)
        if version is None:
            models.not_run.append(name)
            continue
        state = describe(name, version)
        (models.idle if state.finds_nothing else models.in_use).append(state)
    return models


class StatusScreen(LibraryScreen):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("p", "toggle_pause", "Pause / resume")]

    DEFAULT_CSS = """
    StatusScreen #status-top { height: auto; }
    StatusScreen #status-daemon, StatusScreen #status-queue { width: 1fr; }
    StatusScreen #status-errors-title { height: 1; padding: 0 1; }
    StatusScreen #status-errors { height: 1fr; min-height: 3; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.paused = False
        self._status: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="status"):
            with Horizontal(id="status-top"):
                yield _panel("status-daemon", "Daemon")
                yield _panel("status-queue", "Library")
            yield _panel("status-models", "Detectors and models")
            yield Static("", id="status-errors-title", classes="panel-title")
            table: DataTable[Any] = DataTable(id="status-errors", cursor_type="row", zebra_stripes=True)
            set_columns(table, ERROR_COLUMNS, self.app.size.width)
            yield table
        yield Footer()

    # -- data ----------------------------------------------------------------------------------

    def fetch(self) -> dict[str, Any]:
        status = self.library.status()
        status["models"] = models_in_use(installed_detectors(), status["detector_versions"])
        return status

    def show(self, data: Any) -> None:
        status: dict[str, Any] = data
        self._status = status
        self.paused = bool(status.get("paused"))
        self.query_one("#status-daemon", Static).update(_daemon(status))
        self.query_one("#status-queue", Static).update(_library(status))
        self.query_one("#status-models", Static).update(_models(status["models"]))
        rows = _error_rows(status)
        title = f"Errors ({len(rows)})" if rows else "Errors: none"
        self.query_one("#status-errors-title", Static).update(title)
        sync_table(self.query_one("#status-errors", DataTable), rows)

    def on_resize(self, event: events.Resize) -> None:
        table = self.query_one("#status-errors", DataTable)
        row = table.cursor_row
        if set_columns(table, ERROR_COLUMNS, event.size.width) and self._status is not None:
            self.show(self._status)
            table.move_cursor(row=row, animate=False)

    # -- actions -------------------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        self.set_pause(not self.paused)

    @work(thread=True, group="pause")
    def set_pause(self, paused: bool) -> None:
        """Write the pause flag (the daemon honours it within 2 s), then reload in this worker."""
        try:
            self.library.set_paused(paused)
        except Exception as exc:  # a locked or read-only index must not take the TUI down
            self.app.call_from_thread(self.notify, f"Could not change that: {exc}", severity="error")
            return
        note = "Paused: no new photos are analysed until you resume (p)." if paused else "Resumed."
        self.app.call_from_thread(self.notify, note)
        data = self.fetch()
        self.app.call_from_thread(self._show, data)


def _panel(widget_id: str, title: str) -> Static:
    panel = Static("", id=widget_id, classes="panel")
    panel.border_title = title  # in the border: at 80x24 every line counts
    return panel


def _daemon(status: dict[str, Any]) -> Text:
    # Lines stay under 36 cells: each panel gets half of an 80-column terminal.
    out = Text()
    running = bool(status.get("running"))
    heartbeat = status.get("heartbeat_at")
    if running:
        pid = status.get("pid")
        out.append("● running", style="bold green")
        out.append(f" · pid {pid if pid and pid > 0 else '?'}")
        if heartbeat:
            out.append(f"\nheartbeat {ago(heartbeat)}", style="dim")
    else:
        out.append("○ not running", style="bold red")
        if heartbeat:
            out.append(f" · seen {ago(heartbeat)}", style="dim")
        out.append("\nstart: shadowlens service install", style="dim")
    out.append("\n")
    if status.get("paused"):
        out.append("⏸ paused", style="bold yellow")
        out.append(" · p resumes")
    else:
        out.append("▶ analysing" if running else "▶ not paused", style="green")
        out.append(" · p pauses", style="dim")
    if running:
        out.append(f"\n{float(status.get('rate_per_minute') or 0):.0f} photos/min")
        last = status.get("last_photo")
        if last:
            out.append(f" · last {PurePath(str(last)).name}", style="dim")
        for worker in status.get("cluster_workers") or []:
            # A joined machine ([cluster] in the config): README "Several machines".
            gpu = ", GPU" if worker.get("gpu") else ""
            out.append(f"\nworker {worker.get('name')} on {worker.get('host')}")
            out.append(
                f" · {worker.get('threads')} thread(s){gpu} · {worker.get('photos')} photos"
                f" · {float(worker.get('photos_per_s') or 0):.1f}/s",
                style="dim",
            )
    return out


def _library(status: dict[str, Any]) -> Text:
    out = Text()
    out.append(f"queued {status.get('queued', 0)} · running {status.get('running_jobs', 0)}")
    out.append(f" · parked {status.get('parked', 0)}")
    out.append(f"\nindexed {status.get('indexed', 0)} · ")
    errors = int(status.get("errors", 0))
    out.append(f"errors {errors}", style="bold red" if errors else "")
    out.append(f" · pending {status.get('pending', 0)}")
    folders: dict[str, str] | None = status.get("folders")
    if folders:
        for folder, mode in folders.items():
            out.append(f"\n{folder}")
            out.append(f" ({mode})", style="dim")
    else:
        # The daemon reports its folders in its heartbeat; a one-off scan does not.
        out.append("\nfolders: listed while watching", style="dim")
    return out


def _models(models: Models) -> Text:
    out = Text()
    if not (models.in_use or models.idle):
        out.append("Nothing analysed yet.", style="dim")
    for i, state in enumerate(models.in_use):
        out.append(", " if i else "")
        out.append(state.name, style="bold")
        if state.models:
            out.append(f" ({state.models_text()})", style="dim")
    for state in models.idle:
        out.append(f"\n{state.name}", style="bold")
        out.append(f": {state.summary}", style="yellow")
    if models.not_run:
        out.append(f"\nnot run yet: {', '.join(models.not_run)}", style="dim")
    return out


def _error_rows(status: dict[str, Any]) -> list[tuple[str, list[Text]]]:
    rows: list[tuple[str, list[Text]]] = []
    for photo in status.get("error_photos") or []:
        rows.append((f"photo:{photo['path']}", _error_cells(photo["path"], "photo", photo.get("error"))))
    for scan in status.get("scan_errors") or []:
        key = f"scan:{scan['stage']}:{scan['path']}"
        rows.append((key, _error_cells(scan["path"], scan["stage"], scan.get("error"))))
    return rows


def _error_cells(path: str, stage: str, error: str | None) -> list[Text]:
    # Text, never str: DataTable parses str cells as markup. The end of a path says the most.
    where = path if len(path) <= 28 else "…" + path[-27:]
    return [
        Text(where, no_wrap=True, overflow="ellipsis", end=""),
        Text(stage, style="dim", no_wrap=True, overflow="ellipsis", end=""),
        Text(error or "unknown error", style="red", no_wrap=True, overflow="ellipsis", end=""),
    ]
