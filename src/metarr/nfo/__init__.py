"""Kodi NFO files: bytes <-> domain, without touching the disk."""

from __future__ import annotations

from metarr.nfo.reader import read_nfo
from metarr.nfo.writer import NfoOptions, write_movie_nfo

__all__ = ["NfoOptions", "read_nfo", "write_movie_nfo"]
