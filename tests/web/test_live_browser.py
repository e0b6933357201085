"""Live events in headless Chromium: the connection indicator and the activity page.

Screenshots go to /tmp/metarr-shots/activity-*.png for a person to look at.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Response,
    expect,
    sync_playwright,
)

from metarr.settings import Settings
from metarr.testing.library_builder import LibraryBuilder
from tests.conftest import LiveServer
from tests.web.login import browser_log_in

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
_CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
});
window.__events = [];
document.addEventListener('metarr:event', (e) => window.__events.push(e.detail.type));
"""
_BAR_VALUE = "(sel) => { const bar = document.querySelector(sel); return bar ? bar.value : null; }"
# Chromium reports each refused reconnect attempt; those are expected while the server is down.
_REFUSED_WS = re.compile(r"WebSocket connection to 'ws://127\.0\.0\.1:\d+/api/v1/ws' failed")


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """As in conftest, with small scan batches so a scan reports progress as it goes."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url,
        api_key="test-key",
        rate_limit_per_minute=100_000,
        scan_probe_workers=2,
        scan_batch_size=20,
    )


class Server:
    """Metarr on a given port: the restarted server of a test (same container, same port)."""

    def __init__(self, container: Container, port: int) -> None:
        import uvicorn

        from metarr.api.app import create_app

        config = uvicorn.Config(
            create_app(container, close_on_shutdown=False),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class Console:
    """Console errors and warnings, page errors and CSP violations of watched pages."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def watch(self, page: Page) -> Page:
        page.add_init_script(_CSP_LISTENER)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"pageerror: {exc}"))
        return page

    def _console(self, msg: ConsoleMessage) -> None:
        if _REFUSED_WS.search(msg.text):
            return
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
    page.screenshot(path=str(SHOTS / f"activity-{name}.png"), full_page=True)


def log_in(page: Page, base: str, key: str, target: str = "/activity") -> None:
    browser_log_in(page, base, key, target)


def set_hidden(page: Page, hidden: bool, *, announce: bool) -> None:
    """Pretend the tab was hidden or shown (headless pages are always visible)."""
    page.evaluate(
        """([hidden, announce]) => {
            Object.defineProperty(document, 'visibilityState', {
                configurable: true, get: () => hidden ? 'hidden' : 'visible'});
            if (announce) document.dispatchEvent(new Event('visibilitychange'));
        }""",
        [hidden, announce],
    )


def refreshed(path: str) -> Callable[[Response], bool]:
    """Matches the answer to an htmx refresh of `path` (as opposed to a page load)."""
    return lambda r: r.url.endswith(path) and r.request.headers.get("hx-request") == "true"


def test_indicator_reconnects_when_the_server_comes_back(
    live_server: LiveServer, container: Container
) -> None:
    base, port = live_server.url, live_server.port
    console = Console()
    servers: list[Server] = []
    try:
        with chromium() as browser:
            page = console.watch(browser.new_page(viewport={"width": 1280, "height": 720}))
            # the first snapshot refreshes the job tables once (events may predate the link)
            with page.expect_response(refreshed("/activity/running")):
                log_in(page, base, container.api_key)
            live = page.locator("#live")
            expect(live).to_have_attribute("data-state", "connected")
            expect(live).to_have_text("Live")
            shot(page, "live-connected")

            # the server goes away: the indicator counts down to the next attempt
            live_server.stop()
            expect(live).to_have_attribute("data-state", "reconnecting", timeout=10_000)
            expect(live).to_have_attribute("title", re.compile(r"reconnecting (in \d+ s|now)"))
            shot(page, "live-reconnecting")
            resyncs = page.evaluate("window.__events.filter((t) => t === 'resync').length")

            # ... and comes back on the same port: connected again, with a fresh snapshot
            # after which the page refreshes what it may have missed
            with page.expect_response(refreshed("/activity/log"), timeout=20_000):
                servers.append(Server(container, port))
                expect(live).to_have_attribute("data-state", "connected", timeout=15_000)
            page.wait_for_function(
                f"window.__events.filter((t) => t === 'resync').length > {resyncs}"
            )

            # hidden while the link is down: it stops trying ("Offline") ...
            servers.pop().stop()
            expect(live).to_have_attribute("data-state", "reconnecting", timeout=10_000)
            set_hidden(page, True, announce=True)
            expect(live).to_have_attribute("data-state", "disconnected")
            expect(live).to_have_text("Offline")
            set_hidden(page, False, announce=False)
            shot(page, "live-offline")
            # ... until someone clicks it ("retry now")
            servers.append(Server(container, port))
            page.wait_for_timeout(300)
            expect(live).to_have_attribute("data-state", "disconnected")
            with page.expect_response(refreshed("/activity/log")):
                live.click()
                expect(live).to_have_attribute("data-state", "connected", timeout=10_000)
            # still a working page: the activity tables refresh over htmx
            expect(page.locator("#running")).to_contain_text("Nothing is running")
    finally:
        for server in servers:
            server.stop()
    assert console.problems == [], "\n".join(console.problems)


