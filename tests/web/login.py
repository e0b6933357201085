"""Logging in to the UI in tests, through the real forms.

The first login of a fresh install goes through the setup page (which creates the admin
with the API key as proof); later ones through the login page.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import httpx

if TYPE_CHECKING:
    from playwright.sync_api import Page

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "test-admin-password"
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


def csrf_of(html: str) -> str:
    match = _CSRF_META.search(html)
    assert match, "page has no CSRF meta tag"
    return match.group(1)


def form_log_in(
    client: httpx.Client,
    key: str,
    next_url: str = "/libraries",
    *,
    password: str = ADMIN_PASSWORD,
    base: str = "",
) -> httpx.Response:
    """Post the setup form (no admin yet) or the login form; the answer, not followed."""
    page = client.get(f"{base}/login?next={quote(next_url, safe='/')}", follow_redirects=True)
    form = {
        "username": ADMIN_USERNAME,
        "password": password,
        "csrf_token": csrf_of(page.text),
        "next": next_url,
    }
    if urlsplit(str(page.url)).path == "/setup":
        form.update(password_again=password, api_key=key)
        return client.post(f"{base}/setup", data=form, follow_redirects=False)
    return client.post(f"{base}/login", data=form, follow_redirects=False)


def browser_log_in(page: Page, base: str, key: str, target: str = "/libraries") -> None:
    """Open `target`, get sent to setup or login, fill it in, and land on `target`."""
    from playwright.sync_api import expect

    page.goto(f"{base}{target}")
    expect(page).to_have_url(re.compile(r"/(setup|login)\?next="))
    if urlsplit(page.url).path == "/setup":
        page.fill("#username", ADMIN_USERNAME)
        page.fill("#password", ADMIN_PASSWORD)
        page.fill("#password_again", ADMIN_PASSWORD)
        page.fill("#api_key", key)
    else:
        page.fill("#username", ADMIN_USERNAME)
        page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}{target}")
