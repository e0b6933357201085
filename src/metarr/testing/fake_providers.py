"""A fake TMDB v3, fanart.tv v3 and OMDb on 127.0.0.1, for tests and benchmarks.

It is a real threaded HTTP server. It replays recorded payloads from a fixtures
directory (`tmdb/*.json`, `fanart/*.json`, as in `tests/fixtures/`), generates
deterministic movies for any other id (so a 1,000-movie benchmark can run), serves
image bytes of the dimensions the payloads claim, and misbehaves on demand::

    with FakeProviderServer(FIXTURES) as fake:
        fake.tmdb.rate_limit = 20        # 429 + Retry-After above 20 requests/s
        fake.tmdb.latency = 0.5          # slow answers
        fake.tmdb.fail(3)                # the next 3 requests answer 503
        fake.image_latency = 0.2         # a slow image host
        fake.missing_tmdb_ids.add(42)    # 404 for this id
        config = ProviderConfig.for_provider(
            "tmdb", api_key=fake.tmdb_key, base_url=fake.tmdb_base_url)
        ...
        assert fake.requests_to("tmdb", "/3/movie/") == ...

Paths: TMDB `/3/...` (search/movie, movie/{id} with append_to_response, find/{imdb},
collection/{id}, configuration, movie/changes), fanart.tv `/v3/movies/{id}`, OMDb
`/?i=tt...&apikey=...`, TMDB images `/t/p/{size}/{file}`, fanart.tv images
`/fanart-assets/...`. Generated movies have ids 1..99,999,999 (except recorded ones
and `missing_tmdb_ids`) and IMDb ids `tt9xxxxxxx` (`generated_imdb_id`); every fourth
belongs to a generated collection (`5_000_000 + id // 100`, with images on
`append_to_response=images`) and has one official YouTube trailer.

Images show one of `PATTERNS` pictures (distinct perceptual hashes) with the path
embedded, so every path has its own bytes; `warm()` draws them ahead of a benchmark.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import re
import threading
import time
import zlib
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image

from metarr.testing.http_server import LoopbackHandler, LoopbackServer

JSON = dict[str, Any]

TMDB_KEY = "0123456789abcdef0123456789abcdef"  # shaped like a v3 key
# a fake v4 read access token (JWT shape)
TMDB_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJtZXRhcnItZmFrZSJ9.c2lnbmF0dXJl"  # noqa: S105
FANART_KEY = "fanart0123456789abcdef0123456789"
OMDB_KEY = "omdb1234"

MAX_GENERATED_ID = 99_999_999
GENERATED_COLLECTION_BASE = 5_000_000

# Bodies of TMDB errors (recorded; the 429 one is constructed from TMDB's error
# table). Replaced by tmdb/error_*.json when the fixtures directory has them.
TMDB_ERRORS: dict[int, JSON] = {
    401: {
        "status_message": "Invalid API key: You must be granted a valid key.",
        "success": False,
        "status_code": 7,
    },
    404: {"status_message": "The resource you requested could not be found.", "status_code": 34},
    422: {"errors": ["query must be provided"]},
    429: {
        "success": False,
        "status_code": 25,
        "status_message": "Your request count (#) is over the allowed limit of (40).",
    },
}
TMDB_5XX: JSON = {
    "success": False,
    "status_code": 11,
    "status_message": "Internal error: Something went wrong, contact TMDB.",
}

APPENDABLE = frozenset(
    {
        "alternative_titles",
        "changes",
        "credits",
        "external_ids",
        "images",
        "keywords",
        "lists",
        "recommendations",
        "release_dates",
        "releases",
        "reviews",
        "similar",
        "similar_movies",
        "trailers",
        "translations",
        "videos",
        "watch/providers",
    }
)

# fanart.tv type -> the size its upload rules impose
FANART_SIZES: dict[str, tuple[int, int]] = {
    "hdmovielogo": (800, 310),
    "movielogo": (400, 155),
    "hdmovieclearart": (1000, 562),
    "movieart": (500, 281),
    "moviedisc": (1000, 1000),
    "moviebanner": (1000, 185),
    "moviethumb": (1000, 562),
    "movieposter": (1000, 1426),
    "moviebackground": (1920, 1080),
    "movie4kbackground": (3840, 2160),
}

# The Riddick collection, constructed from public TMDB data (no recording exists).
RIDDICK_COLLECTION: JSON = {
    "id": 2794,
    "name": "The Chronicles of Riddick Collection",
    "overview": "Science fiction films following the escaped convict Richard B. Riddick.",
    "poster_path": "/4R2zrqk9KzgxU9UDH3yUUsENXR.jpg",
    "backdrop_path": "/xb5zyHecWA7UACdiNPXDA3m5HSY.jpg",
    "parts": [
        {
            "id": 2787,
            "title": "Pitch Black",
            "original_title": "Pitch Black",
            "release_date": "2000-02-18",
            "poster_path": "/3AnlxZ5CZnhKIwjiAtUGGd4hyXg.jpg",
            "popularity": 30.1,
            "original_language": "en",
            "overview": "",
        },
        {
            "id": 2789,
            "title": "The Chronicles of Riddick",
            "original_title": "The Chronicles of Riddick",
            "release_date": "2004-06-11",
            "poster_path": "/xXtyOkmM9Ns4t6V2mJL9kgVaaqp.jpg",
            "popularity": 28.4,
            "original_language": "en",
            "overview": "",
        },
        {
            "id": 87421,
            "title": "Riddick",
            "original_title": "Riddick",
            "release_date": "2013-09-06",
            "poster_path": "/1NfhdnQAEqcBRCulEhOFSkRrrLv.jpg",
            "popularity": 25.2,
            "original_language": "en",
            "overview": "",
        },
    ],
}

# OMDb answers for the recorded movies, constructed in OMDb's documented shape.
OMDB_KNOWN: dict[str, JSON] = {
    "tt0137523": {
        "Title": "Fight Club",
        "Year": "1999",
        "Rated": "R",
        "Runtime": "139 min",
        "Ratings": [
            {"Source": "Internet Movie Database", "Value": "8.8/10"},
            {"Source": "Rotten Tomatoes", "Value": "79%"},
            {"Source": "Metacritic", "Value": "67/100"},
        ],
        "Metascore": "67",
        "imdbRating": "8.8",
        "imdbVotes": "2,455,214",
        "imdbID": "tt0137523",
        "Type": "movie",
        "Response": "True",
    },
    "tt1411250": {
        "Title": "Riddick",
        "Year": "2013",
        "Rated": "R",
        "Runtime": "119 min",
        "Ratings": [
            {"Source": "Internet Movie Database", "Value": "6.4/10"},
            {"Source": "Rotten Tomatoes", "Value": "57%"},
            {"Source": "Metacritic", "Value": "49/100"},
        ],
        "Metascore": "49",
        "imdbRating": "6.4",
        "imdbVotes": "174,950",
        "imdbID": "tt1411250",
        "Type": "movie",
        "Response": "True",
    },
}

_WORDS_A = (
    "Silent",
    "Crimson",
    "Last",
    "Hidden",
    "Broken",
    "Golden",
    "Distant",
    "Frozen",
    "Electric",
    "Midnight",
    "Paper",
    "Iron",
    "Velvet",
    "Hollow",
    "Burning",
)
_WORDS_B = (
    "Harbor",
    "Signal",
    "Garden",
    "Empire",
    "River",
    "Voyage",
    "Mirror",
    "Protocol",
    "Orchard",
    "Frontier",
    "Lantern",
    "Circuit",
    "Summer",
    "Kingdom",
    "Witness",
)
_FIRST = (
    "Ada",
    "Bruno",
    "Chloe",
    "Dmitri",
    "Elena",
    "Farid",
    "Greta",
    "Hiro",
    "Ines",
    "Jonas",
    "Kemi",
    "Luca",
    "Mira",
    "Nils",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
)
_LAST = (
    "Almeida",
    "Berg",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
)
_GENRES = (
    (28, "Action"),
    (12, "Adventure"),
    (35, "Comedy"),
    (80, "Crime"),
    (18, "Drama"),
    (14, "Fantasy"),
    (27, "Horror"),
    (9648, "Mystery"),
    (878, "Science Fiction"),
    (53, "Thriller"),
)
_IMAGE_LANGS = (None, None, "en", "en", "de", "fr", "ja", "xx")
_CERTS = {
    "US": ("G", "PG", "PG-13", "R"),
    "DE": ("0", "6", "12", "16", "18"),
    "GB": ("U", "PG", "12A", "15", "18"),
}


# IMDb ids of recorded /find answers (the recordings do not carry them).
RECORDED_FIND_IMDB = {"tt0499549": 19995}  # Avatar


def generated_imdb_id(tmdb_id: int) -> str:
    """The IMDb id the fake gives generated movie `tmdb_id` (tt9 + 8 digits)."""
    return f"tt9{tmdb_id:08d}"


def _generated_tmdb_id(imdb_id: str) -> int | None:
    match = re.fullmatch(r"tt9(\d{8})", imdb_id)
    return int(match.group(1)) if match else None


@dataclass
class ServiceKnobs:
    """How one fake service behaves; change fields at any time (thread-safe enough)."""

    valid_keys: set[str]
    rate_limit: int | None = None  # max requests per `window` seconds, sliding
    window: float = 1.0
    latency: float = 0.0  # seconds before answering
    fail_next: int = 0  # the next N requests answer `fail_status`
    fail_status: int = 503
    hits: deque[float] = field(default_factory=deque, repr=False)

    def fail(self, count: int, status: int = 503) -> None:
        """Make the next `count` requests fail with `status` (a 5xx burst)."""
        self.fail_next, self.fail_status = count, status


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake received."""

    service: str  # "tmdb" | "fanart" | "omdb" | "images" | "unknown"
    method: str
    path: str
    query: dict[str, str]
    at: float  # time.monotonic()
    status: int
    bearer: bool = False


