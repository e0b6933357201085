"""Libraries API: create, read, change, delete, and every invalid path."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest


def _problem(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = resp.json()
    return body


def _field_names(body: dict[str, object]) -> list[str]:
    errors = body.get("errors") or []
    assert isinstance(errors, list)
    return [str(e["field"]) for e in errors]


def test_health_needs_no_key(client: httpx.Client) -> None:
    resp = client.get("/api/v1/health", headers={"X-Api-Key": ""})
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["data_dir"]["status"] == "ok"
    # providers are reported (no keys in tests: off, with a message saying what to set)
    tmdb = next(p for p in body["providers"] if p["name"] == "tmdb")
    assert tmdb["state"] == "disabled" and "METARR_TMDB_API_KEY" in tmdb["message"]


def test_api_key_required(client: httpx.Client) -> None:
    resp = client.get("/api/v1/libraries", headers={"X-Api-Key": ""})
    _problem(resp, 401)
    resp = client.get("/api/v1/libraries", headers={"X-Api-Key": "wrong"})
    _problem(resp, 401)
    resp = client.get("/api/v1/libraries?apikey=test-key", headers={"X-Api-Key": ""})
    assert resp.status_code == 200


def test_library_crud(client: httpx.Client, tmp_path: Path) -> None:
    root = tmp_path / "movies"
    root.mkdir()
    resp = client.post(
        "/api/v1/libraries", json={"name": "Movies", "kind": "movies", "path": str(root)}
    )
    assert resp.status_code == 201, resp.text
    lib = resp.json()
    assert lib["id"] > 0 and lib["path"] == str(root) and lib["movie_count"] == 0
    assert client.get(f"/api/v1/libraries/{lib['id']}").json()["name"] == "Movies"
    assert [x["id"] for x in client.get("/api/v1/libraries").json()] == [lib["id"]]

    resp = client.patch(
        f"/api/v1/libraries/{lib['id']}",
        json={"name": "Films", "ignore_patterns": ["*.bak", "Extras-old"]},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"] == "Films"
    assert resp.json()["ignore_patterns"] == ["*.bak", "Extras-old"]

    (root / "keep.txt").write_text("media stays")
    assert client.delete(f"/api/v1/libraries/{lib['id']}").status_code == 204
    _problem(client.get(f"/api/v1/libraries/{lib['id']}"), 404)
    assert (root / "keep.txt").read_text() == "media stays"


def test_duplicate_name_conflicts(client: httpx.Client, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    assert client.post("/api/v1/libraries", json={"name": "X", "path": str(a)}).status_code == 201
    body = _problem(client.post("/api/v1/libraries", json={"name": "X", "path": str(b)}), 409)
    assert body["code"] == "conflict"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: str(t / "missing"), "does not exist"),
        (lambda t: str(t / "file.txt"), "not a directory"),
        (lambda t: "relative/path", "absolute"),
        (lambda t: str(t) + "/bad\x00name", "NUL"),
        (lambda t: str(t / "outer" / "inner"), "overlaps"),
        (lambda t: str(t), "contain"),
    ],
    ids=["missing", "file", "relative", "nul", "inside-other", "contains-other"],
)
def test_invalid_paths_name_the_field(
    client: httpx.Client, tmp_path: Path, make: object, message: str
) -> None:
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "outer" / "inner").mkdir(parents=True)
    assert (
        client.post(
            "/api/v1/libraries", json={"name": "Outer", "path": str(tmp_path / "outer")}
        ).status_code
        == 201
    )
    assert callable(make)
    resp = client.post("/api/v1/libraries", json={"name": "New", "path": make(tmp_path)})
    body = _problem(resp, 422)
    assert any(f.endswith("path") for f in _field_names(body)), body
    assert message in str(body), body


def test_unknown_kind_and_extra_fields(client: httpx.Client, tmp_path: Path) -> None:
    body = _problem(
        client.post(
            "/api/v1/libraries", json={"name": "T", "kind": "books", "path": str(tmp_path)}
        ),
        422,
    )
    assert any(f.endswith("kind") for f in _field_names(body))
    body = _problem(client.post("/api/v1/libraries", json={"name": "T"}), 422)
    assert any(f.endswith("path") for f in _field_names(body))


def test_bad_ignore_pattern(client: httpx.Client, tmp_path: Path) -> None:
    body = _problem(
        client.post(
            "/api/v1/libraries",
            json={"name": "T", "path": str(tmp_path), "ignore_patterns": ["/abs/*"]},
        ),
        422,
    )
    assert any("ignore_patterns" in f for f in _field_names(body))


def test_malformed_json_is_a_problem(client: httpx.Client) -> None:
    resp = client.post(
        "/api/v1/libraries", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    _problem(resp, 422)


def test_openapi_schema_served(client: httpx.Client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/libraries/{library_id}/scan" in spec["paths"]
    assert "/api/v1/movies" in spec["paths"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/movies/99999999999999999999",
        "/api/v1/movies?library_id=99999999999999999999",
        "/api/v1/libraries/0",
        "/api/v1/scans/-1",
        "/api/v1/jobs/99999999999999999999",
    ],
)
def test_out_of_range_ids_are_422_not_500(client: httpx.Client, path: str) -> None:
    _problem(client.get(path), 422)


def test_docs_page_works_offline(client: httpx.Client) -> None:
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    js = client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
