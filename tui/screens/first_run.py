"""Shown when there is no index yet: how to start, then the profile as soon as an index appears.

A plain Screen, not a LibraryScreen: with no index there is nothing to fetch, and opening a
reader would create nothing but errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from shadowlens.tui.app import SCREENS_BY_KEY
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Center, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

if TYPE_CHECKING:
    from shadowlens.tui.app import ShadowlensApp

CHECK_SECONDS = 1.0


def welcome(index_path: str) -> Text:
    out = Text()
    out.append("Welcome to shadowlens\n\n", style="bold")
    out.append("It shows what a marketer could learn from your photos: places,\n")
    out.append("people, brands, habits, and the photos that give away the most.\n\n")
    out.append("No photos have been looked at yet. To start:\n\n")
    out.append("  shadowlens scan ~/Pictures", style="bold")
    out.append("         a one-off look at a folder\n")
    out.append("  shadowlens service install", style="bold")
    out.append("         keep watching in the background\n\n")
    out.append("Nothing leaves this machine: every photo is analysed locally.\n\n")
    out.append("This screen moves on to your profile once the index exists:\n", style="dim")
    out.append(index_path, style="dim")
    return out


class FirstRunScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "app.quit", "Quit"),
        # The app's number keys switch to screens that would read an index that is not there
        # yet (and fail); until it exists, they only say so.
        *(Binding(key, "not_yet", show=False) for key, _, _ in SCREENS_BY_KEY),
    ]

    DEFAULT_CSS = """
    FirstRunScreen #first-run { align-horizontal: center; }
    FirstRunScreen #first-run-text { width: auto; max-width: 100%; }
    """

    def __init__(self) -> None:
        # The screen and its content both answer to #first-run, so that `app.screen.id` and
        # `app.screen.query_one("#first-run")` both find it.
        super().__init__(id="first-run")
        self._timer: Timer | None = None

    @property
    def shadowlens(self) -> ShadowlensApp:
        from shadowlens.tui.app import ShadowlensApp

        assert isinstance(self.app, ShadowlensApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="first-run"), Center():
            yield Static(
                welcome(str(self.shadowlens.library.index_path)), id="first-run-text", classes="panel"
            )
        yield Footer()

    def on_mount(self) -> None:
        self._timer = self.set_interval(CHECK_SECONDS, self.check_for_index)

    def action_not_yet(self) -> None:
        self.notify("Nothing to show yet: run `shadowlens scan ~/Pictures` first.")

    def check_for_index(self) -> None:
        """Leave for the profile once a scan or the daemon has created the index."""
        if not self.is_current or not self.shadowlens.library.exists():
            return
        if self._timer is not None:
            # Stop first: pop_screen() is not immediate, and a second tick must not pop twice.
            self._timer.stop()
            self._timer = None
        self.app.pop_screen()
        self.app.switch_mode("profile")