# -- HTTP handler -----------------------------------------------------------------------


class _Handler(LoopbackHandler):
    server_version = "FakeProviders/1.0"
    server_fake: FakeProviderServer

    def do_GET(self) -> None:
        fake = self.server_fake
        path, query = self.split_path()
        bearer = self.headers.get("Authorization", "").startswith("Bearer ")
        if path.startswith("/3/"):
            self._service("tmdb", fake.tmdb, path, query, lambda: fake._tmdb(path, query))
        elif path.startswith("/v3/"):
            self._service("fanart", fake.fanart, path, query, lambda: fake._fanart(path))
        elif path in ("/", "") and ("i" in query or "t" in query):
            self._service("omdb", fake.omdb, path, query, lambda: fake._omdb(query))
        else:
            arrived = time.monotonic()
            image = fake.image(path)
            status = 200 if image is not None else 404
            fake._record(RecordedRequest("images", "GET", path, query, arrived, status, bearer))
            if fake.image_latency > 0:
                time.sleep(fake.image_latency)
            if image is None:
                self.send(404, b"not found", "text/plain")
            else:
                self.send(200, image[0], image[1])

    def _service(
        self,
        service: str,
        knobs: ServiceKnobs,
        path: str,
        query: dict[str, str],
        route: Callable[[], tuple[int, Any]],
    ) -> None:
        fake = self.server_fake
        arrived = time.monotonic()
        auth_header = self.headers.get("Authorization", "")
        headers: dict[str, str] = {}
        status, body = self._gate(service, knobs, query, auth_header, arrived, headers)
        if status == 0:
            status, body = route()
        fake._record(
            RecordedRequest(
                service,
                "GET",
                path,
                query,
                arrived,
                status,
                auth_header.startswith("Bearer "),
            )
        )
        if knobs.latency > 0:
            time.sleep(knobs.latency)
        self.send(status, json.dumps(body).encode(), "application/json;charset=utf-8", headers)

    def _gate(
        self,
        service: str,
        knobs: ServiceKnobs,
        query: dict[str, str],
        auth_header: str,
        now: float,
        headers: dict[str, str],
    ) -> tuple[int, Any]:
        """Failure burst, rate limit, then key check; (0, None) means "route it"."""
        fake = self.server_fake
        with fake._lock:
            if knobs.fail_next > 0:
                knobs.fail_next -= 1
                return knobs.fail_status, _failure_body(service)
            if knobs.rate_limit is not None:
                while knobs.hits and knobs.hits[0] <= now - knobs.window:
                    knobs.hits.popleft()
                if len(knobs.hits) >= knobs.rate_limit:
                    wait = knobs.hits[0] + knobs.window - now
                    headers["Retry-After"] = str(max(1, math.ceil(wait)))
                    return 429, _rate_limited_body(service, fake)
                knobs.hits.append(now)
        if service == "tmdb":
            token = auth_header.removeprefix("Bearer ") if auth_header.startswith("Bearer ") else ""
            if query.get("api_key") not in knobs.valid_keys and token not in knobs.valid_keys:
                return 401, fake.tmdb_errors[401]
        elif service == "fanart":
            if query.get("api_key") not in knobs.valid_keys:
                return 401, {"status": "error", "error message": "Invalid API key"}
        elif service == "omdb":
            key = query.get("apikey")
            if not key:
                return 401, {"Response": "False", "Error": "No API key provided."}
            if key not in knobs.valid_keys:
                return 401, {"Response": "False", "Error": "Invalid API key!"}
        return 0, None


