"""Power: the daemon can pause itself while the laptop runs on battery (``pause_on_battery``)."""

from __future__ import annotations

from pathlib import Path

POWER_SUPPLY = Path("/sys/class/power_supply")


def on_battery(root: Path = POWER_SUPPLY) -> bool:
    """True when a battery is discharging and no mains adapter is online."""
    try:
        supplies = list(root.iterdir())
    except OSError:
        return False
    mains_online, discharging = False, False
    for supply in supplies:
        try:
            kind = (supply / "type").read_text().strip()
            if kind == "Mains" and (supply / "online").read_text().strip() == "1":
                mains_online = True
            elif kind == "Battery" and (supply / "status").read_text().strip() == "Discharging":
                discharging = True
        except OSError:
            continue
    return discharging and not mains_online
