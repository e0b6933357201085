"""The web UI in headless Chromium: log in, add and scan a library, browse movies.

Every test fails on a console error, an uncaught page error or a CSP violation,
and leaves screenshots in /tmp/metarr-shots for a person to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.web.login import ADMIN_PASSWORD, ADMIN_USERNAME, browser_log_in

if TYPE_CHECKING:
    from metarr.bootstrap import Container

pytestmark = pytest.mark.web

SHOTS = Path("/tmp/metarr-shots")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
# Reported through the console too, but this also catches violations Chromium only
# dispatches as DOM events (init scripts run outside the page's CSP).
_CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  const where = e.target && e.target.outerHTML ? e.target.outerHTML.slice(0, 200) : e.target;
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI} on ${where}`);
});
"""

# A real Kodi v18 export (full cast, ratings, set), recorded by MediaElch.
TOY_STORY_NFO = (
    Path(__file__).parents[1] / "fixtures/nfo/movie/mediaelch_kodi_v18_toy_story_3_2010.nfo"
)
TITLES: list[tuple[str, int, str | None]] = [
    ("The Matrix", 1999, "603"),
    ("Heat", 1995, "949"),
    ("Alien", 1979, "348"),
    ("Blade Runner", 1982, "78"),
    ("Arrival", 2016, "329865"),
    ("Dune", 2021, "438631"),
]


def build_library(root: Path, *, probed: int = 0) -> Path:
    """Eight movie folders with NFOs (one a full Kodi export) and videos that are not media.

    The first `probed` videos hold bytes the probers take a moment to refuse (so a scan
    runs long enough to watch); the others are empty, which probers refuse at once.
    """
    movies = [*TITLES, ("Toy Story 3", 2010, None)]
    for i, (title, year, tmdb) in enumerate(movies):
        folder = root / f"{title} ({year})"
        folder.mkdir(parents=True)
        video = bytes(range(256)) * 8 if i < probed else b""
        (folder / f"{title} ({year}).mkv").write_bytes(video)
        if tmdb is None:
            (folder / "movie.nfo").write_bytes(TOY_STORY_NFO.read_bytes())
        else:
            (folder / "movie.nfo").write_text(
                f"<movie><title>{title}</title><year>{year}</year>"
                f'<uniqueid type="tmdb">{tmdb}</uniqueid></movie>',
                encoding="utf-8",
            )
    (root / "Home Video").mkdir()
    (root / "Home Video" / "clip.mkv").write_bytes(b"")
    return root


class Console:
    """Collects console errors and warnings, page errors and CSP violations of pages."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def watch(self, page: Page) -> Page:
        page.add_init_script(_CSP_LISTENER)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        return page

    def expected_status(self, status: int) -> None:
        """Forget the browser's report of an HTTP error the test provoked on purpose."""
        marker = f"status of {status} "
        self.problems = [p for p in self.problems if marker not in p]

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type in ("error", "warning") or "Content Security Policy" in msg.text:
            self.problems.append(f"{msg.type}: {msg.text} ({msg.location.get('url')})")


@contextmanager
def chromium() -> Iterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(page: Page, base: str, key: str) -> None:
    browser_log_in(page, base, key, "/libraries")