class FakeProviderServer(LoopbackServer[RecordedRequest]):
    """TMDB + fanart.tv + OMDb look-alike on 127.0.0.1 (see the module docstring)."""

    handler = _Handler

    def __init__(
        self,
        fixtures: Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tmdb_keys: tuple[str, ...] = (TMDB_KEY, TMDB_TOKEN),
        fanart_keys: tuple[str, ...] = (FANART_KEY,),
        omdb_keys: tuple[str, ...] = (OMDB_KEY,),
    ) -> None:
        super().__init__(host=host, port=port)
        self.tmdb_key, self.tmdb_token = TMDB_KEY, TMDB_TOKEN
        self.fanart_key, self.omdb_key = FANART_KEY, OMDB_KEY
        self._initial_keys = (set(tmdb_keys), set(fanart_keys), set(omdb_keys))
        self.tmdb = ServiceKnobs(set(tmdb_keys))
        self.fanart = ServiceKnobs(set(fanart_keys))
        self.omdb = ServiceKnobs(set(omdb_keys))
        self.missing_tmdb_ids: set[int] = set()
        self.missing_fanart_ids: set[int] = set()
        self.changed_ids: list[int] | None = None  # None: replay the recorded changes list
        self.image_latency = 0.0  # seconds before an image answer (a slow image host)
        self._images: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._load(fixtures)

    # -- URLs -----------------------------------------------------------------------

    @property
    def tmdb_base_url(self) -> str:
        """What METARR_TMDB_BASE_URL should be."""
        return self.url + "/3"

    @property
    def fanart_base_url(self) -> str:
        """What METARR_FANART_BASE_URL should be."""
        return self.url + "/v3"

    @property
    def omdb_base_url(self) -> str:
        """What METARR_OMDB_BASE_URL should be."""
        return self.url + "/"

    @property
    def image_base_url(self) -> str:
        """TMDB's image base as this fake's /configuration reports it."""
        return self.url + "/t/p/"

    # -- request log ----------------------------------------------------------------

    def requests_to(self, service: str, path_prefix: str = "") -> list[RecordedRequest]:
        """Requests to `service` whose path starts with `path_prefix`."""
        return [r for r in self.requests if r.service == service and r.path.startswith(path_prefix)]

    def reset(self) -> None:
        """Back to good behaviour: default keys, no limits, no latency, no failures, no log."""
        for knobs, keys in zip(
            (self.tmdb, self.fanart, self.omdb), self._initial_keys, strict=True
        ):
            knobs.valid_keys = set(keys)
            knobs.rate_limit, knobs.window, knobs.latency = None, 1.0, 0.0
            knobs.fail_next, knobs.fail_status = 0, 503
            knobs.hits.clear()
        self.missing_tmdb_ids.clear()
        self.missing_fanart_ids.clear()
        self.changed_ids = None
        self.image_latency = 0.0
        self.clear_requests()

    # -- recorded data --------------------------------------------------------------

    def _load(self, fixtures: Path | None) -> None:
        self.tmdb_errors = dict(TMDB_ERRORS)
        self.movies: dict[int, JSON] = {}
        self.searches: dict[str, JSON] = {}
        self.finds: dict[str, JSON] = {}
        self.configuration: JSON = {
            "images": {
                "base_url": "http://image.tmdb.org/t/p/",
                "secure_base_url": "https://image.tmdb.org/t/p/",
                "poster_sizes": ["w92", "w154", "w185", "w342", "w500", "w780", "original"],
                "backdrop_sizes": ["w300", "w780", "w1280", "original"],
                "logo_sizes": ["w45", "w92", "w154", "w185", "w300", "w500", "original"],
                "profile_sizes": ["w45", "w185", "h632", "original"],
            },
            "change_keys": [],
        }
        self.recorded_changes: JSON | None = None
        self.fanart_movies: dict[str, JSON] = {}
        self.image_sizes: dict[str, tuple[int, int]] = {}
        if fixtures is None:
            return
        tmdb, fanart = fixtures / "tmdb", fixtures / "fanart"
        for status, name in (
            (401, "error_401_invalid_api_key.json"),
            (404, "error_404_resource_not_found.json"),
            (422, "error_422_validation_error.json"),
            (429, "error_429_rate_limited.json"),
        ):
            if (tmdb / name).exists():
                self.tmdb_errors[status] = _read(tmdb / name)
        # the fullest recording of each movie wins (append files over plain details)
        for path in sorted(tmdb.glob("movie_*.json"), key=lambda p: p.stat().st_size):
            match = re.fullmatch(r"movie_(\d+)(_append.*)?\.json", path.name)
            if match:
                self.movies[int(match.group(1))] = _read(path)
        for path in tmdb.glob("search_movie_*.json"):
            self.searches[path.stem.removeprefix("search_movie_").replace("_", " ")] = _read(path)
        for path in tmdb.glob("find_imdb_id_*.json"):
            for hit in _read(path).get("movie_results", []):
                self.finds[f"tmdb:{hit['id']}"] = hit
        if (tmdb / "configuration.json").exists():
            self.configuration = _read(tmdb / "configuration.json")
        if (tmdb / "movie_changes.json").exists():
            self.recorded_changes = _read(tmdb / "movie_changes.json")
        for path in fanart.glob("movie_*.json"):
            data = _read(path)
            for key in ("tmdb_id", "imdb_id"):
                if data.get(key):
                    self.fanart_movies[str(data[key])] = data
        for movie in self.movies.values():
            for kind in ("posters", "backdrops", "logos"):
                for image in (movie.get("images") or {}).get(kind, []):
                    self.image_sizes[image["file_path"]] = (
                        int(image["width"]),
                        int(image["height"]),
                    )

    # -- TMDB -----------------------------------------------------------------------

    def tmdb_movie(self, tmdb_id: int) -> JSON | None:
        """The full payload of a movie (recorded or generated), None when unknown."""
        if tmdb_id in self.missing_tmdb_ids or not 0 < tmdb_id <= MAX_GENERATED_ID:
            return None
        if tmdb_id in self.movies:
            return self.movies[tmdb_id]
        return generate_movie(tmdb_id)

    def _imdb_to_tmdb(self, imdb_id: str) -> int | None:
        for tmdb_id, movie in self.movies.items():
            if movie.get("imdb_id") == imdb_id:
                return tmdb_id
        if imdb_id in RECORDED_FIND_IMDB:
            return RECORDED_FIND_IMDB[imdb_id]
        return _generated_tmdb_id(imdb_id)

    def _tmdb(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")[1:]  # drop the "3"
        if parts == ["configuration"]:
            config = json.loads(json.dumps(self.configuration))
            config["images"]["base_url"] = config["images"]["secure_base_url"] = self.image_base_url
            return 200, config
        if parts == ["search", "movie"]:
            return self._search(query)
        if parts == ["movie", "changes"]:
            return 200, self._changes(int(query.get("page", "1") or 1))
        if len(parts) == 2 and parts[0] == "movie" and parts[1].isdigit():
            movie = self.tmdb_movie(int(parts[1]))
            if movie is None:
                return 404, self.tmdb_errors[404]
            return 200, _with_appends(movie, query)
        if len(parts) == 2 and parts[0] == "find":
            return 200, self._find(parts[1])
        if len(parts) == 2 and parts[0] == "collection" and parts[1].isdigit():
            collection = self._collection(int(parts[1]))
            if collection is None:
                return 404, self.tmdb_errors[404]
            return 200, _with_appends(collection, query)
        return 404, self.tmdb_errors[404]

    def _search(self, query: dict[str, str]) -> tuple[int, Any]:
        text = query.get("query", "").strip().casefold()
        if not text:
            return 422, self.tmdb_errors[422]
        year = query.get("year") or query.get("primary_release_year")
        for name, page in self.searches.items():
            if name.casefold() in text or text in name.casefold():
                return 200, page
        hits: list[JSON] = []
        for movie in self.movies.values():
            if text in str(movie.get("title", "")).casefold():
                hits.append(_summary(movie))
        match = re.search(r"(\d+)\s*$", text)
        if match:
            generated = self.tmdb_movie(int(match.group(1)))
            if generated is not None and text in str(generated["title"]).casefold():
                hits.append(_summary(generated))
        if year:
            hits = [h for h in hits if str(h.get("release_date", "")).startswith(year)]
        return 200, {"page": 1, "results": hits, "total_pages": 1, "total_results": len(hits)}

    def _find(self, external_id: str) -> JSON:
        found: JSON = {
            "movie_results": [],
            "person_results": [],
            "tv_results": [],
            "tv_episode_results": [],
            "tv_season_results": [],
        }
        tmdb_id = self._imdb_to_tmdb(external_id)
        if tmdb_id is not None:
            recorded = self.finds.get(f"tmdb:{tmdb_id}")
            movie = self.tmdb_movie(tmdb_id)
            if recorded is not None:
                found["movie_results"] = [recorded]
            elif movie is not None:
                found["movie_results"] = [{**_summary(movie), "media_type": "movie"}]
        return found

    def _collection(self, collection_id: int) -> JSON | None:
        if collection_id == RIDDICK_COLLECTION["id"]:
            return RIDDICK_COLLECTION
        base = collection_id - GENERATED_COLLECTION_BASE
        if not 0 <= base <= MAX_GENERATED_ID // 100:
            return None
        parts = [
            _summary(generate_movie(i))
            for i in range(base * 100, base * 100 + 100)
            if i > 0 and i % 4 == 0
        ]
        first = generate_movie(parts[0]["id"])

        def image(kind: str, n: int, width: int, height: int, lang: str | None) -> JSON:
            return {
                "aspect_ratio": round(width / height, 3),
                "file_path": f"/gc{collection_id}{kind}{n}_{width}x{height}.jpg",
                "width": width,
                "height": height,
                "iso_639_1": lang,
                "vote_average": 5.0 + n,
                "vote_count": 10 - n,
            }

        posters = [image("p", 0, 1000, 1500, "en"), image("p", 1, 2000, 3000, None)]
        backdrops = [image("b", 0, 1920, 1080, None), image("b", 1, 1280, 720, "en")]
        return {
            "id": collection_id,
            "name": f"The {first['title'].rsplit(' ', 1)[0]} Collection",
            "overview": "A generated collection.",
            "poster_path": posters[0]["file_path"],
            "backdrop_path": backdrops[0]["file_path"],
            "parts": parts,
            # only with append_to_response=images (as TMDB)
            "images": {"backdrops": backdrops, "posters": posters, "logos": []},
        }

    def _changes(self, page: int) -> JSON:
        if self.changed_ids is not None:
            ids = self.changed_ids
            total_pages = max(1, math.ceil(len(ids) / 100))
            chunk = ids[(page - 1) * 100 : page * 100]
            return {
                "results": [{"id": i, "adult": False} for i in chunk],
                "page": page,
                "total_pages": total_pages,
                "total_results": len(ids),
            }
        recorded = self.recorded_changes or {"results": [], "total_pages": 1, "total_results": 0}
        if page == 1:
            return recorded
        total_pages = int(recorded.get("total_pages", 1))
        rng = random.Random(page)
        count = 0 if page > total_pages else 100
        return {
            "results": [{"id": rng.randint(1, 1_300_000), "adult": False} for _ in range(count)],
            "page": page,
            "total_pages": total_pages,
            "total_results": recorded.get("total_results", 0),
        }

    # -- fanart.tv ------------------------------------------------------------------

    def _fanart(self, path: str) -> tuple[int, Any]:
        match = re.fullmatch(r"/v3/movies/(\w+)", path)
        if not match:
            return 404, {"status": "error", "error message": "Not found"}
        movie_id = match.group(1)
        data = self.fanart_movies.get(movie_id)
        if data is None:
            tmdb_id = self._imdb_to_tmdb(movie_id) if movie_id.startswith("tt") else None
            if tmdb_id is None and movie_id.isdigit():
                tmdb_id = int(movie_id)
            movie = self.tmdb_movie(tmdb_id) if tmdb_id is not None else None
            if movie is None or tmdb_id in self.missing_fanart_ids:
                return 404, {"status": "error", "error message": "Not found"}
            data = generate_fanart(movie)
        text = json.dumps(data)
        text = re.sub(r"https?://assets\.fanart\.tv", self.url + "/fanart-assets", text)
        return 200, json.loads(text)

    # -- OMDb -----------------------------------------------------------------------

    def _omdb(self, query: dict[str, str]) -> tuple[int, Any]:
        imdb_id = query.get("i", "")
        if imdb_id in OMDB_KNOWN:
            return 200, OMDB_KNOWN[imdb_id]
        tmdb_id = self._imdb_to_tmdb(imdb_id) if imdb_id else None
        movie = self.tmdb_movie(tmdb_id) if tmdb_id is not None else None
        if movie is None:
            return 200, {"Response": "False", "Error": "Incorrect IMDb ID."}
        return 200, generate_omdb(movie, imdb_id)

    # -- images ---------------------------------------------------------------------

    def warm(self, tmdb_ids: list[int]) -> int:
        """Draw, ahead of time, the pictures of these movies' images (and fanart, collections).

        A real image host serves stored files; drawing them is the fake's cost, not
        the client's, so a benchmark warms the fake before it measures. Returns the
        number of image paths visited.
        """
        paths: list[str] = []
        for tmdb_id in tmdb_ids:
            movie = self.tmdb_movie(tmdb_id)
            if movie is None:
                continue
            images = movie.get("images") or {}
            files = [i["file_path"] for kind in images.values() for i in kind]
            files += [c["profile_path"] for c in movie["credits"]["cast"] if c["profile_path"]]
            collection = movie.get("belongs_to_collection")
            found = self._collection(int(collection["id"])) if collection else None
            if found is not None:
                files += [i["file_path"] for kind in found["images"].values() for i in kind]
            paths += [f"/t/p/original{f}" for f in files]
            fanart = self._fanart(f"/v3/movies/{tmdb_id}")[1]
            for items in fanart.values():
                if isinstance(items, list):
                    paths += [urlsplit(i["url"]).path for i in items]
        for path in dict.fromkeys(paths):
            self.image(path)
        return len(paths)

    def image(self, path: str) -> tuple[bytes, str] | None:
        """Bytes and content type of an image path, at the dimensions its payload claims."""
        match = re.fullmatch(r"/t/p/(\w+)(/.+)", path)
        if match:
            size, file_path = match.groups()
            claimed = self.image_sizes.get(file_path) or _dims_in_name(file_path) or (500, 750)
            scaled = _scaled(claimed, size)
            if scaled is None:
                return None
            dims = scaled
        elif path.startswith("/fanart-assets/"):
            parts = path.split("/")
            kind = parts[5] if len(parts) > 5 else ""
            dims = FANART_SIZES.get(kind, (1000, 562))
            file_path = path
        else:
            return None
        fmt = "PNG" if file_path.lower().endswith(".png") else "JPEG"
        key = (file_path, dims[0], dims[1])
        with self._lock:
            cached = self._images.get(key)
        if cached is None:
            cached = _render(file_path, dims, fmt)
            with self._lock:
                self._images[key] = cached
                while len(self._images) > 64:
                    self._images.popitem(last=False)
        return cached, "image/png" if fmt == "PNG" else "image/jpeg"


def _failure_body(service: str) -> JSON:
    if service == "tmdb":
        return TMDB_5XX
    if service == "omdb":
        return {"Response": "False", "Error": "Service unavailable"}
    return {"status": "error", "error message": "Service unavailable"}


def _rate_limited_body(service: str, fake: FakeProviderServer) -> JSON:
    if service == "tmdb":
        return fake.tmdb_errors[429]
    if service == "omdb":
        return {"Response": "False", "Error": "Too many requests"}
    return {"status": "error", "error message": "Too many requests"}


# -- payload helpers ----------------------------------------------------------------------


def _read(path: Path) -> JSON:
    data: JSON = json.loads(path.read_text(encoding="utf-8"))
    return data


def _with_appends(movie: JSON, query: dict[str, str]) -> JSON:
    wanted = {a.strip() for a in query.get("append_to_response", "").split(",") if a.strip()}
    out = {k: v for k, v in movie.items() if k not in APPENDABLE or k in wanted}
    langs = query.get("include_image_language")
    if "images" in out and langs:
        allowed = {None if code == "null" else code for code in langs.split(",")}
        out["images"] = {
            kind: [i for i in items if i.get("iso_639_1") in allowed]
            for kind, items in out["images"].items()
        }
    return out


def _summary(movie: JSON) -> JSON:
    keys = (
        "adult",
        "backdrop_path",
        "id",
        "original_language",
        "original_title",
        "overview",
        "popularity",
        "poster_path",
        "release_date",
        "title",
        "video",
        "vote_average",
        "vote_count",
    )
    out = {k: movie.get(k) for k in keys}
    out["genre_ids"] = [g["id"] for g in movie.get("genres", [])]
    return out


def _dims_in_name(path: str) -> tuple[int, int] | None:
    match = re.search(r"_(\d+)x(\d+)\.\w+$", path)
    return (int(match.group(1)), int(match.group(2))) if match else None


def _scaled(dims: tuple[int, int], size: str) -> tuple[int, int] | None:
    width, height = dims
    if size == "original":
        return dims
    match = re.fullmatch(r"([wh])(\d+)", size)
    if not match:
        return None
    target = int(match.group(2))
    if match.group(1) == "w":
        return (
            (width, height) if target >= width else (target, max(1, round(height * target / width)))
        )
    return (width, height) if target >= height else (max(1, round(width * target / height)), target)


# Distinct pictures the fake draws (per size and format); every image is one of them
# with its own name embedded, so its bytes (and SHA-256) are its own while the
# expensive encoding is shared. 64 patterns: two images of one movie look alike
# (a perceptual near-duplicate) now and then, as real artwork sets sometimes do.
PATTERNS = 64
_TEMPLATES: OrderedDict[tuple[int, int, int, str], bytes] = OrderedDict()
_TEMPLATES_LOCK = threading.Lock()
MAX_TEMPLATES = 2048


def _render(name: str, dims: tuple[int, int], fmt: str) -> bytes:
    """A valid JPEG/PNG of `dims` showing one of `PATTERNS` pictures, unique to `name`."""
    pattern = hashlib.blake2b(name.encode(), digest_size=4).digest()[0] % PATTERNS
    key = (pattern, dims[0], dims[1], fmt)
    with _TEMPLATES_LOCK:
        template = _TEMPLATES.get(key)
    if template is None:
        template = _draw(key[0], dims, fmt)
        with _TEMPLATES_LOCK:
            _TEMPLATES[key] = template
            while len(_TEMPLATES) > MAX_TEMPLATES:
                _TEMPLATES.popitem(last=False)
    return _with_name(template, name.encode("utf-8", "replace")[:200], fmt)


def _draw(pattern: int, dims: tuple[int, int], fmt: str) -> bytes:
    """A 9x8 grid of random colours blown up to `dims` (distinct perceptual hashes)."""
    rng = random.Random(pattern)
    grid = Image.new("RGB", (9, 8))
    grid.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(72)])
    image = grid.resize(dims, Image.Resampling.NEAREST)
    if fmt == "PNG":
        image.putalpha(200)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"quality": 60} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def _with_name(template: bytes, name: bytes, fmt: str) -> bytes:
    """The template with `name` in a comment (JPEG COM segment, PNG tEXt chunk)."""
    if fmt == "PNG":
        head = 8 + 25  # signature + IHDR chunk
        body = b"Comment\x00" + name
        chunk = (
            len(body).to_bytes(4, "big")
            + b"tEXt"
            + body
            + zlib.crc32(b"tEXt" + body).to_bytes(4, "big")
        )
        return template[:head] + chunk + template[head:]
    segment = b"\xff\xfe" + (len(name) + 2).to_bytes(2, "big") + name
    return template[:2] + segment + template[2:]


