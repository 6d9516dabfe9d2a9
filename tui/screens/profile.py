"""The start screen: "What your photos tell a marketer", then panels of the evidence."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rich.text import Text
from shadowlens.daemon.profile.stored import claims_of
from shadowlens.daemon.wording import agree, backing
from shadowlens.tui.base import LibraryScreen
from shadowlens.tui.charts import bar_lines, columns
from shadowlens.tui.formats import plural, rate_per_week
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Header, OptionList, Sparkline, Static
from textual.widgets.option_list import Option

WEEKDAYS = "Mo Tu We Th Fr Sa Su"
# A trend needs two points: one week drawn as a sparkline fills the whole width, as if every
# week of the library had been that happy.
MIN_MOOD_WEEKS = 2
# Photos a week means something only over a few weeks of dated photos.
MIN_RATE_DAYS = 14


class ProfileScreen(LibraryScreen):
    DEFAULT_CSS = """
    ProfileScreen #profile-claims { max-height: 20; }
    """
    AUTO_FOCUS = "#profile-claims"

    def __init__(self) -> None:
        super().__init__()
        self.claims: dict[str, dict[str, Any]] = {}
        self._listed: list[tuple[str, str]] = []  # (id, text) of the options shown

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="profile"):
            yield Static("", id="profile-sentences", classes="panel-title")
            # Every statement is one option: enter lists the photos behind it.
            yield OptionList(id="profile-claims")
            with Horizontal(classes="row"):
                yield Static("", id="profile-brands", classes="panel half")
                yield Static("", id="profile-places", classes="panel half")
            with Horizontal(classes="row"):
                yield Static("", id="profile-people", classes="panel half")
                yield Static("", id="profile-habits", classes="panel half")
            yield Static("Mood: share of smiling faces per week", classes="panel-title")
            yield Static("", id="profile-mood-note", classes="muted")
            yield Sparkline([], id="profile-mood")
            yield Static("", id="profile-devices", classes="panel")
        yield Footer()

    def fetch(self) -> Any:
        return self.library.profile()

    def show(self, data: Any) -> None:
        profile: dict[str, Any] = data or {}
        if not profile:
            self.query_one("#profile-sentences", Static).update(
                "No profile yet: it is built after `shadowlens scan` and kept current by the daemon."
            )
            return
        count = int(profile.get("photo_count") or 0)
        self.query_one("#profile-sentences", Static).update(
            f"What your {plural(count, 'photo')} {agree(count, 'tells', 'tell')} a marketer"
            " [dim](enter on a statement lists its photos)[/dim]"
        )
        self._show_claims(claims_of(profile))
        brands = [(b["name"], int(b["photo_count"])) for b in profile.get("brands", [])[:8]]
        self.query_one("#profile-brands", Static).update(
            "\n".join(
                [
                    "[b]Brands[/b] (photos)",
                    *(bar_lines(brands, width=14, label_width=14) or ["none read yet"]),
                ]
            )
        )
        self.query_one("#profile-places", Static).update(_places(profile.get("places", [])))
        self.query_one("#profile-people", Static).update(_people(profile))
        habits = profile.get("habits", {})
        hours, weekdays = habits.get("hours", [0] * 24), habits.get("weekdays", [0] * 7)
        self.query_one("#profile-habits", Static).update(
            "[b]Habits[/b]\n"
            f"hours  {columns(hours)}\n       0     6     12    18\n"
            f"days   {' '.join(columns(weekdays))}\n       {WEEKDAYS}\n"
            f"{_pace(habits)}"
        )
        self._show_mood(profile.get("mood", {}).get("weekly", []))
        devices = habits.get("devices", [])
        self.query_one("#profile-devices", Static).update(
            "[b]Devices[/b]  "
            + (
                "; ".join(f"{d['device']} ({plural(int(d['photo_count']), 'photo')})" for d in devices[:4])
                or "unknown"
            )
        )

    def _show_claims(self, claims: list[dict[str, Any]]) -> None:
        """Refilled only when the statements changed, keeping the highlight on the same one."""
        options = self.query_one("#profile-claims", OptionList)
        wanted = [(str(c["id"]), _option_text(c)) for c in claims]
        self.claims = {str(c["id"]): c for c in claims}
        listed = [(claim_id, text.plain) for claim_id, text in wanted]
        if listed == self._listed and options.option_count:
            return
        self._listed = listed
        highlighted = options.highlighted_option.id if options.highlighted_option else None
        options.clear_options()
        options.add_options(Option(text, id=claim_id) for claim_id, text in wanted)
        if not wanted:
            options.add_option(Option("The profile makes no statement yet.", disabled=True))
        elif highlighted in self.claims:
            options.highlighted = options.get_option_index(highlighted)
        else:
            options.highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        claim = self.claims.get(str(event.option.id))
        if claim is not None:
            # Imported on first use, as every screen the start screen does not show at once.
            from shadowlens.tui.screens.evidence_list import EvidenceListScreen

            self.app.push_screen(EvidenceListScreen(claim))

    def _show_mood(self, weekly: list[dict[str, Any]]) -> None:
        """The sparkline from two weeks on; below that, what there is, in words."""
        chart = self.query_one("#profile-mood", Sparkline)
        chart.display = len(weekly) >= MIN_MOOD_WEEKS
        chart.data = [float(w.get("smile_share", 0)) for w in weekly] if chart.display else []
        self.query_one("#profile-mood-note", Static).update(_mood_note(weekly))


def _pace(habits: dict[str, Any]) -> str:
    """How often you take photos, once the dated photos span enough weeks to make it a habit:
    nine photos in half an hour are not "9.0 photos a week"."""
    dated = sum(int(n) for n in habits.get("hours", []))
    first, last = habits.get("first"), habits.get("last")
    if not dated or not first or not last:
        return "no dated photos"
    span = datetime.fromisoformat(str(last)) - datetime.fromisoformat(str(first))
    if span < timedelta(days=MIN_RATE_DAYS):
        return f"{plural(dated, 'dated photo')}, too few weeks for a rate"
    return rate_per_week(float(habits.get("photos_per_week") or 0))


def _mood_note(weekly: list[dict[str, Any]]) -> str:
    if not weekly:
        return "No face with a smile or expression reading yet."
    if len(weekly) < MIN_MOOD_WEEKS:
        week = weekly[0]
        faces, smiles = int(week.get("faces", 0)), int(week.get("smiles", 0))
        return (
            f"Only one week with faces read ({week.get('week', '?')}: {smiles} of "
            f"{plural(faces, 'face')} smiling); a chart needs {MIN_MOOD_WEEKS} weeks or more."
        )
    return f"{len(weekly)} weeks, {weekly[0].get('week', '?')} to {weekly[-1].get('week', '?')}"


def _option_text(claim: dict[str, Any]) -> Text:
    """The sentence as data (a city's name is never markup), then what backs it, dimmed."""
    text = Text(f"• {claim['text']} ")
    text.append(f"({backing(claim)})", style="dim")
    return text


def _places(places: list[dict[str, Any]]) -> str:
    if not places:
        return "[b]Places[/b]\nNo GPS in your photos yet."
    lines = ["[b]Places[/b]"]
    for place in places[:6]:
        where = ", ".join(x for x in (place.get("city"), place.get("country_code")) if x) or "?"
        extra = f", {plural(int(place['days']), 'day')}" if place.get("label") == "trip" else ""
        lines.append(
            f"{place['label']:<8} {where[:22]:<22} {plural(int(place['photo_count']), 'photo')}{extra}"
        )
    return "\n".join(lines)


def _people(profile: dict[str, Any]) -> str:
    owner = profile.get("owner")
    lines = ["[b]People[/b]"]
    if owner:
        lines.append(
            f"you: {owner.get('name') or 'person ' + str(owner['person_id'])}"
            f" ({plural(int(owner['photo_count']), 'photo')})"
        )
        me = next((p for p in profile.get("people", []) if p["id"] == owner["person_id"]), None)
        for other in (me or {}).get("seen_with", [])[:4]:
            lines.append(
                f"  with {other.get('name') or 'person ' + str(other['person_id'])}:"
                f" {plural(int(other['photos']), 'photo')}"
            )
    people = profile.get("people", [])
    children = sum(1 for p in people if p.get("is_child"))
    lines.append(
        plural(len(people), "person", "people")
        + (f", {plural(children, 'child', 'children')}" if children else "")
    )
    return "\n".join(lines)
