"""Artwork selection rules: ranking stored candidates and the walk that picks them.

Pure decisions over what is already known (no I/O): `pipeline.artwork` downloads
and checks what `walk` asks for, wave after wave, and records what it picked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from metarr.db import candidate_store
from metarr.domain import assets
from metarr.media.images import is_near_duplicate

# Collection (Kodi movie set) artwork, stored as candidates of each movie of the set;
# ranked, checked and limited like the movie type it mirrors.
SET_TYPES: Mapping[str, str] = {"set.poster": "poster", "set.fanart": "fanart"}


def base_type(kind: str) -> str:
    """The artwork type a stored type is ranked and checked as (`set.poster` -> `poster`)."""
    return SET_TYPES.get(kind, kind)


class ArtworkOptions(Protocol):
    """What selection needs of `EnrichOptions` (read anew for every movie)."""

    @property
    def limits(self) -> Mapping[str, int]: ...

    @property
    def max_bytes(self) -> int: ...

    @property
    def provider_order(self) -> tuple[str, ...]: ...

    @property
    def extra_tries(self) -> int: ...


@dataclass(slots=True)
class Fetched:
    """What became of one candidate: bytes to cache, a reused file, or why not."""

    data: bytes | None = None
    ext: str | None = None
    sha256: str | None = None  # already in the cache (reused by URL)
    fingerprint: int | None = None
    rejected: str | None = None  # invalid_image | too_large | near_duplicate: remembered
    failed: bool = False  # the download failed: tried again next time

    @property
    def usable(self) -> bool:
        """True when the image may be picked."""
        return self.rejected is None and not self.failed


@dataclass(slots=True)
class TypeJob:
    """Everything selection of one type needs, read in the job thread."""

    kind: str
    ranked: list[candidate_store.StoredCandidate]
    of_type: list[candidate_store.StoredCandidate]
    limit: int
    budget: int
    kept: set[int]  # automatic picks whose file is in the cache
    reuse: dict[str, str] = field(default_factory=dict)  # URL -> cached sha256

    @property
    def user(self) -> list[candidate_store.StoredCandidate]:
        """A person's picks (never dropped, never re-examined)."""
        return [c for c in self.of_type if c.selected and c.selected_by == "user"]


@dataclass(slots=True)
class TypePlan:
    """The outcome of one type: what stays, what is new, what is rejected for good."""

    job: TypeJob
    keep: list[candidate_store.StoredCandidate]
    new: list[tuple[candidate_store.StoredCandidate, str]]  # candidate, sha256
    rejected: list[tuple[int, str]]  # candidate id, reason


def walk(
    job: TypeJob, outcomes: Mapping[int, Fetched], prints: Mapping[str, int]
) -> tuple[
    list[tuple[candidate_store.StoredCandidate, Fetched | None]],
    list[candidate_store.StoredCandidate],
]:
    """Selection in rank order over what is known so far.

    Returns the picks (None: kept from before) and the candidates still to fetch:
    those that would fill the open slots if every one of them passed. When that
    list is empty the picks are final. A candidate after an unfetched one is not
    decided yet (near-duplicates are judged against the better picks first).
    """
    fingerprints = [prints[c.sha256] for c in job.user if c.sha256 and c.sha256 in prints]
    taken = len(job.user)
    picks: list[tuple[candidate_store.StoredCandidate, Fetched | None]] = []
    unknown: list[candidate_store.StoredCandidate] = []
    pending = examined = 0
    for cand in job.ranked:
        if taken + len(picks) + pending >= job.limit or examined >= job.budget:
            break
        if cand.selected_by == "user":
            continue
        examined += 1
        if cand.rejected:
            continue
        if cand.id in job.kept:
            if pending:
                pending += 1
                continue
            picks.append((cand, None))
            if cand.sha256 and cand.sha256 in prints:
                fingerprints.append(prints[cand.sha256])
            continue
        outcome = outcomes.get(cand.id)
        if outcome is None:
            unknown.append(cand)
            pending += 1
            continue
        if not outcome.usable:
            continue
        if pending:
            pending += 1
            continue
        if outcome.fingerprint is not None:
            if any(is_near_duplicate(outcome.fingerprint, f) for f in fingerprints):
                outcome.rejected = "near_duplicate"
                continue
            fingerprints.append(outcome.fingerprint)
        picks.append((cand, outcome))
    return picks, unknown


def rank_stored(
    stored: Iterable[candidate_store.StoredCandidate],
    preferred_language: str | None,
    options: ArtworkOptions,
) -> dict[str, list[candidate_store.StoredCandidate]]:
    """Per stored type, its candidates best first (each type ranked on its own)."""
    groups: dict[str, list[candidate_store.StoredCandidate]] = {}
    for c in stored:
        groups.setdefault(c.type, []).append(c)
    out: dict[str, list[candidate_store.StoredCandidate]] = {}
    for kind in sorted(groups):
        rank_as = base_type(kind)
        if rank_as not in assets.IDEAL_SIZES:
            continue
        by_url = {c.url: c for c in groups[kind]}
        ranked = assets.rank(
            (as_ranked(c, rank_as) for c in groups[kind]),
            preferred_language=preferred_language,
            provider_order=options.provider_order,
        )
        out[kind] = [by_url[c.url] for c, _ in ranked]
    return out


def as_ranked(c: candidate_store.StoredCandidate, kind: str | None = None) -> assets.Candidate:
    """A stored candidate in the ranking's terms (as type `kind` when given)."""
    return assets.Candidate(
        type=kind or c.type,
        url=c.url,
        provider=c.provider,
        width=c.width,
        height=c.height,
        language=c.language,
        votes=c.votes,
        vote_average=c.vote_average,
        blocked=c.blocked,
        sha256=c.sha256,
    )
