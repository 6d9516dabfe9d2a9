"""The two modal dialogs of the people screen: a name, and a yes/no question."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

DIALOG_CSS = """
RenameDialog, ConfirmDialog {
    align: center middle;
}
.dialog {
    width: 60;
    max-width: 90%;
    height: auto;
    border: thick $primary;
    background: $surface;
    padding: 1 2;
}
.dialog Label {
    width: 100%;
}
.dialog Horizontal {
    height: auto;
    align-horizontal: right;
}
.dialog Button {
    margin-left: 1;
}
"""


class RenameDialog(ModalScreen[str | None]):
    """Asks for a name. Dismisses with the text (empty means "clear the name"), or None on escape."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, current: str = "") -> None:
        super().__init__()
        self.title_text, self.current = title, current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(escape(self.title_text))
            yield Input(self.current, placeholder="empty clears the name", id="rename-input")
            yield Label("[dim]enter saves, escape cancels[/dim]")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; y or the Yes button confirms, n, escape or No declines."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(escape(self.question))
            with Horizontal():
                yield Button("Yes", variant="primary", id="confirm-yes")
                yield Button("No", id="confirm-no")

    def on_mount(self) -> None:
        # Focus "No" so a stray enter does not merge people by accident.
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
