"""The start screen: "What your photos tell a marketer", then panels of the evidence."""

from __future__ import annotations

from typing import Any

from shadowlens.tui.base import LibraryScreen
from shadowlens.tui.charts import bar_lines, columns
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Header, Sparkline, Static

WEEKDAYS = "Mo Tu We Th Fr Sa Su"


class ProfileScreen(LibraryScreen):
    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="profile"):
            yield Static("", id="profile-sentences", classes="panel")
            with Horizontal(classes="row"):
                yield Static("", id="profile-brands", classes="panel half")
                yield Static("", id="profile-places", classes="panel half")
            with Horizontal(classes="row"):
                yield Static("", id="profile-people", classes="panel half")
                yield Static("", id="profile-habits", classes="panel half")
            yield Static("Mood: share of smiling faces per week", classes="panel-title")
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
        self.query_one("#profile-sentences", Static).update(_sentences(profile))
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
            f"{habits.get('photos_per_week', 0):.1f} photos a week"
        )
        weekly = profile.get("mood", {}).get("weekly", [])
        self.query_one("#profile-mood", Sparkline).data = [
            float(w.get("smile_share", 0)) for w in weekly
        ] or [0.0]
        devices = habits.get("devices", [])
        self.query_one("#profile-devices", Static).update(
            "[b]Devices[/b]  "
            + ("; ".join(f"{d['device']} ({d['photo_count']})" for d in devices[:4]) or "unknown")
        )


def _sentences(profile: dict[str, Any]) -> str:
    lines = [f"[b]What your {profile.get('photo_count', 0)} photos tell a marketer[/b]"]
    lines += [f"• {s}" for s in profile.get("statements", [])]
    lines += [
        f"• {s['sentence']} [dim](confidence {s['confidence']:.0%})[/dim]"
        for s in profile.get("segments", [])
    ]
    # Only with enough faces read by an expression model; older profiles have no such part.
    enjoyed = (profile.get("enjoyment") or {}).get("statements", [])
    lines += [f"• {s['sentence']} [dim]({len(s['evidence'])} photos)[/dim]" for s in enjoyed]
    return "\n".join(lines)


def _places(places: list[dict[str, Any]]) -> str:
    if not places:
        return "[b]Places[/b]\nNo GPS in your photos yet."
    lines = ["[b]Places[/b]"]
    for place in places[:6]:
        where = ", ".join(x for x in (place.get("city"), place.get("country_code")) if x) or "?"
        extra = f", {place['days']} days" if place.get("label") == "trip" else ""
        lines.append(f"{place['label']:<8} {where[:22]:<22} {place['photo_count']}{extra}")
    return "\n".join(lines)


def _people(profile: dict[str, Any]) -> str:
    owner = profile.get("owner")
    lines = ["[b]People[/b]"]
    if owner:
        lines.append(
            f"you: {owner.get('name') or 'person ' + str(owner['person_id'])} ({owner['photo_count']} photos)"
        )
        me = next((p for p in profile.get("people", []) if p["id"] == owner["person_id"]), None)
        for other in (me or {}).get("seen_with", [])[:4]:
            lines.append(
                f"  with {other.get('name') or 'person ' + str(other['person_id'])}: {other['photos']} photos"
            )
    people = profile.get("people", [])
    children = sum(1 for p in people if p.get("is_child"))
    lines.append(f"{len(people)} people" + (f", {children} children" if children else ""))
    return "\n".join(lines)
