"""What the people screen says about a person: the table's cells, who they are, and who they are
seen with. Pure functions of what the screen loaded (``PeopleData``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.markup import escape
from shadowlens.tui.formats import plural
from shadowlens.tui.tables import plain

SEEN_WITH = 5


@dataclass
class PeopleData:
    persons: list[dict[str, Any]]
    profile: dict[str, Any]
    # The user's child mark per person: True or False is their word, None means "estimate".
    child_marks: dict[int, bool | None] = field(default_factory=dict)
    # Persons whose faces the age model cannot rule out as a child's: the user's mark answers it.
    possible_children: frozenset[int] = frozenset()

    def person(self, person_id: int | None) -> dict[str, Any] | None:
        return next((p for p in self.persons if p["id"] == person_id), None)

    def owner(self) -> tuple[int | None, bool]:
        """The user's choice (★, True), else the profile's guess (☆, False), which may lag a decision."""
        chosen = next((p["id"] for p in self.persons if p["is_owner"]), None)
        if chosen is not None:
            return chosen, True
        return (self.profile.get("owner") or {}).get("person_id"), False


def person_label(person: dict[str, Any]) -> str:
    return str(person.get("name") or f"person {person.get('id', person.get('person_id'))}")


def cells(data: PeopleData, person: dict[str, Any], marked: bool) -> tuple[Any, ...]:
    owner, chosen = data.owner()
    mark = data.child_marks.get(person["id"])
    # "child?" is estimated from the faces' ages; "child" and "adult" are the user's word.
    child = {None: _estimated(data, person), True: "child", False: "adult"}[mark]
    star = ("★" if chosen else "☆") if person["id"] == owner else ""
    check = "✓" if marked else ""
    return check, plain(person_label(person)), person["photo_count"], person["face_count"], star, child


def _estimated(data: PeopleData, person: dict[str, Any]) -> str:
    if person["is_child"]:
        return "child?"
    return "possible child?" if person["id"] in data.possible_children else ""


def info(data: PeopleData, person: dict[str, Any]) -> str:
    owner, chosen = data.owner()
    lines = [f"[b]{escape(person_label(person))}[/b]"]
    lines.append(f"{plural(person['photo_count'], 'photo')} · {plural(person['face_count'], 'face')}")
    if person["id"] == owner:
        lines.append("★ you (your choice)" if chosen else "☆ probably you (appears most)")
    mark = data.child_marks.get(person["id"])
    if mark is None and _estimated(data, person) == "possible child?":
        lines.append("possibly a child: the age is uncertain (c: child / adult)")
    elif mark is None:
        lines.append(f"{'a child' if person['is_child'] else 'not a child'} (estimated)")
    else:
        lines.append(f"{'a child' if mark else 'not a child'} (your mark)")
    lines.append(f"[dim]{escape(str(person['engine']))}[/dim]")
    return "\n".join(lines)


def seen_with(data: PeopleData, person_id: int) -> str:
    if not data.profile:
        return "[b]Seen with[/b]\n[dim]the profile is not built yet[/dim]"
    entry: dict[str, Any] = next((p for p in data.profile.get("people", []) if p["id"] == person_id), {})
    names = {p["id"]: person_label(p) for p in data.persons}
    lines = ["[b]Seen with[/b]"]
    # The profile lags decisions: a person merged away since is no longer worth a line.
    others = [o for o in entry.get("seen_with", []) if o["person_id"] in names]
    for other in others[:SEEN_WITH]:
        name = names[other["person_id"]]
        where = f" · {', '.join(other['places'])}" if other.get("places") else ""
        lines.append(escape(f"  {name}: {plural(other['photos'], 'photo')}{where}"))
    return "\n".join(lines) if len(lines) > 1 else "[b]Seen with[/b]\n[dim]nobody else so far[/dim]"
