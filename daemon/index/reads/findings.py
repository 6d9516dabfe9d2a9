"""A finding in words, for the read API's finding views: its detector's ``shown`` hook.

The read API also serves the TUI, which never loads detector code; so the hooks are handed in
once per process by whoever has them (the CLI gives the installed detectors'), and until then, or
for a detector that is not installed, a finding reads the default way: "kind label".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from shadowlens.daemon.analysis.hooks import Hooks, StoredFinding

log = logging.getLogger(__name__)

_hooks = Hooks()


def show_with(hooks: Hooks) -> None:
    """Show findings with these detectors' hooks from now on, in this process."""
    global _hooks
    _hooks = hooks


def shown(view: Mapping[str, Any]) -> str:
    """One line for people about a finding view (``kind``, ``label``, ``attrs``, ``detector``...)."""
    finding = StoredFinding.from_view(view)
    try:
        return str(_hooks.of(finding.detector).shown(finding))
    except Exception:  # a third-party hook must not break listing the library
        log.debug("detector %s could not say its finding", finding.detector, exc_info=True)
        return f"{finding.kind} {finding.label}"
