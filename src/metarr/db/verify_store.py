"""The SQL of verification: runs and findings, and what they check against (movie
layouts, unknown files, selected hashes, cache checks, candidate URLs)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from metarr.db.tables import Base, MediaFileRow, MovieRow
from metarr.db.tables_assets import AssetCandidateRow
from metarr.db.tables_publish import CacheCheckRow, VerificationFindingRow, VerificationRunRow

_tables = Base.metadata.tables
MOVIES = _tables[MovieRow.__tablename__]
FILES = _tables[MediaFileRow.__tablename__]
ASSETS = _tables[AssetCandidateRow.__tablename__]
RUNS = _tables[VerificationRunRow.__tablename__]
FINDINGS = _tables[VerificationFindingRow.__tablename__]
CACHE_CHECKS = _tables[CacheCheckRow.__tablename__]

CHUNK = 500  # values per IN (...) list


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def start_run(
    conn: Connection,
    library_id: int,
    movie_id: int | None,
    job_id: int | None,
    repair: bool,
    now: datetime,
) -> int:
    """A running verification; returns its id."""
    new_id = conn.execute(
        insert(RUNS)
        .values(
            library_id=library_id,
            movie_id=movie_id,
            job_id=job_id,
            status="running",
            repair=repair,
            stats={},
            started_at=now,
        )
        .returning(RUNS.c.id)
    ).scalar_one()
    return int(new_id)


def finish_run(
    conn: Connection,
    run_id: int,
    status: str,
    stats: dict[str, Any],
    findings: Sequence[dict[str, Any]],
    now: datetime,
    error: str | None = None,
) -> None:
    """Close a verification with its counters and findings."""
    conn.execute(
        update(RUNS)
        .where(RUNS.c.id == run_id)
        .values(status=status, stats=stats, finished_at=now, error=error)
    )
    if findings:
        conn.execute(insert(FINDINGS), [{"run_id": run_id, **f} for f in findings])


def verification_runs(
    conn: Connection,
    *,
    library_id: int | None = None,
    movie_id: int | None = None,
    limit: int = 10,
    findings_limit: int = 1000,
) -> list[dict[str, Any]]:
    """The newest verification runs with their findings (capped per run)."""
    where = []
    if library_id is not None:
        where.append(RUNS.c.library_id == library_id)
    if movie_id is not None:
        where.append(RUNS.c.movie_id == movie_id)
    runs = conn.execute(select(RUNS).where(*where).order_by(RUNS.c.id.desc()).limit(limit)).all()
    out: list[dict[str, Any]] = []
    for r in runs:
        total = conn.scalar(
            select(func.count()).select_from(FINDINGS).where(FINDINGS.c.run_id == r.id)
        )
        findings = conn.execute(
            select(FINDINGS)
            .where(FINDINGS.c.run_id == r.id)
            .order_by(FINDINGS.c.id)
            .limit(findings_limit)
        )
        out.append(
            {
                "id": r.id,
                "library_id": r.library_id,
                "movie_id": r.movie_id,
                "job_id": r.job_id,
                "status": r.status,
                "repair": r.repair,
                "stats": r.stats,
                "error": r.error,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "findings_total": int(total or 0),
                "findings": [
                    {
                        "movie_id": f.movie_id,
                        "kind": f.kind,
                        "path": f.path,
                        "detail": f.detail,
                        "repaired": f.repaired,
                        "repair": f.repair,
                    }
                    for f in findings
                ],
            }
        )
    return out


def unknown_files(
    conn: Connection, movie_ids: Sequence[int], *, library_id: int | None = None
) -> dict[int, list[str]]:
    """Files the last scan could not classify, per movie (all of a library's with `library_id`)."""
    out: dict[int, list[str]] = defaultdict(list)
    query = select(FILES.c.movie_id, FILES.c.path).where(
        FILES.c.kind == "unknown", FILES.c.movie_id.is_not(None)
    )
    if library_id is not None:
        for movie_id, path in conn.execute(query.where(FILES.c.library_id == library_id)):
            out[movie_id].append(path)
        return out
    for chunk in _chunks(list(movie_ids)):
        for movie_id, path in conn.execute(query.where(FILES.c.movie_id.in_(chunk))):
            out[movie_id].append(path)
    return out


def candidate_urls(conn: Connection, shas: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """(url, provider) of candidates whose cached file has one of these hashes."""
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for chunk in _chunks(sorted(set(shas))):
        for r in conn.execute(
            select(ASSETS.c.sha256, ASSETS.c.url, ASSETS.c.provider).where(
                ASSETS.c.sha256.in_(chunk)
            )
        ):
            if (r.url, r.provider) not in out[r.sha256]:
                out[r.sha256].append((r.url, r.provider))
    return out


def selected_hashes(
    conn: Connection, movie_ids: Sequence[int], *, library_id: int | None = None
) -> set[str]:
    """Hashes of the selected artwork of these movies (of a whole library with `library_id`)."""
    query = select(ASSETS.c.sha256).where(ASSETS.c.selected.is_(True), ASSETS.c.sha256.is_not(None))
    if library_id is not None:
        movies = select(MOVIES.c.id).where(
            MOVIES.c.library_id == library_id, MOVIES.c.deleted_at.is_(None)
        )
        return set(conn.scalars(query.where(ASSETS.c.movie_id.in_(movies))))
    out: set[str] = set()
    for chunk in _chunks(list(movie_ids)):
        out.update(conn.scalars(query.where(ASSETS.c.movie_id.in_(chunk))))
    return out


def load_cache_checks(conn: Connection, shas: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of cache files when their bytes last matched their hash."""
    wanted = set(shas)
    columns = (CACHE_CHECKS.c.sha256, CACHE_CHECKS.c.size, CACHE_CHECKS.c.mtime_ns)
    if len(wanted) > 4 * CHUNK:  # many: one pass over the table beats long IN lists
        return {
            sha: (size, mtime_ns)
            for sha, size, mtime_ns in conn.execute(select(*columns))
            if sha in wanted
        }
    out: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(sorted(wanted)):
        for sha, size, mtime_ns in conn.execute(
            select(*columns).where(CACHE_CHECKS.c.sha256.in_(chunk))
        ):
            out[sha] = (size, mtime_ns)
    return out


def save_cache_checks(conn: Connection, checks: dict[str, tuple[int, int]], now: datetime) -> None:
    """Remember cache files found intact (replacing older checks)."""
    shas = sorted(checks)
    for chunk in _chunks(shas):
        conn.execute(delete(CACHE_CHECKS).where(CACHE_CHECKS.c.sha256.in_(chunk)))
    if shas:
        conn.execute(
            insert(CACHE_CHECKS),
            [
                {"sha256": s, "size": checks[s][0], "mtime_ns": checks[s][1], "checked_at": now}
                for s in shas
            ],
        )


@dataclass(frozen=True, slots=True)
class MovieLayoutRow:
    """Where a movie lives (for verification)."""

    id: int
    key: str
    folder: str
    basename: str | None
    disc: str | None


def movie_layouts(
    conn: Connection, library_id: int, movie_id: int | None = None
) -> list[MovieLayoutRow]:
    """The library's movies (not deleted), or one movie, with their folder and basename."""
    query = select(
        MOVIES.c.id, MOVIES.c.key, MOVIES.c.folder, MOVIES.c.basename, MOVIES.c.disc
    ).where(MOVIES.c.library_id == library_id, MOVIES.c.deleted_at.is_(None))
    if movie_id is not None:
        query = query.where(MOVIES.c.id == movie_id)
    return [
        MovieLayoutRow(r.id, r.key, r.folder, r.basename, r.disc)
        for r in conn.execute(query.order_by(MOVIES.c.id))
    ]
