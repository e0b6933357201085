"""The admin login over HTTP: first-start setup with the API key, login, logout, CSRF."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from metarr.api.app import create_app
from metarr.db.tables_admin import AdminAccountRow
from tests.web.login import ADMIN_PASSWORD, ADMIN_USERNAME, csrf_of, form_log_in

if TYPE_CHECKING:
    from metarr.bootstrap import Container


def setup_form(client: httpx.Client, **changes: str) -> httpx.Response:
    page = client.get("/setup?next=/movies")
    assert page.status_code == 200
    form = {
        "csrf_token": csrf_of(page.text),
        "next": "/movies",
        "username": ADMIN_USERNAME,
        "password": ADMIN_PASSWORD,
        "password_again": ADMIN_PASSWORD,
        "api_key": "test-key",
        **changes,
    }
    return client.post("/setup", data=form, follow_redirects=False)


def field_error(html: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="{name}-error">([^<]*)</p>', html)
    assert match, f"no error shown for {name}"
    return match.group(1)


def stored_hash(container: Container) -> str:
    with container.db.session() as s:
        return s.scalars(select(AdminAccountRow.password_hash)).one()


def test_without_an_admin_login_leads_to_setup(client: httpx.Client) -> None:
    response = client.get("/login?next=/movies", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/setup?next=/movies"
    assert client.get("/libraries", follow_redirects=True).url.path == "/setup"
    page = client.get("/login")
    posted = client.post(
        "/login",
        data={"username": "x", "password": "y" * 8, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == "/setup"


def test_setup_page_is_an_accessible_form_without_inline_code(client: httpx.Client) -> None:
    html = client.get("/setup").text
    for name in ("username", "password", "password_again", "api_key"):
        assert f'<label for="{name}">' in html, name
        assert re.search(rf'<input id="{name}" name="{name}"[^>]*required', html), name
    assert 'name="csrf_token"' in html
    assert 'action="/setup"' in html
    assert " style=" not in html and "<style" not in html
    assert re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html) is None
    assert re.search(r"\son[a-z]+=", html) is None
    assert "metarr serve" in html


def test_setup_shows_every_problem_inline_and_creates_nothing(
    client: httpx.Client, container: Container
) -> None:
    response = setup_form(client, username=" ", password="short", api_key="wrong")
    assert response.status_code == 401
    assert "Enter a username" in field_error(response.text, "username")
    assert "at least 8 characters" in field_error(response.text, "password")
    assert "not correct" in field_error(response.text, "api_key")
    assert 'aria-invalid="true"' in response.text
    assert "short" not in response.text  # typed passwords and keys are never sent back
    response = setup_form(client, password_again=ADMIN_PASSWORD + "!")
    assert response.status_code == 422
    assert "not the same" in field_error(response.text, "password_again")
    assert f'value="{ADMIN_USERNAME}"' in response.text
    assert ADMIN_PASSWORD not in response.text and "test-key" not in response.text
    assert not container.admin.has_admin()
    assert client.get("/libraries", follow_redirects=False).status_code == 303


def test_setup_creates_the_admin_and_logs_in(client: httpx.Client, container: Container) -> None:
    response = setup_form(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/movies"
    assert "httponly" in response.headers["set-cookie"].lower()
    page = client.get("/movies", follow_redirects=False)
    assert page.status_code == 200
    assert container.admin.verify(ADMIN_USERNAME, ADMIN_PASSWORD)
    password_hash = stored_hash(container)
    assert password_hash.startswith("$argon2id$")
    assert password_hash not in page.text and ADMIN_PASSWORD not in page.text


def test_setup_is_closed_once_an_admin_exists(client: httpx.Client, container: Container) -> None:
    container.admin.create("owner", "owner password")
    response = client.get("/setup?next=/movies", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/movies"
    page = client.get("/login")
    attempt = client.post(
        "/setup",
        data={
            "csrf_token": csrf_of(page.text),
            "username": "intruder",
            "password": "intruder password",
            "password_again": "intruder password",
            "api_key": container.api_key,
        },
        follow_redirects=False,
    )
    assert attempt.status_code == 409
    assert "exists already" in attempt.text
    assert "metarr_session" not in attempt.headers.get("set-cookie", "")  # still not logged in
    assert client.get("/libraries", follow_redirects=False).status_code == 303
    assert container.admin.verify("owner", "owner password")
    assert not container.admin.verify("intruder", "intruder password")


def test_login_checks_username_and_password(client: httpx.Client, container: Container) -> None:
    container.admin.create(ADMIN_USERNAME, ADMIN_PASSWORD)
    page = client.get("/login?next=/movies")
    assert page.url.path == "/login"
    assert '<label for="username">' in page.text and '<label for="password">' in page.text
    assert " style=" not in page.text

    def post(**form: str) -> httpx.Response:
        data = {"csrf_token": csrf_of(page.text), "next": "/movies", **form}
        return client.post("/login", data=data, follow_redirects=False)

    wrong = post(username=ADMIN_USERNAME, password="wrong password")
    assert wrong.status_code == 401
    assert "not correct" in wrong.text
    assert f'value="{ADMIN_USERNAME}"' in wrong.text and "wrong password" not in wrong.text
    unknown = post(username="nobody", password=ADMIN_PASSWORD)
    assert unknown.status_code == 401 and "not correct" in unknown.text
    assert post(api_key=container.api_key).status_code == 401  # the API key no longer logs in
    assert client.get("/movies", follow_redirects=False).status_code == 303
    ok = post(username=ADMIN_USERNAME, password=ADMIN_PASSWORD)
    assert ok.status_code == 303
    assert ok.headers["location"] == "/movies"
    assert client.get("/movies", follow_redirects=False).status_code == 200


def test_logout_ends_the_session(client: httpx.Client, container: Container) -> None:
    assert form_log_in(client, container.api_key).status_code == 303
    page = client.get("/logout")
    assert "API key" not in page.text
    assert "password" in page.text
    refused = client.post("/logout", follow_redirects=False)
    assert refused.status_code == 403
    done = client.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert client.get("/libraries", follow_redirects=False).status_code == 303


def test_sessions_of_the_api_key_login_are_no_longer_valid(
    client: httpx.Client, container: Container
) -> None:
    container.admin.create(ADMIN_USERNAME, ADMIN_PASSWORD)
    old = URLSafeTimedSerializer(container.api_key, salt="metarr.web.session")
    client.cookies.set("metarr_session", old.dumps({"sid": "s" * 32, "auth": True}))
    assert client.get("/libraries", follow_redirects=False).status_code == 303


def test_a_new_password_ends_every_session(container: Container) -> None:
    app = create_app(container, close_on_shutdown=False, start_workers=False)
    with TestClient(app) as client:  # no API key header: only the session counts
        password_change_ends_sessions(client, container)


def password_change_ends_sessions(client: TestClient, container: Container) -> None:
    assert form_log_in(client, container.api_key).status_code == 303
    assert client.get("/libraries", follow_redirects=False).status_code == 200
    with client.websocket_connect("/api/v1/ws") as ws:
        assert ws.receive_json()["type"] == "resync"
    container.admin.set_password(ADMIN_USERNAME, "a brand new password")
    assert client.get("/libraries", follow_redirects=False).status_code == 303
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/api/v1/ws"):
        pass
    assert refused.value.code == 4401
    response = form_log_in(client, container.api_key, password="a brand new password")
    assert response.status_code == 303
    assert client.get("/libraries", follow_redirects=False).status_code == 200


def test_password_guessing_is_rate_limited(client: httpx.Client, container: Container) -> None:
    container.admin.create(ADMIN_USERNAME, ADMIN_PASSWORD)
    page = client.get("/login")
    data = {"csrf_token": csrf_of(page.text), "username": ADMIN_USERNAME, "password": "guess"}
    limit = container.settings.login_attempts_per_minute
    # a made-up API key header per attempt does not open a fresh window
    answers = [
        client.post("/login", data=data, headers={"X-Api-Key": f"guess-{n}"}).status_code
        for n in range(limit)
    ]
    assert answers == [401] * limit
    refused = client.post("/login", data={**data, "password": ADMIN_PASSWORD})
    assert refused.status_code == 429  # even the right password waits for the window
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["X-RateLimit-Limit"] == str(limit)
    assert client.get("/login").status_code == 200  # pages are not counted
