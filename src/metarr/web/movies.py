"""Movies: the searchable, filterable list and the movie page."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from metarr.domain.errors import InvalidInput, NotFound
from metarr.domain.media import ArtworkType, MovieStatus
from metarr.services.browse import MoviePage, MovieQuery
from metarr.web.deps import is_htmx, row_id, services
from metarr.web.movie_edit import editor_context
from metarr.web.rendering import not_found, render
from metarr.web.session import require_login

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_login)])

PAGE_SIZE = 50
# The artwork columns of the list, in the order Kodi users know them.
ARTWORK_COLUMNS: tuple[tuple[str, str, str], ...] = (
    (ArtworkType.POSTER.value, "P", "Poster"),
    (ArtworkType.FANART.value, "F", "Fanart"),
    (ArtworkType.BANNER.value, "B", "Banner"),
    (ArtworkType.CLEARLOGO.value, "L", "Clear logo"),
    (ArtworkType.CLEARART.value, "A", "Clear art"),
    (ArtworkType.DISCART.value, "D", "Disc art"),
    (ArtworkType.LANDSCAPE.value, "T", "Landscape (thumb)"),
    (ArtworkType.KEYART.value, "K", "Key art"),
)
SORTS = (("title", "Title"), ("year", "Year"), ("added", "Added"))
STATUSES = tuple(s.value for s in MovieStatus)


@dataclass(frozen=True, slots=True)
class MovieFilters:
    """The list's query string, parsed leniently (a bad value is dropped, not an error)."""

    q: str = ""
    library: int | None = None
    status: str = ""
    missing: str = ""
    sort: str = "title"
    desc: bool = False
    page: int = 1

    @classmethod
    def parse(cls, params: Any) -> MovieFilters:
        """Read the filters from query parameters."""
        library = params.get("library", "")
        status = params.get("status", "")
        missing = params.get("missing", "")
        sort = params.get("sort", "title")
        page = params.get("page", "1")
        return cls(
            q=params.get("q", "").strip()[:200],
            library=int(library) if library.isdigit() and len(library) < 19 else None,
            status=status if status in STATUSES else "",
            missing=missing if missing in {c[0] for c in ARTWORK_COLUMNS} else "",
            sort=sort if sort in {s for s, _ in SORTS} else "title",
            desc=params.get("order", "") == "desc",
            page=max(1, min(int(page), 1_000_000)) if page.isdigit() else 1,
        )

    def query(self) -> MovieQuery:
        """The BrowseService query for this page."""
        return MovieQuery(
            library_id=self.library,
            status=self.status or None,
            q=self.q or None,
            missing=self.missing or None,
            sort=self.sort,
            desc=self.desc,
            limit=PAGE_SIZE,
            offset=(self.page - 1) * PAGE_SIZE,
        )

    def url(self, **changes: Any) -> str:
        """The list URL with these filters, some changed (page resets unless given)."""
        f = replace(self, **{"page": 1, **changes})
        params: dict[str, str | int] = {}
        if f.q:
            params["q"] = f.q
        if f.library is not None:
            params["library"] = f.library
        if f.status:
            params["status"] = f.status
        if f.missing:
            params["missing"] = f.missing
        if f.sort != "title":
            params["sort"] = f.sort
        if f.desc:
            params["order"] = "desc"
        if f.page > 1:
            params["page"] = f.page
        return "/movies" + ("?" + urlencode(params) if params else "")

    def sort_url(self, column: str) -> str:
        """Sort by `column`; clicking the current sort column flips the direction."""
        return self.url(sort=column, desc=not self.desc if column == self.sort else False)


@router.get("/movies")
def movies_page(request: Request) -> HTMLResponse:
    """The movies list; HTMX (search, filters, paging, sorting) gets only the table."""
    svc = services(request)
    filters = MovieFilters.parse(request.query_params)
    error = None
    try:
        result = svc.browse.movies(filters.query())
    except InvalidInput as exc:
        result, error = MoviePage([], 0), str(exc)
    pages = max(1, -(-result.total // PAGE_SIZE))
    context: dict[str, Any] = {
        "filters": filters,
        "result": result,
        "pages": pages,
        "error": error,
        "artwork_columns": ARTWORK_COLUMNS,
        "sorts": SORTS,
        "statuses": STATUSES,
    }
    if not is_htmx(request):
        context["libraries"] = svc.libraries.list()
        return render(request, "movies.html", context)
    # The address bar shows the tidy URL of these filters, not the raw form query.
    return render(
        request,
        "partials/movies_table.html",
        context,
        headers={"HX-Push-Url": filters.url(page=filters.page)},
    )


@router.get("/movies/{movie_id}")
def movie_page(request: Request, movie_id: int) -> HTMLResponse:
    """Everything known about one movie: ids, files, streams, metadata with provenance."""
    svc = services(request)
    try:
        movie = svc.browse.movie(row_id(movie_id, "movie"))
        editor = editor_context(svc, movie)
    except NotFound:
        return not_found(request, f"There is no movie number {movie_id}.")
    context = {"movie": movie, "artwork_columns": ARTWORK_COLUMNS, **editor}
    return render(request, "movie.html", context)
