"""The web UI over HTTP: login, CSRF, every page and form, fragments vs pages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.web.login import ADMIN_PASSWORD, ADMIN_USERNAME, form_log_in

if TYPE_CHECKING:
    from metarr.bootstrap import Container

HTMX = {"HX-Request": "true"}
# A real Kodi v18 export (full cast, ratings, set), recorded by MediaElch.
TOY_STORY_NFO = (
    Path(__file__).parents[1] / "fixtures/nfo/movie/mediaelch_kodi_v18_toy_story_3_2010.nfo"
)
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


def write_movie(
    root: Path,
    folder: str,
    *,
    nfo: str | None = None,
    extra: tuple[str, ...] = (),
    video_bytes: int = 2048,
) -> Path:
    """A movie folder with an unreadable video (not media), an optional NFO and extra files."""
    movie = root / folder
    movie.mkdir(parents=True)
    (movie / f"{folder}.mkv").write_bytes((bytes(range(256)) * 8)[:video_bytes])
    if nfo is not None:
        (movie / "movie.nfo").write_text(nfo, encoding="utf-8")
    for name in extra:
        (movie / name).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    return movie


def nfo(title: str, year: int, **ids: str) -> str:
    """A minimal Kodi movie NFO."""
    uniqueids = "".join(f'<uniqueid type="{k}">{v}</uniqueid>' for k, v in ids.items())
    return f"<movie><title>{title}</title><year>{year}</year>{uniqueids}</movie>"


@pytest.fixture
def library_dir(tmp_path: Path) -> Path:
    """Four movies: three with NFOs (ids, one full Kodi export), one bare; one has a poster."""
    root = tmp_path / "media" / "movies"
    toy_story = write_movie(root, "Toy Story 3 (2010)")
    (toy_story / "movie.nfo").write_bytes(TOY_STORY_NFO.read_bytes())
    write_movie(
        root, "The Matrix (1999)", nfo=nfo("The Matrix", 1999, tmdb="603"), extra=("poster.jpg",)
    )
    write_movie(root, "Heat (1995)", nfo=nfo("Heat", 1995, tmdb="949", imdb="tt0113277"))
    write_movie(root, "Some Home Video")
    return root


@dataclass
class UI:
    """A logged-in browser session over the test client."""

    client: httpx.Client
    csrf: str

    def get(self, path: str, *, htmx: bool = False, **kw: Any) -> httpx.Response:
        headers = {**(HTMX if htmx else {}), **kw.pop("headers", {})}
        return self.client.get(path, headers=headers, **kw)

    def post(
        self, path: str, data: dict[str, str] | None = None, *, htmx: bool = False, **kw: Any
    ) -> httpx.Response:
        headers = {**(HTMX if htmx else {}), **kw.pop("headers", {})}
        form = {"csrf_token": self.csrf, **(data or {})}
        return self.client.post(path, data=form, headers=headers, follow_redirects=False, **kw)


def shown(path: Path | str) -> str:
    """How the UI prints a path: escaped, with a line-break hint after each slash."""
    return "/<wbr>".join(escape(part) for part in str(path).split("/"))


def csrf_of(html: str) -> str:
    match = _CSRF_META.search(html)
    assert match, "page has no CSRF meta tag"
    return match.group(1)


def log_in(client: httpx.Client, key: str, password: str = ADMIN_PASSWORD) -> httpx.Response:
    """Through the setup page on first use (creating the admin), else the login page."""
    return form_log_in(client, key, "/libraries", password=password)


@pytest.fixture
def ui(client: httpx.Client, container: Container) -> UI:
    """The client, logged in to the UI."""
    assert log_in(client, container.api_key).status_code == 303
    page = client.get("/libraries")
    return UI(client, csrf_of(page.text))


def add_library(ui: UI, name: str, path: Path | str) -> int:
    response = ui.post("/libraries", {"name": name, "path": str(path)})
    assert response.status_code == 303, response.text
    page = ui.get("/libraries").text
    match = re.search(rf'<a href="/libraries/(\d+)">{re.escape(name)}</a>', page)
    assert match, page
    return int(match.group(1))


@pytest.fixture
def scanned(ui: UI, container: Container, library_dir: Path) -> int:
    """A library added through the form and scanned through the Scan button; its id."""
    library_id = add_library(ui, "Films", library_dir)
    response = ui.post(f"/libraries/{library_id}/scan", htmx=True)
    assert response.status_code == 202
    container.scans.wait_idle()
    return library_id


def movie_id(ui: UI, title: str) -> int:
    page = ui.get("/movies", params={"q": title}).text
    match = re.search(rf'<a href="/movies/(\d+)">{re.escape(title)}</a>', page)
    assert match, page
    return int(match.group(1))


# -- login ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/libraries", "/movies?q=x", "/movies/1", "/system"])
def test_pages_redirect_to_login_when_not_logged_in(client: httpx.Client, path: str) -> None:
    # The client sends the API key header: that is for the API, not a UI session.
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    if path != "/":
        assert "next=" in response.headers["location"]


def test_htmx_request_without_session_gets_hx_redirect(client: httpx.Client) -> None:
    response = client.get(
        "/libraries/1/scan-status",
        headers={**HTMX, "HX-Current-URL": "http://testserver/libraries"},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/libraries"


def test_first_visit_sets_up_the_admin_with_the_key(
    client: httpx.Client, container: Container
) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    assert response.url.path == "/setup"
    assert "API key" in response.text
    assert container.api_key not in response.text
    assert 'type="password"' in response.text
    assert log_in(client, "not-the-key").status_code == 401
    assert not container.admin.has_admin()
    assert log_in(client, container.api_key).status_code == 303
    assert container.admin.verify(ADMIN_USERNAME, ADMIN_PASSWORD)


def test_wrong_password_is_rejected(client: httpx.Client, container: Container) -> None:
    container.admin.create(ADMIN_USERNAME, ADMIN_PASSWORD)
    response = client.get("/login")
    assert response.url.path == "/login"
    assert 'type="password"' in response.text
    response = log_in(client, container.api_key, password="not-the-password")
    assert response.status_code == 401
    assert "not correct" in response.text
    assert client.get("/libraries", follow_redirects=False).status_code == 303


def test_login_sets_a_safe_cookie_and_logout_ends_it(
    client: httpx.Client, container: Container
) -> None:
    response = log_in(client, container.api_key)
    assert response.status_code == 303
    assert response.headers["location"] == "/libraries"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # plain http here
    page = client.get("/libraries")
    assert page.status_code == 200
    assert "<html" in page.text

    logout = client.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert logout.status_code == 303
    assert client.get("/libraries", follow_redirects=False).status_code == 303
    again = log_in(client, container.api_key)  # now through the login page
    assert again.status_code == 303
    assert "httponly" in again.headers["set-cookie"].lower()
    assert client.get("/libraries", follow_redirects=False).status_code == 200


def test_cookie_is_secure_over_https(client: httpx.Client, container: Container) -> None:
    response = form_log_in(client, container.api_key, base="https://testserver")  # setup
    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()
    client.cookies.clear()
    response = form_log_in(client, container.api_key, base="https://testserver")  # login
    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()


def test_login_never_redirects_off_site(client: httpx.Client, container: Container) -> None:
    for _form in ("setup", "login"):
        client.cookies.clear()
        response = form_log_in(client, container.api_key, "//evil.example/x")
        assert response.status_code == 303
        assert response.headers["location"] == "/"


def test_tampered_session_cookie_is_no_session(ui: UI) -> None:
    value = ui.client.cookies["metarr_session"]
    ui.client.cookies.set("metarr_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert ui.get("/libraries", follow_redirects=False).status_code == 303


def test_logged_in_user_skips_the_login_page(ui: UI) -> None:
    response = ui.get("/login?next=/movies", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/movies"


# -- CSRF ----------------------------------------------------------------------


def test_post_without_csrf_token_is_forbidden(ui: UI, library_dir: Path) -> None:
    data = {"name": "Films", "path": str(library_dir)}
    missing = ui.client.post("/libraries", data=data, follow_redirects=False)
    assert missing.status_code == 403
    wrong = ui.client.post(
        "/libraries", data={**data, "csrf_token": "0" * 64}, follow_redirects=False
    )
    assert wrong.status_code == 403
    htmx = ui.client.post("/libraries", data=data, headers={**HTMX, "X-CSRF-Token": "nope"})
    assert htmx.status_code == 403
    assert "<html" not in htmx.text
    assert "Films" not in ui.get("/libraries").text


def test_csrf_token_in_header_is_accepted(ui: UI, library_dir: Path) -> None:
    response = ui.client.post(
        "/libraries",
        data={"name": "Films", "path": str(library_dir)},
        headers={**HTMX, "X-CSRF-Token": ui.csrf},
    )
    assert response.status_code == 201


def test_login_form_needs_its_csrf_token(client: httpx.Client, container: Container) -> None:
    client.get("/login")
    answer = client.post(
        "/setup",
        data={
            "username": ADMIN_USERNAME,
            "password": ADMIN_PASSWORD,
            "password_again": ADMIN_PASSWORD,
            "api_key": container.api_key,
        },
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert not container.admin.has_admin()
    container.admin.create(ADMIN_USERNAME, ADMIN_PASSWORD)
    response = client.post(
        "/login",
        data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_logout_needs_csrf_token(ui: UI) -> None:
    response = ui.client.post("/logout", follow_redirects=False)
    assert response.status_code == 403
    assert ui.get("/libraries").status_code == 200


# -- pages ---------------------------------------------------------------------


def test_root_is_the_dashboard(ui: UI) -> None:
    response = ui.get("/", follow_redirects=False)
    assert response.status_code == 200
    assert "<h1>Dashboard</h1>" in response.text


def test_libraries_page_lists_libraries_with_counts_and_last_scan(
    ui: UI, scanned: int, library_dir: Path
) -> None:
    page = ui.get("/libraries")
    assert page.status_code == 200
    html = page.text
    assert "<html" in html
    assert "Films" in html
    assert shown(library_dir) in html
    assert f'<span id="movie-count-{scanned}">4</span>' in html
    assert "succeeded" in html
    assert 'id="library-form"' in html
    assert page.headers["cache-control"] == "no-store"


def test_library_page(ui: UI, scanned: int, library_dir: Path) -> None:
    page = ui.get(f"/libraries/{scanned}")
    assert page.status_code == 200
    assert "Films" in page.text
    assert shown(library_dir) in page.text
    assert "<strong>4</strong> movies" in page.text


def test_movies_page_lists_movies(ui: UI, scanned: int) -> None:
    page = ui.get("/movies")
    assert page.status_code == 200
    html = page.text
    assert "<html" in html
    for title in ("The Matrix", "Heat", "Some Home Video"):
        assert title in html
    assert '<a href="https://www.themoviedb.org/movie/603" rel="noreferrer noopener"' in html
    assert 'href="https://www.imdb.com/title/tt0113277/"' in html
    assert "identified" in html
    assert "unidentified" in html
    assert 'title="Poster: present"' in html
    assert 'title="Fanart: missing"' in html
    assert "<strong>4</strong> movies" in html


def test_movie_page_shows_ids_files_streams_and_metadata(ui: UI, scanned: int) -> None:
    page = ui.get(f"/movies/{movie_id(ui, 'The Matrix')}")
    assert page.status_code == 200
    html = page.text
    assert "The Matrix" in html
    assert "(1999)" in html
    assert "Films" in html  # library
    assert "The Matrix (1999)" in html  # folder
    assert "https://www.themoviedb.org/movie/603" in html
    assert "from nfo" in html
    assert "The Matrix (1999).mkv" in html
    assert "movie.nfo" in html
    assert "poster.jpg" in html
    assert "2.0 KiB" in html  # the 2048-byte video
    assert "Streams" in html
    assert "Metadata" in html
    assert ">title</th>" in html
    assert "original title" in html


def test_movie_page_renders_lists_cast_ratings_and_set(ui: UI, scanned: int) -> None:
    html = ui.get(f"/movies/{movie_id(ui, 'Toy Story 3')}").text
    assert "<li>Animation</li><li>Family</li><li>Comedy</li>" in html
    assert '<strong>Tom Hanks</strong> <span class="muted">as</span> Woody' in html
    assert "more</summary>" in html  # a long cast folds after the first names
    assert re.search(r"themoviedb <strong>[0-9.]+</strong>", html)
    assert '<span class="badge info">default</span>' in html
    assert "Toy Story Collection" in html
    assert 'href="https://www.imdb.com/title/tt0435761/"' in html
    assert "from nfo" in html
    assert "&#39;name&#39;" not in html  # no Python reprs of the stored JSON
    assert "Lee Unkrich" in html


def test_system_page(ui: UI, container: Container) -> None:
    page = ui.get("/system")
    assert page.status_code == 200
    html = page.text
    assert "Health" in html
    assert "database" in html
    assert container.db.backend in html
    assert shown(Path(container.settings.data_dir).resolve()) in html
    assert container.api_key in html
    assert 'type="password"' in html
    assert "data-reveal" in html


def test_unknown_ids_get_a_friendly_404(ui: UI) -> None:
    for path in ("/movies/999999", "/libraries/999999", "/libraries/999999/delete"):
        page = ui.get(path)
        assert page.status_code == 404, path
        assert "<html" in page.text
        assert "Not found" in page.text
        assert "999999" in page.text
    fragment = ui.get("/libraries/999999/scan-status", htmx=True)
    assert fragment.status_code == 404
    assert "<html" not in fragment.text
    assert ui.post("/libraries/999999/scan", htmx=True).status_code == 404
    # ids past the 64-bit range are just as unknown (not a database error)
    huge = "9" * 25
    assert ui.get(f"/movies/{huge}").status_code == 404
    assert ui.get(f"/libraries/{huge}").status_code == 404
    assert ui.get("/movies", params={"library": huge}).status_code == 200


# -- add library ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "absolute path"),
        ("relative/movies", "absolute path"),
        ("FILE", "not a directory"),
        ("MISSING", "does not exist"),
    ],
)
def test_add_library_errors_are_shown_next_to_the_path(
    ui: UI, tmp_path: Path, path: str, message: str
) -> None:
    if path == "FILE":
        file = tmp_path / "a-file.txt"
        file.write_text("x")
        path = str(file)
    elif path == "MISSING":
        path = str(tmp_path / "nope")
    response = ui.post("/libraries", {"name": "My movies", "path": path}, htmx=True)
    assert response.status_code == 422
    html = response.text
    assert "<html" not in html
    assert html.lstrip().startswith('<form id="library-form"')
    # the message sits inside the path field, after its input
    field = re.search(r'<div class="field field-wide has-error">(.*?)</div>', html, re.S)
    assert field, html
    assert 'name="path"' in field.group(1)
    assert message in field.group(1)
    assert 'aria-invalid="true"' in field.group(1)
    # typed values are kept
    assert 'value="My movies"' in html
    assert f'value="{path}"' in html


def test_add_library_error_without_htmx_is_a_full_page(ui: UI) -> None:
    response = ui.post("/libraries", {"name": "My movies", "path": "relative"})
    assert response.status_code == 422
    assert "<html" in response.text
    assert "path must be an absolute path" in response.text


def test_empty_name_is_shown_next_to_the_name(ui: UI, library_dir: Path) -> None:
    response = ui.post("/libraries", {"name": "  ", "path": str(library_dir)}, htmx=True)
    assert response.status_code == 422
    field = re.search(r'<div class="field has-error">(.*?)</div>', response.text, re.S)
    assert field
    assert 'name="name"' in field.group(1)
    assert "name must not be empty" in field.group(1)


def test_duplicate_name_is_shown_inline(ui: UI, tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    add_library(ui, "Films", first)
    response = ui.post("/libraries", {"name": "Films", "path": str(second)}, htmx=True)
    assert response.status_code == 409
    field = re.search(r'<div class="field has-error">(.*?)</div>', response.text, re.S)
    assert field
    assert "already exists" in field.group(1)
    assert f'value="{second}"' in response.text


def test_add_library_with_htmx_returns_new_form_and_table(ui: UI, library_dir: Path) -> None:
    response = ui.post("/libraries", {"name": "Films", "path": str(library_dir)}, htmx=True)
    assert response.status_code == 201
    html = response.text
    assert "<html" not in html
    assert html.lstrip().startswith('<form id="library-form"')
    assert 'id="libraries" class="table-wrap" hx-swap-oob="true"' in html
    assert "Films" in html
    assert 'hx-swap-oob="beforeend:#toasts"' in html
    # the new form is empty again
    assert 'value="Films"' not in html


def test_names_are_escaped(ui: UI, library_dir: Path) -> None:
    name = '<img src=x onerror="alert(1)">'
    response = ui.post("/libraries", {"name": name, "path": str(library_dir)}, htmx=True)
    assert response.status_code == 201
    page = ui.get("/libraries").text
    assert name not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


# -- scanning ------------------------------------------------------------------


def test_scan_button_shows_live_progress_then_final_counts(
    ui: UI, container: Container, library_dir: Path
) -> None:
    library_id = add_library(ui, "Films", library_dir)
    started = ui.post(f"/libraries/{library_id}/scan", htmx=True)
    assert started.status_code == 202
    assert "<html" not in started.text
    assert f'id="scan-{library_id}"' in started.text
    assert 'hx-trigger="every 1s"' in started.text
    assert f'hx-get="/libraries/{library_id}/scan-status"' in started.text
    assert "<progress" in started.text
    assert "style=" not in started.text

    container.scans.wait_idle()
    done = ui.get(
        f"/libraries/{library_id}/scan-status",
        htmx=True,
        headers={"HX-Trigger": f"scan-{library_id}"},
    )
    assert done.status_code == 200
    html = done.text
    assert "hx-trigger" not in html  # polling stops
    assert "succeeded" in html
    counts = dict((label, int(n)) for n, label in re.findall(r"<strong>(\d+)</strong> (\w+)", html))
    assert counts["movies"] == 4
    assert counts["added"] == 4
    assert counts["updated"] == 0
    assert counts["deleted"] == 0
    assert counts["unreadable"] == 4  # the videos are not media
    # the poll that sees the end refreshes the movie count beside it
    assert f'<span id="movie-count-{library_id}" hx-swap-oob="true">4</span>' in html


def test_scan_status_without_htmx_is_the_library_page(ui: UI, scanned: int) -> None:
    page = ui.get(f"/libraries/{scanned}/scan-status")
    assert page.status_code == 200
    assert "<html" in page.text
    assert "Last scan" in page.text


def test_scan_without_htmx_redirects_to_the_library(
    ui: UI, container: Container, library_dir: Path
) -> None:
    library_id = add_library(ui, "Films", library_dir)
    response = ui.post(f"/libraries/{library_id}/scan")
    assert response.status_code == 303
    assert response.headers["location"] == f"/libraries/{library_id}"
    container.scans.wait_idle()


def test_never_scanned_library_says_so(ui: UI, library_dir: Path) -> None:
    library_id = add_library(ui, "Films", library_dir)
    fragment = ui.get(f"/libraries/{library_id}/scan-status", htmx=True)
    assert "Never scanned" in fragment.text


# -- delete library --------------------------------------------------------------


def test_delete_library_asks_first_and_keeps_media_files(
    ui: UI, scanned: int, library_dir: Path
) -> None:
    confirm = ui.get(f"/libraries/{scanned}/delete")
    assert confirm.status_code == 200
    assert "<html" in confirm.text
    assert "not touched" in confirm.text
    assert "4 movies" in confirm.text
    assert "Films" in ui.get("/libraries").text  # asking deleted nothing

    response = ui.post(f"/libraries/{scanned}/delete")
    assert response.status_code == 303
    assert response.headers["location"] == "/libraries"
    assert f'href="/libraries/{scanned}"' not in ui.get("/libraries").text
    assert (library_dir / "The Matrix (1999)" / "The Matrix (1999).mkv").is_file()
    assert ui.get(f"/libraries/{scanned}").status_code == 404


def test_delete_library_with_htmx_swaps_the_row(ui: UI, library_dir: Path) -> None:
    library_id = add_library(ui, "Films", library_dir)
    confirm = ui.get(f"/libraries/{library_id}/delete", htmx=True)
    assert confirm.status_code == 200
    assert confirm.text.lstrip().startswith(f'<tr id="library-{library_id}" class="confirm-row">')
    assert f'hx-post="/libraries/{library_id}/delete"' in confirm.text
    cancel = ui.get(f"/libraries/{library_id}", htmx=True)
    assert cancel.text.lstrip().startswith(f'<tr id="library-{library_id}">')

    deleted = ui.post(f"/libraries/{library_id}/delete", htmx=True)
    assert deleted.status_code == 200
    assert "<tr" not in deleted.text  # the row is swapped for nothing
    assert "media files are untouched" in deleted.text
    assert library_dir.is_dir()


# -- fragments, search, filters, pagination --------------------------------------


def test_htmx_gets_fragments_and_browsers_get_pages(ui: UI, scanned: int) -> None:
    for path, marker in (
        ("/movies", 'id="movies-table"'),
        ("/libraries", 'id="libraries"'),
        ("/system", 'id="health"'),
    ):
        page = ui.get(path)
        fragment = ui.get(path, htmx=True)
        assert page.status_code == fragment.status_code == 200
        assert "<html" in page.text
        assert "<html" not in fragment.text
        assert "<nav" not in fragment.text.split(marker)[0]
        assert marker in fragment.text
        assert "HX-Request" in fragment.headers["vary"]
    # boosted navigation and history restores need the whole page
    restore = ui.get("/movies", htmx=True, headers={"HX-History-Restore-Request": "true"})
    assert "<html" in restore.text


def test_search_filters_the_table(ui: UI, scanned: int) -> None:
    fragment = ui.get("/movies", htmx=True, params={"q": "matr"})
    assert fragment.status_code == 200
    assert "The Matrix" in fragment.text
    assert "Heat" not in fragment.text
    assert "<strong>1</strong> movie<" in fragment.text
    assert fragment.headers["HX-Push-Url"] == "/movies?q=matr"

    none = ui.get("/movies", htmx=True, params={"q": "zzz"})
    assert "No movies match" in none.text


def test_filters_by_status_library_and_missing_artwork(
    ui: UI, container: Container, scanned: int, tmp_path: Path
) -> None:
    unidentified = ui.get("/movies", params={"status": "unidentified"}).text
    assert "Some Home Video" in unidentified
    assert "The Matrix" not in unidentified

    identified = ui.get("/movies", params={"status": "identified"}).text
    assert "The Matrix" in identified
    assert "Heat" in identified
    assert "Some Home Video" not in identified

    missing_poster = ui.get("/movies", params={"missing": "poster"}).text
    assert "Heat" in missing_poster
    assert "The Matrix" not in missing_poster

    other = tmp_path / "other"
    write_movie(other, "Alien (1979)", nfo=nfo("Alien", 1979, tmdb="348"))
    other_id = add_library(ui, "Other", other)
    ui.post(f"/libraries/{other_id}/scan", htmx=True)
    container.scans.wait_idle()
    only_other = ui.get("/movies", params={"library": str(other_id)}).text
    assert "Alien" in only_other
    assert "The Matrix" not in only_other
    both = ui.get("/movies").text
    assert "Alien" in both
    assert "The Matrix" in both

    # unknown values are ignored rather than failing the page
    lenient = ui.get("/movies", params={"status": "bogus", "sort": "x", "page": "y"})
    assert lenient.status_code == 200
    assert "The Matrix" in lenient.text


def test_sorting(ui: UI, scanned: int) -> None:
    by_title = ui.get("/movies", htmx=True).text
    assert by_title.index("Heat") < by_title.index("The Matrix")
    by_year_desc = ui.get("/movies", htmx=True, params={"sort": "year", "order": "desc"}).text
    assert by_year_desc.index("The Matrix") < by_year_desc.index("Heat")
    assert 'aria-sort="descending"' in by_year_desc
    by_added = ui.get("/movies", htmx=True, params={"sort": "added"})
    assert by_added.status_code == 200


@pytest.fixture
def big_library(tmp_path: Path) -> Path:
    """55 movies: more than one page (empty videos: the prober skips them at once)."""
    root = tmp_path / "big"
    for i in range(55):
        title = f"Film {i:03d}"
        write_movie(root, f"{title} ({1950 + i})", nfo=nfo(title, 1950 + i), video_bytes=0)
    return root


def test_pagination(ui: UI, container: Container, big_library: Path) -> None:
    library_id = add_library(ui, "Big", big_library)
    ui.post(f"/libraries/{library_id}/scan", htmx=True)
    container.scans.wait_idle()

    first = ui.get("/movies").text
    assert "<strong>55</strong> movies" in first
    assert "Page 1 of 2" in first
    assert "Film 000" in first
    assert "Film 049" in first
    assert "Film 050" not in first
    assert 'href="/movies?page=2"' in first
    assert len(re.findall(r'<td class="title">', first)) == 50

    second = ui.get("/movies", htmx=True, params={"page": "2"}).text
    assert "Page 2 of 2" in second
    assert "Film 050" in second
    assert "Film 054" in second
    assert "Film 049" not in second
    assert 'rel="prev" href="/movies"' in second
    assert len(re.findall(r'<td class="title">', second)) == 5

    # filters survive paging links
    searched = ui.get("/movies", params={"q": "film", "sort": "year", "order": "desc"}).text
    assert 'href="/movies?q=film&amp;sort=year&amp;order=desc&amp;page=2"' in searched


# -- CSP hygiene -------------------------------------------------------------------


def test_pages_have_no_inline_scripts_or_styles(ui: UI, scanned: int) -> None:
    movie = movie_id(ui, "The Matrix")
    for path in (
        "/libraries",
        f"/libraries/{scanned}",
        f"/libraries/{scanned}/delete",
        "/movies",
        f"/movies/{movie}",
        "/system",
        "/movies/999999",
    ):
        html = ui.get(path).text
        assert " style=" not in html, path
        assert "<style" not in html, path
        assert re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html) is None, path
        assert re.search(r"\son[a-z]+=", html) is None, path
        assert "includeIndicatorStyles&#34;: false" in html or (
            '"includeIndicatorStyles": false' in html
        ), path
    login = ui.client.get("/login")
    assert " style=" not in login.text


def test_static_files_are_served(client: httpx.Client) -> None:
    for path in (
        "/static/vendor/htmx/htmx.min.js",
        "/static/css/metarr.css",
        "/static/js/metarr.js",
        "/static/js/theme.js",
    ):
        response = client.get(path)
        assert response.status_code == 200, path


def test_ui_routes_are_not_in_the_api_schema(client: httpx.Client) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert not [p for p in paths if not p.startswith("/api/")]