def test_add_scan_search_and_open_a_movie(
    live_server: Any, container: Container, tmp_path: Path
) -> None:
    base = live_server.url
    library = build_library(tmp_path / "media", probed=3)
    console = Console()
    with chromium() as browser:
        page = console.watch(browser.new_page(viewport=DESKTOP))

        # first start: the setup page creates the admin, the API key proves ownership
        page.goto(f"{base}/libraries")
        expect(page).to_have_url(re.compile(r"/setup\?next=/libraries$"))
        page.fill("#username", ADMIN_USERNAME)
        page.fill("#password", ADMIN_PASSWORD)
        page.fill("#password_again", ADMIN_PASSWORD + "x")
        page.fill("#api_key", "wrong")
        page.click("button[type=submit]")
        expect(page.locator("#api_key-error")).to_contain_text("not correct")
        expect(page.locator("#password_again-error")).to_contain_text("not the same")
        expect(page.locator("#username")).to_have_value(ADMIN_USERNAME)
        shot(page, "desktop-setup-error")
        console.expected_status(401)
        for field in ("#password", "#password_again"):
            page.fill(field, ADMIN_PASSWORD)
        page.fill("#api_key", container.api_key)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{base}/libraries")
        expect(page.locator("#libraries")).to_contain_text("No libraries yet")

        # a refused path comes back next to the field, typed values kept
        page.fill("#library-name", "Films")
        page.fill("#library-path", "movies")
        page.click("#library-form button[type=submit]")
        expect(page.locator("#library-path-error")).to_contain_text("absolute path")
        expect(page.locator("#library-name")).to_have_value("Films")
        shot(page, "desktop-libraries-error")
        console.expected_status(422)

        page.fill("#library-path", str(library))
        page.click("#library-form button[type=submit]")
        row = page.locator("#libraries tbody tr", has_text="Films")
        expect(row).to_be_visible()
        expect(page.locator("#library-name")).to_have_value("")
        expect(page.locator(".toast")).to_contain_text("added")

        row.get_by_role("button", name="Scan").click()
        status = row.locator(".scan-status")
        expect(status.locator("progress")).to_be_visible()
        shot(page, "desktop-libraries-scanning")
        counts = status.locator(".scan-counts")
        expect(counts).to_be_visible(timeout=20_000)
        expect(counts).to_contain_text("8 movies")
        expect(counts).to_contain_text("8 added")
        expect(counts).to_contain_text("8 unreadable")
        expect(status.locator("progress")).to_have_count(0)
        expect(row.locator("td.num")).to_have_text("8")
        shot(page, "desktop-libraries-scanned")

        page.get_by_role("link", name="Movies").first.click()
        expect(page).to_have_url(f"{base}/movies")
        expect(page.locator("table.movies tbody tr")).to_have_count(8)
        shot(page, "desktop-movies")

        page.locator("input[type=search]").press_sequentially("blade", delay=40)
        expect(page.locator("table.movies tbody tr")).to_have_count(1)
        expect(page).to_have_url(f"{base}/movies?q=blade")
        page.locator("select[name=status]").select_option("identified")
        expect(page).to_have_url(f"{base}/movies?q=blade&status=identified")
        shot(page, "desktop-movies-search")

        page.get_by_role("link", name="Blade Runner").click()
        expect(page.locator("h1")).to_contain_text("Blade Runner")
        expect(page.locator("h1")).to_contain_text("(1982)")
        expect(page.get_by_role("link", name="78", exact=True)).to_have_attribute(
            "href", "https://www.themoviedb.org/movie/78"
        )
        expect(page.locator("table.files")).to_contain_text("Blade Runner (1982).mkv")
        shot(page, "desktop-movie")

        page.go_back()
        expect(page.locator("table.movies tbody tr")).to_have_count(1)

        page.get_by_role("link", name="System").click()
        key = page.locator("#api-key")
        expect(key).to_have_attribute("type", "password")
        page.get_by_role("button", name="Show").click()
        expect(key).to_have_attribute("type", "text")
        expect(key).to_have_value(container.api_key)
        shot(page, "desktop-system")

        # log out, then back in with the admin's password (a wrong one is refused inline)
        page.get_by_role("navigation", name="Main").get_by_role("button", name="Log out").click()
        expect(page).to_have_url(f"{base}/login")
        page.goto(f"{base}/libraries")
        expect(page).to_have_url(re.compile(r"/login\?next=/libraries$"))
        page.fill("#username", ADMIN_USERNAME)
        page.fill("#password", "not the password")
        page.click("button[type=submit]")
        expect(page.locator("#login-error")).to_contain_text("not correct")
        expect(page.locator("#username")).to_have_value(ADMIN_USERNAME)
        shot(page, "desktop-login-error")
        console.expected_status(401)
        page.fill("#password", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{base}/libraries")

    assert console.problems == [], "\n".join(console.problems)


def test_phone_layout_and_light_theme(
    live_server: Any, container: Container, tmp_path: Path
) -> None:
    base = live_server.url
    library = container.libraries.create(
        name="Films", kind="movies", path=str(build_library(tmp_path / "media"))
    )
    container.scans.submit(library.id)
    container.scans.wait_idle()
    console = Console()
    with chromium() as browser:
        page = console.watch(
            browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        )
        log_in(page, base, container.api_key)
        shot(page, "phone-libraries")

        # the sidebar is collapsed behind the menu button
        sidebar = page.locator("#sidebar")
        assert not _in_view(page, "#sidebar")
        page.click("[data-nav-toggle]")
        expect(page.locator("[data-nav-toggle]")).to_have_attribute("aria-expanded", "true")
        page.wait_for_timeout(250)  # slide-in transition
        assert _in_view(page, "#sidebar")
        shot(page, "phone-nav-open")
        sidebar.get_by_role("link", name="Movies").click()
        expect(page).to_have_url(f"{base}/movies")
        assert _no_horizontal_overflow(page)
        shot(page, "phone-movies")

        page.get_by_role("link", name="Toy Story 3").click()
        expect(page.locator("h1")).to_contain_text("Toy Story 3")
        assert _no_horizontal_overflow(page)
        shot(page, "phone-movie")

        # light theme sticks across pages (localStorage)
        page.click("[data-theme-toggle]")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        page.goto(f"{base}/libraries")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        assert _no_horizontal_overflow(page)
        shot(page, "phone-libraries-light")

        desktop = console.watch(browser.new_page(viewport=DESKTOP))
        log_in(desktop, base, container.api_key)
        desktop.goto(f"{base}/movies")
        desktop.click("[data-theme-toggle]")
        expect(desktop.locator("html")).to_have_attribute("data-theme", "light")
        shot(desktop, "desktop-movies-light")
        desktop.get_by_role("link", name="Toy Story 3").click()
        expect(desktop.locator("table.metadata")).to_contain_text("Tom Hanks")
        shot(desktop, "desktop-movie-light")
        desktop.goto(f"{base}/libraries/999")
        expect(desktop.locator("h1")).to_have_text("Not found")
        shot(desktop, "desktop-404-light")
        console.expected_status(404)

    assert console.problems == [], "\n".join(console.problems)


def _in_view(page: Page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["x"] + box["width"] > 0 and box["x"] >= 0


def _no_horizontal_overflow(page: Page) -> bool:
    """The page itself does not scroll sideways (wide tables scroll inside their wrapper)."""
    return bool(
        page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
    )
