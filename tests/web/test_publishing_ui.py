"""Publishing in the UI over HTTP: the movie page's publish panel and plan preview, a
library's publish settings, the recycle bin page and the verification report, CSRF.

Plus one browser check (marked `web`): publish from the movie page, see the plan, verify
a deleted poster back, restore the replaced NFO from the recycle bin page, in Chromium.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from metarr.bootstrap import Container
from metarr.testing.library_builder import LibraryBuilder
from tests.integration.publishing_env import PublishEnv, image
from tests.web.test_schedule_ui import UI

HEAT = "Heat (1995)"
NFO = f"{HEAT}/{HEAT}.nfo"
POSTER = f"{HEAT}/{HEAT}-poster.jpg"
FANART = f"{HEAT}/{HEAT}-fanart.jpg"


@pytest.fixture
def env(container: Container, tmp_path: Path) -> PublishEnv:
    root = (tmp_path / "library").resolve()
    root.mkdir()
    return PublishEnv(container, LibraryBuilder(root), root)


def enriched(env: PublishEnv) -> int:
    """Heat, identified by its NFO, with a poster and a fanart selected in the cache."""
    env.builder.movie("Heat", 1995, tmdb=949, artwork=())
    env.create_library()
    env.scan()
    movie = env.movie_id(HEAT)
    env.seed(movie, {"poster": [image((1, 2, 3))], "fanart": [image((4, 5, 6), (64, 36))]})
    return movie


def plan_rows(html: str) -> dict[str, str]:
    """Path -> action of the plan table."""
    rows = re.findall(r'<tr class="plan-(\w+)".*?<code>(.*?)</code>', html, re.DOTALL)
    return {path.replace("<wbr>", ""): action for action, path in rows}


def job_id(html: str) -> int:
    match = re.search(r'data-job="(\d+)"', html)
    assert match, html
    return int(match.group(1))


# ---- the movie page ---------------------------------------------------------


def test_movie_page_has_the_publish_panel(ui: UI, env: PublishEnv) -> None:
    movie = enriched(env)
    html = ui.get(f"/movies/{movie}").text
    panel = html[html.index('id="publish"') :]
    assert f'hx-post="/movies/{movie}/publish"' in panel
    assert f'action="/movies/{movie}/publish"' in panel  # works without JavaScript
    assert f'href="/movies/{movie}/publish/plan"' in panel
    assert f'hx-post="/movies/{movie}/verify"' in panel
    assert 'href="#publish"' in html  # in the section navigation


def test_preview_is_a_dry_run(ui: UI, env: PublishEnv) -> None:
    movie = enriched(env)
    response = ui.get(f"/movies/{movie}/publish/plan", htmx=True)
    assert response.status_code == 200
    html = response.text
    assert html.lstrip().startswith('<div id="publish-plan"')  # a fragment
    assert plan_rows(html) == {NFO: "replace", POSTER: "create", FANART: "create"}
    assert '<span class="badge warn">replace</span>' in html
    assert '<span class="badge ok">create</span>' in html
    assert "1 replace" in html and "2 create" in html and "0 keep" in html
    assert "it goes to the recycle bin" in html and "Not in the folder yet." in html
    assert "Nothing is written until you publish." in html
    assert not (env.root / POSTER).exists()

    page = ui.get(f"/movies/{movie}/publish/plan")  # without htmx: a page of its own
    assert "<title>Publish plan · Heat" in page.text
    assert f'action="/movies/{movie}/publish"' in page.text
    assert plan_rows(page.text) == plan_rows(html)


def test_publish_now_queues_and_follows_the_job(ui: UI, env: PublishEnv) -> None:
    movie = enriched(env)
    response = ui.post(f"/movies/{movie}/publish")
    assert response.status_code == 202
    job = job_id(response.text)
    assert f"Publishing queued (job {job})." in response.text  # the toast
    assert f'href="/activity#job-{job}"' in response.text
    assert f'hx-get="/movies/{movie}/publish/jobs/{job}"' in response.text  # polls
    assert not (env.root / POSTER).exists()

    env.drain()
    status = ui.get(f"/movies/{movie}/publish/jobs/{job}", htmx=True)
    assert status.status_code == 200
    assert "Published: 2 created, 1 replaced." in status.text
    assert "hx-get" not in status.text  # finished: no more polling
    assert status.headers["HX-Trigger"] == "metarr-published"  # the plan reloads itself
    assert (env.root / POSTER).read_bytes() == image((1, 2, 3))

    plan = ui.get(f"/movies/{movie}/publish/plan", htmx=True).text
    assert set(plan_rows(plan).values()) == {"keep"}
    assert "The folder is up to date" in plan

    # publishing again writes nothing, and says so
    again = job_id(ui.post(f"/movies/{movie}/publish").text)
    env.drain()
    done = ui.get(f"/movies/{movie}/publish/jobs/{again}", htmx=True).text
    assert "Nothing to write: the folder is up to date." in done

    # without JavaScript the form lands on the activity page
    plain = ui.post(f"/movies/{movie}/publish", htmx=False)
    assert plain.status_code == 303
    assert re.fullmatch(r"/activity#job-\d+", plain.headers["location"])


def test_an_unidentified_movie_is_not_published(ui: UI, movie_id: int) -> None:
    html = ui.get(f"/movies/{movie_id}/publish/plan", htmx=True).text
    assert "Nothing would be published: this movie is not identified" in html
    assert "Identify it first." in html and "<table" not in html


def test_verify_movie_from_its_page(ui: UI, env: PublishEnv) -> None:
    movie = enriched(env)
    ui.post(f"/movies/{movie}/publish")
    env.drain()
    (env.root / POSTER).unlink()
    response = ui.post(f"/movies/{movie}/verify")
    assert response.status_code == 202
    job = job_id(response.text)
    assert f"Verification queued (job {job})." in response.text
    env.drain()
    status = ui.get(f"/movies/{movie}/publish/jobs/{job}", htmx=True).text
    assert "Verified: 1 finding, 1 repaired." in status
    assert f'href="/verification?movie={movie}"' in status
    assert (env.root / POSTER).exists()  # the library repairs what Metarr wrote
    plain = ui.post(f"/movies/{movie}/verify", htmx=False)
    assert plain.status_code == 303 and plain.headers["location"] == f"/verification?movie={movie}"


def test_unknown_movies_and_jobs(ui: UI, env: PublishEnv) -> None:
    movie = enriched(env)
    assert ui.get("/movies/987654/publish/plan").status_code == 404
    assert ui.get("/movies/99999999999999999999/publish/plan").status_code == 404
    assert ui.post("/movies/987654/publish").status_code == 404
    assert ui.post("/movies/987654/verify").status_code == 404
    job = job_id(ui.post(f"/movies/{movie}/publish").text)
    # a job of another movie, or no job at all, is not this movie's status
    assert ui.get(f"/movies/{movie + 1}/publish/jobs/{job}", htmx=True).status_code == 404
    assert ui.get(f"/movies/{movie}/publish/jobs/987654", htmx=True).status_code == 404


# ---- a library's settings -----------------------------------------------------


def test_library_page_loads_the_publishing_panel(ui: UI, env: PublishEnv) -> None:
    library = env.create_library()
    html = ui.get(f"/libraries/{library}").text
    assert f'hx-get="/libraries/{library}/publishing"' in html
    assert f'href="/libraries/{library}/publishing"' in html  # the link without JavaScript

    panel = ui.get(f"/libraries/{library}/publishing", htmx=True).text
    assert panel.lstrip().startswith('<section class="panel publishing-panel"')
    for name in ("auto_enrich", "auto_publish", "hardlinks", "verify_repair"):
        assert f'name="{name}"' in panel
    assert '<option value="kodi" selected>Kodi</option>' in panel
    assert '<option value="jellyfin">Jellyfin / Emby</option>' in panel
    assert f'href="/recycle-bin?library={library}"' in panel
    page = ui.get(f"/libraries/{library}/publishing")
    assert "<title>Publishing · Movies" in page.text and 'id="publishing-form"' in page.text


def test_save_library_publishing(ui: UI, env: PublishEnv, container: Container) -> None:
    library = env.create_library()
    response = ui.post(
        f"/libraries/{library}/publishing",
        {"auto_publish": "on", "auto_enrich": "on", "profile": "jellyfin", "hardlinks": "on"},
    )
    assert response.status_code == 200
    assert "Publishing settings saved." in response.text
    saved = container.libraries.get(library)
    assert saved.auto_publish and saved.auto_enrich
    settings = container.publishing.settings(library)
    assert (settings.profile, settings.hardlinks, settings.verify_repair) == (
        "jellyfin",
        True,
        False,  # an unticked switch is off
    )
    assert '<option value="jellyfin" selected>' in response.text
    assert re.search(r'name="auto_publish" value="on" checked', response.text)

    # switches off again, without JavaScript: a redirect back to the settings
    plain = ui.post(f"/libraries/{library}/publishing", {"profile": "kodi"}, htmx=False)
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/libraries/{library}/publishing"
    assert not container.libraries.get(library).auto_publish
    assert container.publishing.settings(library).profile == "kodi"


def test_unknown_profile_changes_nothing(ui: UI, env: PublishEnv, container: Container) -> None:
    library = env.create_library()
    response = ui.post(
        f"/libraries/{library}/publishing", {"profile": "plex", "auto_publish": "on"}
    )
    assert response.status_code == 422
    assert 'id="publish-profile-error"' in response.text and "unknown profile" in response.text
    assert not container.libraries.get(library).auto_publish
    assert container.publishing.settings(library).profile == "kodi"
    assert ui.post("/libraries/987654/publishing", {"profile": "kodi"}).status_code == 404
    assert ui.get("/libraries/987654/publishing").status_code == 404


def test_publish_and_verify_a_library(ui: UI, env: PublishEnv, container: Container) -> None:
    enriched(env)
    published = ui.post(f"/libraries/{env.library_id}/publish")
    assert published.status_code == 202 and "Publishing Movies queued" in published.text
    verified = ui.post(f"/libraries/{env.library_id}/verify")
    assert verified.status_code == 202 and "Verification of Movies queued" in verified.text
    jobs, _ = container.jobs.list()
    assert {(j.type, j.target) for j in jobs} == {
        ("publish", f"library:{env.library_id}/"),
        ("verify", f"library:{env.library_id}/"),
    }
    env.drain()
    assert (env.root / POSTER).exists()
    assert container.publishing.verification(movie_id=None)[0]["status"] == "succeeded"
    assert ui.post("/libraries/987654/publish").status_code == 404
    plain = ui.post(f"/libraries/{env.library_id}/verify", htmx=False)
    assert plain.headers["location"] == f"/verification?library={env.library_id}"


# ---- the recycle bin ---------------------------------------------------------------


def published(ui: UI, env: PublishEnv) -> tuple[int, bytes]:
    """Heat published: Metarr's NFO replaced the builder's (returned), now in the recycle bin."""
    movie = enriched(env)
    original = (env.root / NFO).read_bytes()
    ui.post(f"/movies/{movie}/publish")
    env.drain()
    return movie, original


def test_recycle_bin_lists_and_restores(ui: UI, env: PublishEnv, container: Container) -> None:
    movie, original = published(ui, env)
    ours = (env.root / NFO).read_bytes()
    assert ours != original
    html = ui.get("/recycle-bin").text
    assert "<title>Recycle bin" in html and 'aria-current="page"' in html
    [entry] = container.publishing.recycle_bin()[0]
    row = html[html.index(f'id="recycle-{entry.id}"') :]
    assert f"{HEAT}/<wbr>{HEAT}.nfo" in row and ">replaced</span>" in row
    assert f'href="/movies/{movie}"' in row and 'href="/libraries/' in row
    assert f'hx-post="/recycle-bin/{entry.id}/restore"' in row
    assert f'formaction="/recycle-bin/{entry.id}/purge"' in row

    response = ui.post(f"/recycle-bin/{entry.id}/restore", {"library": str(env.library_id)})
    assert response.status_code == 200
    assert (env.root / NFO).read_bytes() == original  # byte for byte
    assert "Restored " in response.text and "is in the recycle bin now" in response.text
    assert response.text.lstrip().startswith('<div id="recycle-list"')
    assert ">displaced by a restore</span>" in response.text  # Metarr's NFO, kept
    [displaced] = container.publishing.recycle_bin()[0]
    assert displaced.sha256 != entry.sha256

    # purge deletes it for good; without JavaScript the page comes back filtered
    plain = ui.post(
        f"/recycle-bin/{displaced.id}/purge", {"library": str(env.library_id)}, htmx=False
    )
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/recycle-bin?library={env.library_id}"
    assert container.publishing.recycle_bin() == ([], 0)
    assert "The recycle bin is empty." in ui.get("/recycle-bin").text


def test_recycle_bin_filters_and_errors(ui: UI, env: PublishEnv, container: Container) -> None:
    published(ui, env)
    assert (
        "The recycle bin is empty for this library." in ui.get("/recycle-bin?library=987654").text
    )
    fragment = ui.get(f"/recycle-bin?library={env.library_id}", htmx=True).text
    assert fragment.lstrip().startswith('<div id="recycle-list"') and "1 file" in fragment
    assert ui.get("/recycle-bin?library=abc&page=-3").status_code == 200  # ignored, not 500
    missing = ui.post("/recycle-bin/987654/restore")
    assert missing.status_code == 404 and "does not exist" in missing.text
    assert ui.post("/recycle-bin/987654/purge").status_code == 404
    [entry] = container.publishing.recycle_bin()[0]
    # the file vanished from the bin behind Metarr's back: said so, nothing half done
    container.publishing.recycle.path_of(entry.stored_path).unlink()
    gone = ui.post(f"/recycle-bin/{entry.id}/restore")
    assert gone.status_code == 404 and "has no file any more" in gone.text


# ---- the verification report ----------------------------------------------------------


def test_verification_report(ui: UI, env: PublishEnv) -> None:
    movie, _ = published(ui, env)
    html = ui.get("/verification").text
    assert "<title>Verification" in html and "No verification has run yet." in html
    (env.root / POSTER).unlink()
    (env.root / FANART).write_bytes(b"changed by hand")
    env.container.publishing.update_settings(env.library_id, verify_repair=False)

    response = ui.post("/verification", {"library": str(env.library_id)})
    assert response.status_code == 202
    assert "Verification queued" in response.text
    wait = re.search(r"wait=(\d+)", response.text)
    assert wait, "the list follows the job"
    env.drain()
    report = ui.get(f"/verification?library={env.library_id}&wait={wait.group(1)}", htmx=True)
    html = report.text
    assert "hx-trigger" not in html  # the job ended: no more polling
    assert "2 findings" in html and "repairs off" in html
    missing = html[html.index('class="finding-missing"') :]
    assert f"{HEAT}-poster.jpg" in missing and ">reported</span>" in missing
    assert 'class="finding-modified"' in html
    assert f'href="/movies/{movie}"' in html

    # the movie's own verification repairs (the library's setting back on)
    env.container.publishing.update_settings(env.library_id, verify_repair=True)
    ui.post(f"/movies/{movie}/verify")
    env.drain()
    html = ui.get(f"/verification?movie={movie}").text
    assert ">repaired</span>" in html and "written again from the cache" in html
    assert (env.root / POSTER).exists()
    assert ui.post("/verification", {}).status_code == 422
    assert ui.post("/verification", {"library": "987654"}).status_code == 404
    plain = ui.post("/verification", {"library": str(env.library_id)}, htmx=False)
    assert plain.headers["location"] == f"/verification?library={env.library_id}"


CSRF_PATHS = (
    "/movies/{movie}/publish",
    "/movies/{movie}/verify",
    "/libraries/{library}/publishing",
    "/libraries/{library}/publish",
    "/libraries/{library}/verify",
    "/recycle-bin/{entry}/restore",
    "/recycle-bin/{entry}/purge",
    "/verification",
)


def test_csrf_is_enforced(ui: UI, env: PublishEnv, container: Container) -> None:
    movie, _ = published(ui, env)
    [entry] = container.publishing.recycle_bin()[0]
    jobs_before = container.jobs.list()[1]
    form = {"library": str(env.library_id), "profile": "jellyfin", "auto_publish": "on"}
    for path in CSRF_PATHS:
        url = path.format(movie=movie, library=env.library_id, entry=entry.id)
        assert ui.post(url, form, token="forged").status_code == 403, url
    assert container.jobs.list()[1] == jobs_before
    assert container.publishing.recycle_bin()[1] == 1
    assert container.publishing.settings(env.library_id).profile == "kodi"
    assert not container.libraries.get(env.library_id).auto_publish


def test_navigation_links(ui: UI) -> None:
    html = ui.get("/libraries").text
    assert 'href="/recycle-bin"' in html and 'href="/verification"' in html


# ---- the browser ------------------------------------------------------------


@pytest.mark.web
def test_browser_publish_verify_restore(
    live_server: Any, container: Container, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    from tests.web.test_browser import DESKTOP, PHONE, Console, chromium, log_in

    root = (tmp_path / "library").resolve()
    root.mkdir()
    env = PublishEnv(container, LibraryBuilder(root), root)
    movie = enriched(env)
    original_nfo = (root / NFO).read_bytes()
    shots = Path("/tmp/shots")
    shots.mkdir(exist_ok=True)
    base = live_server.url
    console = Console()
    with chromium() as browser:
        page = console.watch(browser.new_page(viewport=DESKTOP))
        log_in(page, base, container.api_key)
        page.goto(f"{base}/movies/{movie}#publish")
        panel = page.locator("#publish")

        # the dry run first: nothing is written
        panel.get_by_role("link", name="Preview").click()
        expect(panel.locator("tr.plan-create")).to_have_count(2)
        expect(panel.locator("tr.plan-replace")).to_have_count(1)
        assert not (root / POSTER).exists()
        panel.scroll_into_view_if_needed()
        panel.screenshot(path=str(shots / "publish-plan-preview.png"))

        # publish: a toast, the job followed to its end, the plan reloads by itself
        panel.get_by_role("button", name="Publish now").click()
        expect(page.locator(".toast", has_text="Publishing queued")).to_be_visible()
        expect(panel.locator("#publish-status")).to_contain_text(
            "Published: 2 created, 1 replaced.", timeout=20_000
        )
        expect(panel.locator("tr.plan-keep")).to_have_count(3)
        assert (root / POSTER).read_bytes() == image((1, 2, 3))
        panel.screenshot(path=str(shots / "publish-movie-panel.png"))

        # a published file deleted by hand: verification finds and repairs it
        (root / POSTER).unlink()
        page.goto(f"{base}/verification")
        page.get_by_role("button", name="Verify now").click()
        expect(page.locator(".toast", has_text="Verification queued")).to_be_visible()
        finding = page.locator("tr.finding-missing")
        expect(finding).to_contain_text("poster.jpg", timeout=20_000)
        expect(finding).to_contain_text("repaired")
        assert (root / POSTER).exists()
        page.screenshot(path=str(shots / "publish-verification.png"), full_page=True)

        # the NFO Metarr replaced comes back from the recycle bin, byte for byte
        page.get_by_role("link", name="Recycle bin").click()
        expect(page).to_have_url(re.compile(r"/recycle-bin$"))
        row = page.locator("tr", has_text=f"{HEAT}.nfo")
        expect(row).to_contain_text("replaced")
        page.screenshot(path=str(shots / "publish-recycle-bin.png"), full_page=True)
        row.get_by_role("button", name="Restore").click()
        expect(page.locator(".toast", has_text="Restored")).to_be_visible()
        expect(page.locator("#recycle-list")).to_contain_text("displaced by a restore")
        assert (root / NFO).read_bytes() == original_nfo
        page.screenshot(path=str(shots / "publish-recycle-restored.png"), full_page=True)

        page.goto(f"{base}/libraries/{env.library_id}")
        expect(page.locator("#publishing-form")).to_be_visible()
        page.locator("#publishing").screenshot(path=str(shots / "publish-library-settings.png"))

        # a phone: the tables scroll inside their panels, the page does not
        page.set_viewport_size(PHONE)
        page.goto(f"{base}/movies/{movie}#publish")
        page.locator("#publish").get_by_role("link", name="Preview").click()
        # the restored NFO is the person's again: publishing would replace it
        expect(page.locator("#publish tr.plan-replace")).to_contain_text(f"{HEAT}.nfo")
        page.locator("#publish").screenshot(path=str(shots / "publish-phone-plan.png"))
        page.goto(f"{base}/recycle-bin")
        page.screenshot(path=str(shots / "publish-phone-recycle-bin.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
    assert console.problems == []
