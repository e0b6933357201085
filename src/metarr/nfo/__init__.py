"""Kodi NFO files: bytes <-> domain, without touching the disk."""

from __future__ import annotations

from metarr.nfo.reader import read_nfo

__all__ = ["read_nfo"]