def generate_movie(tmdb_id: int) -> JSON:
    """A deterministic TMDB movie payload (all appends) for any id."""
    rng = random.Random(tmdb_id)
    title = f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)} {tmdb_id}"
    year = 1950 + tmdb_id % 75
    release = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    genres = rng.sample(_GENRES, rng.randint(1, 3))
    people = [f"{rng.choice(_FIRST)} {rng.choice(_LAST)}" for _ in range(rng.randint(6, 14))]
    cast = [
        {
            "id": tmdb_id * 100 + n,
            "name": name,
            "character": f"{rng.choice(_FIRST)} {rng.choice(_WORDS_B)}",
            "order": n,
            "profile_path": f"/gp{tmdb_id}_{n}_421x632.jpg" if n % 4 != 3 else None,
            "known_for_department": "Acting",
        }
        for n, name in enumerate(people[:-2])
    ]
    crew = [
        {
            "id": tmdb_id * 100 + 90,
            "name": people[-1],
            "department": "Directing",
            "job": "Director",
        },
        {
            "id": tmdb_id * 100 + 91,
            "name": people[-2],
            "department": "Writing",
            "job": "Screenplay",
        },
        {"id": tmdb_id * 100 + 92, "name": people[-1], "department": "Writing", "job": "Story"},
        {
            "id": tmdb_id * 100 + 93,
            "name": people[0],
            "department": "Production",
            "job": "Producer",
        },
    ]

    def images(kind: str, count: int, sizes: list[tuple[int, int]], ext: str) -> list[JSON]:
        out = []
        for n in range(count):
            width, height = rng.choice(sizes)
            out.append(
                {
                    "aspect_ratio": round(width / height, 3),
                    "file_path": f"/g{tmdb_id}{kind}{n}_{width}x{height}.{ext}",
                    "width": width,
                    "height": height,
                    "iso_639_1": rng.choice(_IMAGE_LANGS)
                    if kind != "b"
                    else rng.choice((None, None, "en")),
                    "vote_average": round(rng.uniform(0, 10), 3),
                    "vote_count": rng.randint(0, 60),
                }
            )
        return out

    posters = images("p", rng.randint(2, 6), [(2000, 3000), (1000, 1500), (680, 1000)], "jpg")
    backdrops = images("b", rng.randint(2, 6), [(3840, 2160), (1920, 1080), (1280, 720)], "jpg")
    logos = images("l", rng.randint(0, 3), [(800, 310), (1500, 600), (400, 155)], "png")
    countries = {"US": "United States of America", "DE": "Germany", "GB": "United Kingdom"}
    origin = rng.choice(list(countries))
    collection = None
    if tmdb_id % 4 == 0:
        cid = GENERATED_COLLECTION_BASE + tmdb_id // 100
        collection = {
            "id": cid,
            "name": f"Collection {cid}",
            "poster_path": None,
            "backdrop_path": None,
        }
    return {
        "adult": False,
        "backdrop_path": backdrops[0]["file_path"],
        "belongs_to_collection": collection,
        "budget": rng.randint(0, 200) * 1_000_000,
        "genres": [{"id": gid, "name": name} for gid, name in genres],
        "homepage": "",
        "id": tmdb_id,
        "imdb_id": generated_imdb_id(tmdb_id),
        "original_language": "en",
        "original_title": title,
        "overview": f"A generated film about {rng.choice(_WORDS_B).lower()}s.",
        "popularity": round(rng.uniform(0.5, 150), 3),
        "poster_path": posters[0]["file_path"],
        "production_companies": [
            {"id": 1000 + tmdb_id % 50, "name": f"{rng.choice(_LAST)} Pictures"}
        ],
        "production_countries": [{"iso_3166_1": origin, "name": countries[origin]}],
        "release_date": release,
        "revenue": rng.randint(0, 900) * 1_000_000,
        "runtime": rng.randint(78, 190),
        "spoken_languages": [{"iso_639_1": "en", "name": "English"}],
        "status": "Released",
        "tagline": f"{rng.choice(_WORDS_A)} is only the beginning.",
        "title": title,
        "video": False,
        "vote_average": round(rng.uniform(3, 9), 3),
        "vote_count": rng.randint(0, 30000),
        "credits": {"cast": cast, "crew": crew},
        "images": {"backdrops": backdrops, "logos": logos, "posters": posters},
        "videos": {
            "results": [
                {
                    "iso_639_1": "en",
                    "iso_3166_1": "US",
                    "name": "Official Trailer",
                    "key": f"gen{tmdb_id:08d}",
                    "site": "YouTube",
                    "size": 1080,
                    "type": "Trailer",
                    "official": True,
                    "id": f"v{tmdb_id}",
                }
            ]
        },
        "release_dates": {
            "results": [
                {
                    "iso_3166_1": country,
                    "release_dates": [
                        {
                            "certification": "",
                            "iso_639_1": "",
                            "note": "Premiere",
                            "release_date": f"{release}T00:00:00.000Z",
                            "type": 1,
                        },
                        {
                            "certification": rng.choice(certs),
                            "iso_639_1": "",
                            "note": "",
                            "release_date": f"{release}T00:00:00.000Z",
                            "type": 3,
                        },
                    ],
                }
                for country, certs in _CERTS.items()
            ]
        },
        "external_ids": {"imdb_id": generated_imdb_id(tmdb_id), "wikidata_id": None},
        "keywords": {
            "keywords": [
                {"id": 9000 + n, "name": w.lower()} for n, w in enumerate(rng.sample(_WORDS_B, 3))
            ]
        },
    }


