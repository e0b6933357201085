"""Protocols ("ports") for what the core needs from the outside world."""

from __future__ import annotations

from typing import Protocol

from metarr.domain.media import ProbeResult


class Prober(Protocol):
    """Reads container and stream details of one media file.

    Implementations never raise for an unreadable file: they return a
    `ProbeResult` with `ok=False` and an `error` message instead. They must be
    safe to call from several threads at once.
    """

    name: str

    def probe(self, path: str) -> ProbeResult:
        """Probe the file at absolute `path`."""
        ...
