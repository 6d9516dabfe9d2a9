"""Text charts that fit any terminal: horizontal bars and a one-line column chart."""

from __future__ import annotations

from collections.abc import Sequence

BLOCKS = " ▁▂▃▄▅▆▇█"


def bar_lines(items: Sequence[tuple[str, int]], width: int = 24, label_width: int = 18) -> list[str]:
    """``name  ████████  12`` lines, bars scaled to the largest value."""
    if not items:
        return []
    top = max(value for _, value in items) or 1
    lines = []
    for name, value in items:
        length = max(1 if value else 0, round(width * value / top))
        lines.append(f"{name[:label_width]:<{label_width}} {'█' * length:<{width}} {value}")
    return lines


def columns(values: Sequence[float]) -> str:
    """One character per value, its height scaled to the largest (hours of the day, weekdays)."""
    top = max(values, default=0) or 1
    return "".join(BLOCKS[round((len(BLOCKS) - 1) * v / top)] for v in values)
