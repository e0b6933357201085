"""The phase chain, in one visible place: which phase runs after which.

scan -> enrich -> publish -> sync. A phase runs next only when the library's
switch for it is on and a handler for it is registered (later phases register
theirs as they arrive); scanning always runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# phase -> (next phase, name of the library switch that enables it)
CHAIN: dict[str, tuple[str, str]] = {
    "scan": ("enrich", "auto_enrich"),
    "enrich": ("publish", "auto_publish"),
    "publish": ("sync", "auto_sync"),
}


@dataclass(frozen=True, slots=True)
class NextPhase:
    """The job to enqueue after a finished phase."""

    job_type: str
    target: str
    payload: dict[str, object]


def next_phase(
    finished: str,
    *,
    library_id: int,
    switches: dict[str, bool],
    registered: Callable[[str], bool],
) -> NextPhase | None:
    """The phase to run after `finished` for this library, or None."""
    step = CHAIN.get(finished)
    if step is None:
        return None
    phase, switch = step
    if not switches.get(switch, False):
        return None
    if not registered(phase):
        log.info("%s is enabled for library %s but not available yet", phase, library_id)
        return None
    return NextPhase(phase, f"library:{library_id}/", {"library_id": library_id})
