"""Identity rules: which ids a movie has, and whether a person must review them."""

from __future__ import annotations

from dataclasses import dataclass

from metarr.domain.media import ExternalIds, MovieStatus, NfoDocument

ID_TYPES: tuple[str, ...] = ("tmdb", "imdb", "tvdb")


@dataclass(frozen=True, slots=True)
class IdentityDecision:
    """The ids chosen for a movie, where each came from, and its status."""

    ids: ExternalIds
    sources: dict[str, str]
    status: MovieStatus
    review_reason: str | None = None


def decide_identity(
    *,
    nfos: list[tuple[str, NfoDocument]],
    name_ids: ExternalIds,
    hint_ids: ExternalIds | None = None,
    kept: dict[str, tuple[str, str]] | None = None,
) -> IdentityDecision:
    """Decide a movie's ids in the order of trust of PRODUCT.md §1.2.

    `nfos` are (relative path, document) in NFO precedence order; `hint_ids`
    came from a webhook; `kept` are ids a person or a provider already set
    (`{type: (value, source)}`), which a rescan never overrides. Conflicting ids
    between NFOs (or inside one) give `needs_review`, never a silent pick.
    """
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    reasons: list[str] = []

    for id_type, (value, source) in (kept or {}).items():
        values[id_type] = value
        sources[id_type] = source

    if hint_ids is not None:
        for id_type, value in _pairs(hint_ids):
            if id_type not in values:
                values[id_type] = value
                sources[id_type] = "webhook"

    nfo_values: dict[str, tuple[str, str]] = {}  # type -> (value, nfo path)
    for path, doc in nfos:
        for id_type in doc.conflicts:
            reasons.append(f"{path} gives several {id_type} ids")
        for id_type, value in _pairs(doc.ids):
            seen = nfo_values.get(id_type)
            if seen is None:
                nfo_values[id_type] = (value, path)
            elif seen[0] != value:
                reasons.append(f"{id_type} {seen[0]} in {seen[1]} but {value} in {path}")
    for id_type, (value, _path) in nfo_values.items():
        if id_type not in values:
            values[id_type] = value
            sources[id_type] = "nfo"

    for id_type, value in _pairs(name_ids):
        if id_type not in values:
            values[id_type] = value
            sources[id_type] = "name"

    ids = ExternalIds(
        tmdb=int(values["tmdb"]) if "tmdb" in values else None,
        imdb=values.get("imdb"),
        tvdb=int(values["tvdb"]) if "tvdb" in values else None,
    )
    if reasons:
        status = MovieStatus.NEEDS_REVIEW
    elif ids.tmdb is not None or ids.imdb is not None:
        status = MovieStatus.IDENTIFIED
    else:
        status = MovieStatus.UNIDENTIFIED
    return IdentityDecision(ids, sources, status, "; ".join(reasons) or None)


def _pairs(ids: ExternalIds) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if ids.tmdb is not None:
        out.append(("tmdb", str(ids.tmdb)))
    if ids.imdb is not None:
        out.append(("imdb", ids.imdb))
    if ids.tvdb is not None:
        out.append(("tvdb", str(ids.tvdb)))
    return out
