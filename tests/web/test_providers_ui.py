"""The Providers page over HTTP (cards, write-only keys, key test, priorities, limits, CSRF)
and in Chromium (set a key, test it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from metarr.api.app import create_app
from metarr.bootstrap import Container
from metarr.testing.fake_providers import FakeProviderServer
from tests.web.test_schedule_ui import UI

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer(FIXTURES) as server:
        yield server


@pytest.fixture
def ui(container: Container) -> Iterator[UI]:
    app = create_app(container, close_on_shutdown=False, start_workers=False, start_scheduler=False)
    with TestClient(app) as tc:
        yield UI(tc, container.api_key)


def card_form(container: Container, name: str, **changes: str) -> dict[str, str]:
    """A provider card as a browser submits it: shown values, then `changes`."""
    s = container.providers.get(name).settings
    form = {
        "api_key": "",
        "language": s.language,
        "region": s.region or "",
        "certification_country": s.certification_country,
        "rate_limit": f"{s.rate_limit:g}",
        "base_url": s.base_url,
    }
    if s.enabled:
        form["enabled"] = "on"
    for key, value in changes.items():
        if key == "enabled" and value == "":
            form.pop("enabled", None)
        else:
            form[key] = value
    return form


def test_page_shows_every_provider_priorities_and_limits(ui: UI) -> None:
    page = ui.get("/providers")
    assert page.status_code == 200
    html = page.text
    assert re.search(r'<a href="/providers"\s+class="active" aria-current="page"', html)
    for name in ("tmdb", "fanart", "omdb"):
        assert f'id="provider-{name}"' in html
        assert f'hx-post="/providers/{name}/test"' in html
    assert html.count('data-state="no_key"') == 3 and "No key" in html
    assert 'id="priorities"' in html and 'name="plot.0"' in html
    assert 'name="ratings.0"' not in html  # ratings are kept per source, no priority
    assert 'id="asset-limits"' in html and 'name="limit.fanart" min="0" max="20"' in html
    assert re.search(r'name="limit.fanart"[^>]*value="3"', html)


def test_save_a_key_it_is_never_shown(ui: UI, container: Container) -> None:
    secret = "tmdb-secret-0123456789-wxyz"
    response = ui.post("/providers/tmdb", card_form(container, "tmdb", api_key=secret))
    assert response.status_code == 200, response.text
    assert secret not in response.text
    assert "key set …wxyz" in response.text and "saved here" in response.text
    assert "tmdb saved." in response.text.lower()
    assert container.providers.providers.tmdb.config.key == secret
    assert secret not in ui.get("/providers").text
    assert container.providers.get("tmdb").settings.sources["language"] == "default"

    # a blank key keeps it; "remove" drops it
    ui.post("/providers/tmdb", card_form(container, "tmdb", language="fr-FR"))
    assert container.providers.providers.tmdb.config.key == secret
    assert container.providers.get("tmdb").settings.language == "fr-FR"
    ui.post("/providers/tmdb", card_form(container, "tmdb", remove_key="on"))
    assert container.providers.providers.tmdb.config.key is None

    # without htmx: a redirect back to the card
    plain = ui.post("/providers/omdb", card_form(container, "omdb", enabled=""), htmx=False)
    assert plain.status_code == 303 and plain.headers["location"] == "/providers#provider-omdb"
    assert container.providers.get("omdb").state == "disabled"


def test_refused_values_come_back_beside_their_field(ui: UI, container: Container) -> None:
    response = ui.post("/providers/fanart", card_form(container, "fanart", rate_limit="0"))
    assert response.status_code == 422
    assert 'class="field has-error"' in response.text
    assert "rate_limit must be above 0" in response.text
    assert 'value="0"' in response.text  # what was typed stays
    bad_url = ui.post("/providers/fanart", card_form(container, "fanart", base_url="nope"))
    assert bad_url.status_code == 422 and '<details class="advanced" open>' in bad_url.text
    full = ui.post("/providers/fanart", card_form(container, "fanart", language="x"), htmx=False)
    assert (
        full.status_code == 422 and "<html" in full.text and "language must look like" in full.text
    )
    assert container.providers.get("fanart").settings.sources["rate_limit"] == "default"

    assert ui.post("/providers/imdb", {}).status_code == 404
    assert (
        ui.post("/providers/tmdb", card_form(container, "tmdb"), token="wrong").status_code == 403
    )


def test_key_test_shows_the_result_inline(
    ui: UI, container: Container, fake: FakeProviderServer
) -> None:
    container.providers.update("omdb", {"base_url": fake.omdb_base_url})
    none = ui.post("/providers/omdb/test", {"api_key": ""})
    assert none.status_code == 200 and "no API key" in none.text

    container.providers.update("omdb", {"api_key": fake.omdb_key})
    ok = ui.post("/providers/omdb/test", {"api_key": ""})
    assert 'id="test-omdb" class="key-test ok"' in ok.text and "Key works." in ok.text
    assert 'id="provider-omdb-status" class="provider-status" hx-swap-oob="true"' in ok.text

    typed = ui.post("/providers/omdb/test", {"api_key": "typed-bad-key"})
    assert "Test failed:" in typed.text and "key invalid" in typed.text
    assert "typed-bad-key" not in typed.text
    assert container.providers.get("omdb").state == "ok"  # the typed key is not saved

    fake.omdb.valid_keys = set()
    saved_bad = ui.post("/providers/omdb/test", {"api_key": ""})
    assert 'data-state="key_invalid"' in saved_bad.text and "Key invalid" in saved_bad.text
    page = ui.post("/providers/omdb/test", {"api_key": ""}, htmx=False)
    assert page.status_code == 200 and "<html" in page.text and "Test failed:" in page.text
    assert ui.post("/providers/imdb/test", {}).status_code == 404


def test_priorities_and_limits_forms(ui: UI, container: Container) -> None:
    saved = ui.post("/providers/priorities", {"plot.0": "nfo", "plot.1": "tmdb"})
    assert saved.status_code == 200 and "Priorities saved." in saved.text
    assert container.providers.priorities().overrides == {"plot": ("nfo", "tmdb")}
    assert container.enrichment.enricher.options.field_priorities == {"plot": ("nfo", "tmdb")}
    row = re.search(r'<div id="priority-plot".*?</div>', saved.text, re.DOTALL)
    assert row and "custom" in row.group(0)

    twice = ui.post("/providers/priorities", {"title.0": "tmdb", "title.1": "tmdb"})
    assert twice.status_code == 422 and "title: tmdb is listed twice" in twice.text
    assert container.providers.priorities().overrides == {"plot": ("nfo", "tmdb")}

    reset = ui.post("/providers/priorities", {"plot.0": "nfo", "reset": "1"}, htmx=False)
    assert reset.status_code == 303 and container.providers.priorities().overrides == {}

    limits = ui.post("/providers/asset-limits", {"limit.fanart": "1", "limit.poster": "2"})
    assert limits.status_code == 200 and "Artwork limits saved." in limits.text
    assert container.enrichment.enricher.options.limits["fanart"] == 1
    assert container.enrichment.enricher.options.limits["poster"] == 2
    bad = ui.post("/providers/asset-limits", {"limit.fanart": "2.5"})
    assert bad.status_code == 422 and 'id="limit-fanart-error"' in bad.text
    bad = ui.post("/providers/asset-limits", {"limit.banner": "21"})
    assert bad.status_code == 422 and "between 0 and 20" in bad.text
    assert container.providers.asset_limits().overrides == {"fanart": 1, "poster": 2}
    assert ui.post("/providers/asset-limits", {"reset": "1"}).status_code == 200
    assert container.providers.asset_limits().overrides == {}


# ---- the browser ------------------------------------------------------------


@pytest.mark.web
def test_browser_set_a_key_and_test_it(
    live_server: Any, container: Container, fake: FakeProviderServer
) -> None:
    from playwright.sync_api import expect

    from tests.web.test_browser import DESKTOP, Console, chromium, log_in, shot

    base = live_server.url
    console = Console()
    with chromium() as browser:
        page = console.watch(browser.new_page(viewport=DESKTOP))
        log_in(page, base, container.api_key)
        page.get_by_role("link", name="Providers").click()
        expect(page).to_have_url(f"{base}/providers")
        card = page.locator("#provider-tmdb")
        expect(card.locator(".provider-status .badge")).to_have_text("No key")

        page.fill("#tmdb-key", fake.tmdb_key)
        card.locator("summary", has_text="Advanced").click()
        page.fill("#tmdb-base_url", fake.tmdb_base_url)
        card.get_by_role("button", name="Save").click()
        expect(page.locator(".toast", has_text="TMDB saved.")).to_be_visible()
        expect(card.locator(".key-status")).to_contain_text(f"key set …{fake.tmdb_key[-4:]}")
        expect(card.locator(".provider-status .badge")).to_have_text("OK")
        expect(page.locator("#tmdb-key")).to_have_value("")  # write-only

        card.get_by_role("button", name="Test key").click()
        expect(page.locator("#test-tmdb")).to_contain_text("Key works.")
        shot(page, "providers-key-ok")

        page.fill("#tmdb-key", "0" * 32)  # typed, not saved
        card.get_by_role("button", name="Test key").click()
        expect(page.locator("#test-tmdb")).to_contain_text("Test failed: key invalid")
        expect(card.locator(".provider-status .badge")).to_have_text("OK")
        assert fake.tmdb_key not in page.content()
        card.get_by_role("button", name="Save").click()  # now it is saved: the card says so
        expect(card.locator(".key-status")).to_contain_text("key set …0000")  # card swapped
        card.get_by_role("button", name="Test key").click()
        expect(page.locator("#test-tmdb")).to_contain_text("key invalid")
        expect(card.locator(".provider-status .badge")).to_have_text("Key invalid")
        expect(card.locator(".provider-stats dd").first).not_to_have_text("0")

        page.select_option("select[name='plot.0']", "nfo")
        page.select_option("select[name='plot.1']", "tmdb")
        page.get_by_role("button", name="Save priorities").click()
        expect(page.locator("#priority-plot .badge", has_text="custom")).to_be_visible()
        page.fill("#limit-fanart", "2")
        page.get_by_role("button", name="Save limits").click()
        expect(page.locator(".toast", has_text="Artwork limits saved.")).to_be_visible()
        assert container.providers.asset_limits().limits["fanart"] == 2
        shot(page, "providers-page")
    assert console.problems == [], console.problems
