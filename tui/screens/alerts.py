"""The alerts inbox: risky photos, newest first, with why each one is risky and what to do.

Decisions (seen, dismissed) are one short write each through ``Library``; they run in a worker
so that a daemon holding the write lock (busy timeout: seconds) never freezes the UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, ClassVar

from rich.text import Text
from shadowlens.daemon.fsnames import shown
from shadowlens.tui.base import LibraryScreen
from shadowlens.tui.formats import ago, plural, risk_style
from shadowlens.tui.tables import set_columns, sync_table
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, Static

EMPTY_NEW = "No new alerts. Risky photos show up here as soon as the daemon sees them."
EMPTY_ALL = "No alerts yet. Risky photos show up here as soon as the daemon sees them."
STATE_MARKS = {"new": "●", "seen": " ", "dismissed": "✕"}
# (key, label, width); width 0 takes what the others leave, so the reason gets the room on a
# wide terminal and the table still fits 80 columns. The detail panel shows everything in full.
COLUMNS = (
    ("state", "", 1),
    ("score", "Risk", 4),
    ("photo", "Photo", 24),
    ("when", "When", 9),
    ("why", "Why", 0),
)


@dataclass(frozen=True)
class Inbox:
    alerts: list[dict[str, Any]]
    include_all: bool


def _cell(text: str, style: str = "") -> Text:
    # Text, never str: DataTable parses str cells as markup, and paths may contain "[".
    return Text(shown(text), style=style, no_wrap=True, overflow="ellipsis", end="")


class AlertsScreen(LibraryScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "seen", "Seen"),
        Binding("d", "dismiss_alert", "Dismiss"),
        # priority: the table's own enter ("select") would otherwise take it and hide it from the footer.
        Binding("enter", "open", "Open photo", priority=True),
        Binding("a", "toggle_all", "All / new"),
    ]

    DEFAULT_CSS = """
    AlertsScreen #alerts-summary { height: 1; padding: 0 1; }
    AlertsScreen #alerts-empty { padding: 1 2; height: auto; }
    AlertsScreen #alerts-table { height: 1fr; }
    AlertsScreen #alert-detail { height: auto; max-height: 12; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.include_all = False
        self.alerts: list[dict[str, Any]] = []
        self._by_key: dict[str, dict[str, Any]] = {}
        self._inbox: Inbox | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="alerts"):
            yield Static("", id="alerts-summary", classes="muted")
            yield Static(EMPTY_NEW, id="alerts-empty")
            table: DataTable[Any] = DataTable(id="alerts-table", cursor_type="row", zebra_stripes=True)
            set_columns(table, COLUMNS, self.app.size.width)
            yield table
            yield Static("", id="alert-detail", classes="panel")
        yield Footer()

    # -- data ----------------------------------------------------------------------------------

    def fetch(self) -> Inbox:
        include_all = self.include_all
        return Inbox(self.library.alerts(include_all), include_all)

    def show(self, data: Any) -> None:
        inbox: Inbox = data
        if inbox.include_all != self.include_all:
            return  # fetched before the last toggle; the reload the toggle started is on its way
        self._inbox, self.alerts = inbox, inbox.alerts
        self._by_key = {str(alert["id"]): alert for alert in inbox.alerts}
        table = self.query_one("#alerts-table", DataTable)
        sync_table(table, [(str(alert["id"]), self._row(alert)) for alert in inbox.alerts])
        empty = not inbox.alerts
        table.display = not empty
        self.query_one("#alert-detail", Static).display = not empty
        empty_note = self.query_one("#alerts-empty", Static)
        empty_note.display = empty
        empty_note.update(EMPTY_ALL if self.include_all else EMPTY_NEW)
        if not empty and self.focused is None:
            table.focus()  # hidden widgets lose focus; give it back once there is something to act on
        self._summary()
        self._detail()

    def on_resize(self, event: events.Resize) -> None:
        table = self.query_one("#alerts-table", DataTable)
        row = table.cursor_row
        if set_columns(table, COLUMNS, event.size.width) and self._inbox is not None:
            self.show(self._inbox)
            table.move_cursor(row=row, animate=False)

    def _row(self, alert: dict[str, Any]) -> list[Text]:
        state = str(alert["state"])
        dim = "dim" if state == "dismissed" else ""
        reasons = alert.get("reasons") or []
        return [
            _cell(STATE_MARKS.get(state, "?"), "bold" if state == "new" else "dim"),
            _cell(f"{int(alert['score']):>3}", self._risk(int(alert["score"]))),
            _cell(PurePath(alert["path"]).name if alert.get("path") else "(photo gone)", dim),
            _cell(ago(alert.get("created_at")), "dim"),
            _cell(str(reasons[0]["text"]) if reasons else "", dim),
        ]

    def _risk(self, score: int) -> str:
        return risk_style(score, self.library.alert_threshold, low="green")

    def _summary(self) -> None:
        new = sum(1 for alert in self.alerts if alert["state"] == "new")
        if self.include_all:
            text = f"{plural(len(self.alerts), 'alert')}, {new} new · showing all (a: only new)"
        else:
            text = f"{plural(new, 'new alert')} · showing only new (a: all, seen and dismissed too)"
        self.query_one("#alerts-summary", Static).update(Text(text))

    def current(self) -> dict[str, Any] | None:
        """The alert under the cursor, if any."""
        table = self.query_one("#alerts-table", DataTable)
        if not self.alerts or not 0 <= table.cursor_row < table.row_count:
            return None
        row_key = table.ordered_rows[table.cursor_row].key
        return self._by_key.get(str(row_key.value))

    def _detail(self) -> None:
        panel = self.query_one("#alert-detail", Static)
        alert = self.current()
        if alert is None:
            panel.update("")
            return
        score = int(alert["score"])
        path = alert.get("path")
        text = Text(no_wrap=False)
        text.append(shown(PurePath(path).name) if path else "(photo no longer in the index)", style="bold")
        text.append(f"  exposure {score}/100\n", style=self._risk(score))
        if path:
            text.append(f"{shown(str(PurePath(path).parent))}\n", style="dim")
        for reason in sorted(alert.get("reasons") or [], key=lambda r: -int(r.get("points", 0))):
            text.append(f"+{int(reason.get('points', 0)):<3} ", style="bold")
            text.append(f"{reason.get('text', '')}\n")
        raised = f"{alert['state']} · raised {ago(alert.get('created_at'))}"
        if alert.get("notified_at"):
            raised += f" · notified {ago(alert['notified_at'])}"
        text.append(raised, style="dim")
        panel.border_title = "Why this photo is risky"
        panel.update(text)

    @on(DataTable.RowHighlighted, "#alerts-table")
    def _highlighted(self) -> None:
        self._detail()

    @on(DataTable.RowSelected, "#alerts-table")
    def _selected(self) -> None:
        # A click on the highlighted row: same as enter.
        self.action_open()

    # -- decisions -----------------------------------------------------------------------------

    def action_seen(self) -> None:
        self._decide_current("seen")

    def action_dismiss_alert(self) -> None:
        # Not "action_dismiss": Screen.dismiss() already means "pop this screen with a result".
        self._decide_current("dismissed")

    def _decide_current(self, state: str) -> None:
        alert = self.current()
        if alert is None or alert["state"] == state:
            return
        self.decide([int(alert["id"])], state)

    def action_open(self) -> None:
        alert = self.current()
        if alert is None:
            return
        if not alert.get("path"):
            self.notify("This photo is no longer in the index.", severity="warning")
            return
        if alert["state"] == "new":
            self.decide([int(alert["id"])], "seen")
        self.shadowlens.open_photo(str(alert["path"]))

    def action_toggle_all(self) -> None:
        self.include_all = not self.include_all
        self.reload()

    @work(thread=True, group="decide")
    def decide(self, alert_ids: list[int], state: str) -> None:
        """Write the decision, then reload; both in this one worker, so that a test (or anyone)
        waiting for the app's workers sees the table already updated."""
        try:
            self.library.set_alert_state(alert_ids, state)
        except Exception as exc:  # a locked or read-only index must not take the TUI down
            self.app.call_from_thread(self.notify, f"Could not save that: {exc}", severity="error")
            return
        data = self.fetch()
        self.app.call_from_thread(self._show, data)
