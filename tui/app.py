"""``shadowlens tui``: what your photos tell a marketer, and what to do about it.

Screens are Textual modes (number keys switch between them); a photo's detail is pushed on
top. The app polls SQLite's data_version once a second and reloads the visible screen when the
daemon has written, so counts and lists stay live without re-querying on every tick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import suppress
from importlib import import_module
from pathlib import Path
from typing import ClassVar

from shadowlens.tui.base import LibraryScreen
from shadowlens.tui.library import Library
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

POLL_SECONDS = 1.0
SCREENS_BY_KEY = (
    ("1", "profile", "Profile"),
    ("2", "photos", "Photos"),
    ("3", "people", "People"),
    ("4", "places", "Places"),
    ("5", "brands", "Brands"),
    ("6", "alerts", "Alerts"),
    ("7", "status", "Status"),
)


# Where each mode's screen lives. A screen's module is imported when its mode is first shown:
# the start screen should not wait for the others (the people screen alone pulls in Pillow).
MODE_SCREENS = {
    "profile": ("profile", "ProfileScreen"),
    "photos": ("photos", "PhotosScreen"),
    "people": ("people", "PeopleScreen"),
    "places": ("places", "PlacesScreen"),
    "brands": ("brands", "BrandsScreen"),
    "alerts": ("alerts", "AlertsScreen"),
    "status": ("status", "StatusScreen"),
}


def screen_class(mode: str) -> type[LibraryScreen]:
    module, name = MODE_SCREENS[mode]
    screen: type[LibraryScreen] = getattr(import_module(f"shadowlens.tui.screens.{module}"), name)
    return screen


def _make(mode: str) -> Callable[[], LibraryScreen]:
    return lambda: screen_class(mode)()


# Imported in a thread once the first screen shows its data, while the user reads it: the other
# screens and the index reads they share (SQLAlchemy, ~0.5 s) are then ready when asked for.
WARM_UP = (
    "shadowlens.daemon.index.reads.queries",
    "shadowlens.daemon.index.reads.browse",
    "shadowlens.daemon.index.reads.people",
    "shadowlens.daemon.index.reads.status",
    *(f"shadowlens.tui.screens.{module}" for module, _name in MODE_SCREENS.values()),
)


class ShadowlensApp(App[None]):
    TITLE = "shadowlens"
    SUB_TITLE = "what your photos tell a marketer"
    CSS_PATH = "shadowlens.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"switch_mode('{mode}')", label) for key, mode, label in SCREENS_BY_KEY),
        Binding("ctrl+t", "toggle_theme", "Theme"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self, library: Library, start: str = "profile", photo: str | None = None, theme: str = "textual-dark"
    ) -> None:
        super().__init__()
        self.library = library
        self.start, self.start_photo = start, photo
        self.initial_theme = theme
        self._version: int | None = None
        self._warmed = False

    def on_mount(self) -> None:
        # Taken before the first screen loads, so a write during that load is not missed.
        self._version = self.library.data_version()
        self.theme = self.initial_theme
        for name in MODE_SCREENS:
            self.add_mode(name, _make(name))
        if not self.library.exists():
            from shadowlens.tui.screens.first_run import FirstRunScreen

            self.push_screen(FirstRunScreen())
        else:
            self.switch_mode(self.start)
            if self.start_photo:
                self.open_photo(self.start_photo)
        self.set_interval(POLL_SECONDS, self.check_for_changes)

    def on_library_screen_first_load(self) -> None:
        if not self._warmed:
            self._warmed = True
            self._warm_up()

    @work(thread=True, group="warm-up", exit_on_error=False)
    def _warm_up(self) -> None:
        # A module that fails to import fails again, with its message, where a screen needs it.
        for name in WARM_UP:
            with suppress(Exception):
                import_module(name)

    def check_for_changes(self) -> None:
        version = self.library.data_version()
        if version is None:
            return
        if self._version is not None and version != self._version and isinstance(self.screen, LibraryScreen):
            self.screen.reload()
        self._version = version

    def open_photo(self, path: str) -> None:
        from shadowlens.tui.screens.photo import PhotoScreen

        self.push_screen(PhotoScreen(str(Path(path).absolute())))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p) offers every screen and the pause switch, besides Textual's own."""
        yield from super().get_system_commands(screen)
        for key, mode, label in SCREENS_BY_KEY:
            yield SystemCommand(
                f"Go to {label}", f"Switch to the {label.lower()} screen ({key})", self._goto(mode)
            )
        yield SystemCommand(
            "Pause analysis", "The daemon stops taking new photos", lambda: self.library.set_paused(True)
        )
        yield SystemCommand(
            "Resume analysis", "The daemon analyses new photos again", lambda: self.library.set_paused(False)
        )

    def _goto(self, mode: str) -> Callable[[], object]:
        return lambda: self.switch_mode(mode)

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def on_unmount(self) -> None:
        self.library.close()


def run(
    library: Library, start: str = "profile", photo: str | None = None, theme: str = "textual-dark"
) -> None:
    """Run the app in this terminal."""
    # textual-image asks the terminal about its graphics support when imported: do it before
    # Textual takes over the input, or the two read the terminal's answers at once.
    import textual_image.widget  # noqa: F401

    ShadowlensApp(library, start=start, photo=photo, theme=theme).run()
