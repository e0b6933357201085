"""An NFO root element to `MovieInfo`: Kodi's metadata tags, old and new forms."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from metarr.domain.media import Actor, MovieInfo, MovieSet, Rating
from metarr.nfo.ids import parse_numeric_id
from metarr.nfo.values import (
    clean,
    is_true,
    local_name,
    parse_date,
    parse_float,
    parse_int,
    parse_runtime,
    parse_year,
    split_items,
)

# Kodi's name for a rating without a source: the pre-v17 <rating> and a
# <ratings><rating> without name="..." both become "default" in Kodi itself.
LEGACY_RATING_SOURCE = "default"
_DEFAULT_RATING_MAX = 10.0

_LIST_TAGS = {
    "genre": "genres",
    "studio": "studios",
    "country": "countries",
    "tag": "tags",
    "director": "directors",
    "credits": "writers",
    "writer": "writers",  # Jellyfin and old Kodi versions; Kodi itself writes <credits>
}
_SCALAR_TAGS = frozenset(
    {
        "title",
        "originaltitle",
        "sorttitle",
        "year",
        "plot",
        "outline",
        "tagline",
        "runtime",
        "premiered",
        "releasedate",
        "aired",
        "mpaa",
        "rating",
        "votes",
        "userrating",
        "top250",
        "trailer",
    }
)
_DATE_TAGS = ("premiered", "releasedate", "aired")
# Jellyfin lists crew inside <actor> with a <type>; only these are cast.
_CAST_TYPES = frozenset({"actor", "gueststar"})


def read_info(root: Element, collection_id: int | None = None) -> MovieInfo:
    """The metadata held by the direct children of an NFO root (streams are ignored)."""
    scalars: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    actors: list[Element] = []
    ratings: Element | None = None
    movie_set: Element | None = None
    legacy_rating_max: str | None = None
    for child in root:
        tag = local_name(child.tag)
        list_field = _LIST_TAGS.get(tag)
        if list_field is not None:
            if child.text:
                lists.setdefault(list_field, []).append(child.text)
        elif tag == "actor":
            actors.append(child)
        elif tag == "ratings":
            ratings = ratings if ratings is not None else child
        elif tag == "set":
            movie_set = movie_set if movie_set is not None else child
        elif tag in _SCALAR_TAGS and tag not in scalars:
            # The first non-empty element wins: an empty element means "unknown".
            text = clean(child.text)
            if text is not None:
                scalars[tag] = text
                if tag == "rating":
                    legacy_rating_max = child.get("max")

    premiered = next(
        (date for tag in _DATE_TAGS if (date := parse_date(scalars.get(tag))) is not None),
        None,
    )
    year = parse_year(scalars.get("year"))
    if year is None and premiered is not None:
        year = int(premiered[:4])
    rating_list = _read_ratings(ratings) if ratings is not None else []
    if not rating_list:
        legacy = _legacy_rating(scalars, legacy_rating_max)
        rating_list = [legacy] if legacy is not None else []
    userrating = parse_float(scalars.get("userrating"))
    top250 = parse_int(scalars.get("top250"))
    return MovieInfo(
        title=scalars.get("title"),
        original_title=scalars.get("originaltitle"),
        sort_title=scalars.get("sorttitle"),
        year=year,
        plot=scalars.get("plot"),
        outline=scalars.get("outline"),
        tagline=scalars.get("tagline"),
        runtime=parse_runtime(scalars.get("runtime")),
        premiered=premiered,
        # Kept exactly as written (trimmed): "Rated PG-13", "US:PG-13", "Australia:M".
        # The country prefix and "Rated " are Kodi's own conventions and the writer must
        # be able to round-trip them; interpreting them belongs to the merge rules.
        certification=scalars.get("mpaa"),
        genres=split_items(lists.get("genres", ())),
        studios=split_items(lists.get("studios", ())),
        countries=split_items(lists.get("countries", ())),
        tags=split_items(lists.get("tags", ())),
        directors=split_items(lists.get("directors", ())),
        writers=split_items(lists.get("writers", ())),
        cast=_read_cast(actors),
        ratings=rating_list,
        set=_read_set(movie_set, collection_id),
        # Kodi writes 0 for "not rated" / "not in the top 250".
        userrating=userrating if userrating is not None and 0 < userrating <= 10 else None,
        top250=top250 if top250 is not None and top250 > 0 else None,
        trailer=scalars.get("trailer"),
    )


def _child_texts(element: Element) -> dict[str, str]:
    texts: dict[str, str] = {}
    for child in element:
        tag = local_name(child.tag)
        if tag not in texts:
            text = clean(child.text)
            if text is not None:
                texts[tag] = text
    return texts


def _rating(
    source: str, value_text: str | None, votes_text: str | None, max_text: str | None, default: bool
) -> Rating | None:
    value = parse_float(value_text)
    maximum = parse_float(max_text)
    if maximum is None or maximum <= 0:
        maximum = _DEFAULT_RATING_MAX
    # Kodi drops ratings of 0 ("no rating") and values above the scale.
    if value is None or not 0 < value <= maximum:
        return None
    votes = parse_int(votes_text)
    return Rating(
        source=source,
        value=value,
        votes=votes if votes is not None and votes >= 0 else None,
        max=maximum,
        default=default,
    )


def _read_ratings(ratings: Element) -> list[Rating]:
    found: list[Rating] = []
    sources: set[str] = set()
    has_default = False
    for element in ratings:
        if local_name(element.tag) != "rating":
            continue
        source = clean(element.get("name")) or LEGACY_RATING_SOURCE
        if source in sources:
            continue
        texts = _child_texts(element)
        # Only one rating can be the default; when several claim it, the first keeps it.
        default = is_true(element.get("default")) and not has_default
        rating = _rating(
            source, texts.get("value"), texts.get("votes"), element.get("max"), default
        )
        if rating is not None:
            sources.add(source)
            has_default = has_default or rating.default
            found.append(rating)
    return found


def _legacy_rating(scalars: dict[str, str], max_text: str | None) -> Rating | None:
    # Pre-v17 <rating>7.5</rating><votes>1,234</votes>: Kodi makes it the default rating.
    if "rating" not in scalars:
        return None
    return _rating(LEGACY_RATING_SOURCE, scalars["rating"], scalars.get("votes"), max_text, True)


def _read_cast(actors: list[Element]) -> list[Actor]:
    cast: list[Actor] = []
    seen: set[tuple[str, str | None]] = set()
    for element in actors:
        texts = _child_texts(element)
        name = texts.get("name")
        if name is None:
            continue
        person_type = texts.get("type")
        if person_type is not None and person_type.lower() not in _CAST_TYPES:
            continue
        role = texts.get("role")
        if (name, role) in seen:
            continue
        seen.add((name, role))
        order = parse_int(texts.get("order"))
        if order is None or order < 0:
            order = parse_int(texts.get("sortorder"))  # Jellyfin's name for it
        if order is None or order < 0:
            order = len(cast)
        cast.append(Actor(name=name, role=role, order=order, thumb=texts.get("thumb")))
    # Billing order is what <order> means (Kodi sorts by it); the sort is stable, so
    # equal orders keep the file's sequence.
    cast.sort(key=lambda actor: actor.order if actor.order is not None else 0)
    return cast


def _read_set(element: Element | None, collection_id: int | None) -> MovieSet | None:
    if element is None:
        return None
    if len(element):
        # Kodi v16+: <set><name/><overview/></set>; no name, no set (as in Kodi).
        texts = _child_texts(element)
        name, overview = texts.get("name"), texts.get("overview")
    else:
        name, overview = clean(element.text), None  # pre-v16 <set>Name</set>
    if name is None:
        return None
    tmdb = parse_numeric_id(element.get("tmdbcolid"))
    return MovieSet(name=name, overview=overview, tmdb=tmdb if tmdb is not None else collection_id)
