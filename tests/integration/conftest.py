"""Fixtures shared by the integration test files."""

from __future__ import annotations

from tests.integration.kodi_fixtures import kodi, kodi_session

__all__ = ["kodi", "kodi_session"]
