"""Every reference into the content cache, for its garbage collection.

A cached file is kept while any of these names its sha256:

- an artwork candidate row (selected or not: a person's upload, a pick that was
  replaced but may be chosen again, local artwork, collection art);
- a `thumb_sha256` in a movie's `cast` field (actor headshots);
- the hidden `nfo_sha256` field (the cached NFO texts);
- a published file (artwork and headshots in the library: verification repairs
  them from the cache, so their source must stay even when no candidate names it).

Whatever else comes to point into the cache (history that can be restored) must
be added to `referenced_hashes`: the collector deletes every unreferenced file
past its grace period.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select

from metarr.db.tables import Base, MetadataFieldRow
from metarr.db.tables_assets import AssetCandidateRow
from metarr.db.tables_publish import PublishedFileRow

_tables = Base.metadata.tables
FIELDS = _tables[MetadataFieldRow.__tablename__]
ASSETS = _tables[AssetCandidateRow.__tablename__]
PUBLISHED = _tables[PublishedFileRow.__tablename__]

# The hidden field holding the cached NFO texts of a movie: {path in library: sha256}.
NFO_FIELD = "nfo_sha256"
# Fields whose JSON value holds hashes of cached files.
HASH_FIELDS = ("cast", NFO_FIELD)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_BATCH = 1000


def referenced_hashes(conn: Connection) -> set[str]:
    """Every sha256 the database refers to (see the module docstring)."""
    found: set[str] = set()
    rows = conn.execution_options(yield_per=_BATCH).execute(
        select(ASSETS.c.sha256).where(ASSETS.c.sha256.is_not(None))
    )
    found.update(str(sha) for (sha,) in rows)
    rows = conn.execution_options(yield_per=_BATCH).execute(select(PUBLISHED.c.sha256).distinct())
    found.update(str(sha) for (sha,) in rows)
    rows = conn.execution_options(yield_per=_BATCH).execute(
        select(FIELDS.c.field, FIELDS.c.value).where(FIELDS.c.field.in_(HASH_FIELDS))
    )
    for name, value in rows:
        found.update(_field_hashes(name, value))
    return {sha for sha in found if _SHA256.fullmatch(sha)}


def _field_hashes(name: str, value: Any) -> Iterator[str]:
    if isinstance(value, str | bytes):  # drivers that hand JSON back as text
        try:
            value = json.loads(value)
        except ValueError:
            return
    if name == "cast" and isinstance(value, list):
        for actor in value:
            if isinstance(actor, dict) and isinstance(actor.get("thumb_sha256"), str):
                yield actor["thumb_sha256"]
    elif isinstance(value, dict):
        yield from (v for v in value.values() if isinstance(v, str))
