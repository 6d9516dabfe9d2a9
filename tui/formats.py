"""How the screens say numbers and times: counts with their noun, a score's colour measured
against the alert threshold, and "3 h ago".

A score at or over the threshold ([alerts] threshold, from the user's config through
``Library``) raises an alert: red. From half the threshold it is worth a look: yellow. So a
screen never calls a photo risky that the alerts would not.

"Now" is the engine's one clock (``daemon.clock``), so a pinned ``SHADOWLENS_NOW`` pins what
every screen says.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shadowlens.daemon import clock
from shadowlens.daemon.wording import plural, rate_per_week

__all__ = ["ago", "plural", "rate_per_week", "risk_style"]

HIGH, MEDIUM, LOW = "bold red", "yellow", ""


def risk_style(score: int | None, threshold: int, low: str = LOW) -> str:
    """The style of an exposure ``score``; ``low`` for scores below half the threshold."""
    value = score or 0
    if value >= threshold:
        return HIGH
    if value >= threshold / 2:
        return MEDIUM
    return low


def ago(stamp: str | None, now: datetime | None = None) -> str:
    """'just now', '5 min ago', '3 h ago', '2 d ago' or the date; naive stamps are UTC (the index)."""
    if not stamp:
        return "?"
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = ((now or clock.now()) - when).total_seconds()
    if seconds < 60:
        return "just now" if seconds < 10 else f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 14 * 86400:
        return f"{int(seconds // 86400)} d ago"
    return when.date().isoformat()
