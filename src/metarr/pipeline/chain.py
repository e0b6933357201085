"""The phase chain, in one visible place: which phase runs after which.

scan -> enrich -> publish -> sync. A phase runs next only when the library's
switch for it is on and a handler for it is registered (later phases register
theirs as they arrive); scanning always runs. Enrichment may be switched off
without ending the chain: with auto-enrich off and auto-publish on, a scan is
followed by publishing what is known (NFO metadata, local artwork).

Per movie, "enrich" includes its `artwork` job: the next phase is queued when that
job is done (`services/enrichment.py`), since publishing needs the selected art.
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
# Phases the chain steps over when their switch is off.
SKIPPABLE = frozenset({"enrich"})
# Phases whose library jobs can be limited to one folder (the scope of a targeted scan).
SCOPED = frozenset({"publish"})


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
    scope: str | None = None,
) -> NextPhase | None:
    """The phase to run after `finished` for this library, or None.

    `scope` (a folder of the library) narrows the next job when that phase takes one.
    """
    step = CHAIN.get(finished)
    while step is not None and not switches.get(step[1], False):
        step = CHAIN.get(step[0]) if step[0] in SKIPPABLE else None
    if step is None:
        return None
    phase = step[0]
    if not registered(phase):
        log.info("%s is enabled for library %s but not available yet", phase, library_id)
        return None
    payload: dict[str, object] = {"library_id": library_id}
    if scope and phase in SCOPED:
        payload["scope"] = scope
        return NextPhase(phase, f"library:{library_id}/{scope}", payload)
    return NextPhase(phase, f"library:{library_id}/", payload)