def test_activity_page_shows_a_scan_moving_then_in_history(
    live_server: LiveServer, container: Container, tmp_path: Path
) -> None:
    base = live_server.url
    LibraryBuilder(tmp_path / "media").bulk(300)
    library = container.libraries.create(name="Films", kind="movies", path=str(tmp_path / "media"))
    console = Console()
    with chromium() as browser:
        tabs = browser.new_context(viewport={"width": 1280, "height": 900})  # one session
        page = console.watch(tabs.new_page())
        log_in(page, base, container.api_key)
        expect(page.locator("#live")).to_have_attribute("data-state", "connected")
        expect(page.locator("#running")).to_contain_text("Nothing is running")
        # a second tab on the library page follows the same scan
        other = console.watch(tabs.new_page())
        other.goto(f"{base}/libraries/{library.id}")
        expect(other.locator("#live")).to_have_attribute("data-state", "connected")
        expect(other.locator(f"#scan-{library.id}")).to_contain_text("Never scanned")

        run = container.scans.submit(library.id)  # started elsewhere: the pages learn it live
        assert run.job_id is not None
        bar = page.locator(f'#running progress[data-job-progress="{run.job_id}"]')
        expect(bar).to_be_visible(timeout=10_000)
        seen: list[float] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            value = page.evaluate(_BAR_VALUE, f'#running [data-job-progress="{run.job_id}"]')
            if value is None:
                break  # the job left the running table
            if not seen or value != seen[-1]:
                seen.append(float(value))
            if len(seen) == 3:
                shot(page, "scan-running")
                other.screenshot(path=str(SHOTS / "activity-library-scanning.png"))
            time.sleep(0.05)
        moving = [v for v in seen if 0 < v < 1]
        assert len(moving) >= 2 and moving == sorted(moving), f"bar values seen: {seen}"

        row = page.locator(f"#history #job-{run.job_id}")
        expect(row).to_be_visible(timeout=10_000)
        expect(row.locator(".badge")).to_have_text("succeeded")
        expect(row).to_contain_text("Films")
        expect(page.locator(f"#running #job-{run.job_id}")).to_have_count(0)
        expect(page.locator('[data-stat="succeeded"]')).not_to_have_text("0")
        expect(page.locator(".toast", has_text="Scan of Films")).to_contain_text("300 movies")
        shot(page, "scan-finished")

        # the library page ended with the scan's counts, without reloading
        counts = other.locator(f"#scan-{library.id} .scan-counts")
        expect(counts).to_contain_text("300 movies")
        expect(other.locator(f"#movie-count-{library.id}")).to_have_text("300")
        other.screenshot(path=str(SHOTS / "activity-library-scanned.png"))

        # the history filter narrows the table and keeps the address bar in step
        page.locator("#history-filters select[name=status]").select_option("failed")
        expect(page).to_have_url(f"{base}/activity?status=failed")
        expect(page.locator("#history")).to_contain_text("No finished jobs match")
        shot(page, "history-filtered")

        # a job fails: a toast says so, the filtered history shows it with its error
        queue = container.queue
        job = queue.enqueue("selftest", f"library:{library.id}/", {}, max_attempts=1)
        [claimed] = queue.claim("test-worker", types=["selftest"])
        queue.fail(claimed, "OSError: the disk went away")
        expect(page.locator(".toast", has_text=f"Job #{job.id}")).to_contain_text(
            "OSError: the disk went away"
        )
        failed = page.locator(f"#history #job-{job.id}")
        expect(failed).to_contain_text("OSError: the disk went away")
        shot(page, "history-failed")
        # Retry queues it again (nothing runs `selftest`, so it waits); Cancel ends it
        failed.get_by_role("button", name="Retry").click()
        waiting = page.locator(f"#running #job-{job.id}")
        expect(waiting).to_contain_text("waiting")
        expect(page.locator("#history")).to_contain_text("No finished jobs match")
        waiting.get_by_role("button", name="Cancel").click()
        expect(waiting).to_have_count(0)
        assert container.jobs.get(job.id).status.value == "cancelled"

        # on a phone the tables scroll inside their panels, the page does not
        page.set_viewport_size({"width": 390, "height": 844})
        page.locator("#history-filters select[name=status]").select_option("")
        expect(page.locator(f"#history #job-{run.job_id}")).to_be_visible()
        assert page.evaluate(
            "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        shot(page, "phone")
    assert console.problems == [], "\n".join(console.problems)