def generate_fanart(movie: JSON) -> JSON:
    """A deterministic fanart.tv movie payload (string numbers, like the real one)."""
    tmdb_id = int(movie["id"])
    rng = random.Random(-tmdb_id)
    out: JSON = {
        "name": movie["title"],
        "tmdb_id": str(tmdb_id),
        "imdb_id": movie.get("imdb_id") or "",
    }
    for kind in (
        "hdmovielogo",
        "hdmovieclearart",
        "moviedisc",
        "moviebanner",
        "moviethumb",
        "movieposter",
        "moviebackground",
    ):
        items = []
        for n in range(rng.randint(0, 3)):
            ext = "png" if kind in ("hdmovielogo", "hdmovieclearart", "moviedisc") else "jpg"
            lang = "" if kind == "moviebackground" else rng.choice(("en", "en", "de", "00", "ja"))
            item = {
                "id": str(tmdb_id * 10 + n),
                "url": f"https://assets.fanart.tv/fanart/movies/{tmdb_id}/{kind}/gen-{tmdb_id}-{n}.{ext}",
                "lang": lang,
                "likes": str(rng.randint(0, 12)),
            }
            if kind == "moviedisc":
                item.update({"disc": "1", "disc_type": rng.choice(("bluray", "dvd"))})
            items.append(item)
        if items:
            out[kind] = items
    return out


def generate_omdb(movie: JSON, imdb_id: str) -> JSON:
    """A deterministic OMDb answer for a movie; every fifth lacks Rotten Tomatoes."""
    tmdb_id = int(movie["id"])
    rng = random.Random(tmdb_id * 7)
    imdb = round(rng.uniform(3, 9.5), 1)
    votes = rng.randint(50, 2_000_000)
    metascore = rng.randint(20, 95)
    ratings = [{"Source": "Internet Movie Database", "Value": f"{imdb}/10"}]
    if tmdb_id % 5:
        ratings.append({"Source": "Rotten Tomatoes", "Value": f"{rng.randint(5, 100)}%"})
    ratings.append({"Source": "Metacritic", "Value": f"{metascore}/100"})
    return {
        "Title": movie["title"],
        "Year": str(movie.get("release_date", ""))[:4],
        "Rated": "N/A",
        "Runtime": f"{movie.get('runtime', 0)} min",
        "Ratings": ratings,
        "Metascore": str(metascore),
        "imdbRating": str(imdb),
        "imdbVotes": f"{votes:,}",
        "imdbID": imdb_id,
        "Type": "movie",
        "Response": "True",
    }
