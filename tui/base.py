"""What every TUI screen shares: data loaded in a worker thread, shown on the UI thread, and
reloaded when the index changes (the app watches SQLite's data_version)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen

if TYPE_CHECKING:
    from shadowlens.tui.app import ShadowlensApp
    from shadowlens.tui.library import Library


class LibraryScreen(Screen[None]):
    """Subclasses implement ``fetch`` (worker thread, may block on SQL) and ``show`` (UI thread)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "reload", "Reload", show=False)]

    class FirstLoad(Message):
        """The screen shows its data for the first time (the app then loads what others need)."""

    @property
    def library(self) -> Library:
        return self.shadowlens.library

    @property
    def shadowlens(self) -> ShadowlensApp:
        from shadowlens.tui.app import ShadowlensApp

        assert isinstance(self.app, ShadowlensApp)
        return self.app

    def on_mount(self) -> None:
        self.reload()

    def on_screen_resume(self) -> None:
        self.reload()

    def action_reload(self) -> None:
        self.reload()

    def reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="load")
    def _load(self) -> None:
        data = self.fetch()
        self.app.call_from_thread(self._show, data)

    def _show(self, data: Any) -> None:
        if self.is_attached:
            self.show(data)
            if not self.loaded:
                self.loaded = True
                self.post_message(self.FirstLoad())

    loaded = False

    def fetch(self) -> Any:
        raise NotImplementedError

    def show(self, data: Any) -> None:
        raise NotImplementedError
