"""Webhook rules without I/O: path mapping, event classification, payload typing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metarr.api.webhook_schemas import InvalidPayload, interpret, parse_body, to_event
from metarr.domain.media import ExternalIds
from metarr.domain.webhooks import (
    ManagerEvent,
    PathMapping,
    WebhookAction,
    WebhookSource,
    find_library,
    health_level,
    hint_ids,
    is_absolute_manager_path,
    map_manager_path,
    normalize_manager_path,
    plan_event,
    relative_to_root,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
ALL_PAYLOADS = sorted(FIXTURES.glob("*/*.json"))


def mapping(from_path: str, to_path: str, id: int = 1) -> PathMapping:
    return PathMapping(id=id, source="radarr", from_path=from_path, to_path=to_path)


# -- path mapping ---------------------------------------------------------------------


def test_longest_prefix_on_whole_components() -> None:
    maps = [
        mapping("/data", "/mnt/data", 1),
        mapping("/data/movies", "/srv/movies", 2),
        mapping("/data/movies-4k", "/srv/uhd", 3),
    ]
    assert map_manager_path("/data/movies/Heat (1995)", maps).path == "/srv/movies/Heat (1995)"
    assert map_manager_path("/data/movies-4k/Heat (1995)", maps).path == "/srv/uhd/Heat (1995)"
    assert map_manager_path("/data/movies2/X", maps).path == "/mnt/data/movies2/X"
    used = map_manager_path("/data/movies/X", maps).mapping
    assert used is not None and used.id == 2


def test_prefix_never_matches_a_longer_sibling() -> None:
    maps = [mapping("/data/movies", "/srv/movies")]
    result = map_manager_path("/data/movies-4k/Heat (1995)", maps)
    assert result.mapping is None
    assert result.path == "/data/movies-4k/Heat (1995)"


@pytest.mark.parametrize(
    ("from_path", "to_path", "path", "expected"),
    [
        ("/data/movies/", "/srv/movies", "/data/movies/Heat (1995)", "/srv/movies/Heat (1995)"),
        ("/data/movies", "/srv/movies/", "/data/movies/Heat (1995)/", "/srv/movies/Heat (1995)"),
        ("/data/movies", "/srv/movies", "/data/movies", "/srv/movies"),
        ("/data/movies", "/srv/movies", "/data/movies/", "/srv/movies"),
        ("/data//movies", "/srv/movies", "/data/movies/./X", "/srv/movies/X"),
        ("/", "/srv", "/anything/X", "/srv/anything/X"),
        ("/data", "/", "/data/X", "/X"),
    ],
)
def test_trailing_slashes_and_odd_spellings(
    from_path: str, to_path: str, path: str, expected: str
) -> None:
    assert map_manager_path(path, [mapping(from_path, to_path)]).path == expected


def test_windows_paths_are_converted() -> None:
    maps = [mapping("D:\\Movies", "/srv/movies")]
    result = map_manager_path("D:\\Movies\\X (2000)", maps)
    assert result.path == "/srv/movies/X (2000)"
    # drive letters and folder names on Windows compare without case
    assert map_manager_path("d:\\movies\\X (2000)\\", maps).path == "/srv/movies/X (2000)"
    # a longer sibling still does not match
    assert map_manager_path("D:\\Movies-4K\\X (2000)", maps).mapping is None
    # a mapping written with forward slashes matches a backslash path and back
    assert map_manager_path("D:\\Movies\\Y", [mapping("D:/Movies/", "/m")]).path == "/m/Y"
    assert map_manager_path("D:/Movies/Y", maps).path == "/srv/movies/Y"
    # UNC shares
    unc = [mapping("\\\\nas\\media\\Movies", "/srv/movies")]
    assert map_manager_path("\\\\NAS\\media\\Movies\\Z", unc).path == "/srv/movies/Z"
    assert map_manager_path("\\\\other\\media\\Movies\\Z", unc).mapping is None


def test_posix_mapping_never_matches_windows_path_and_case_matters_on_posix() -> None:
    maps = [mapping("/Movies", "/srv/movies")]
    assert map_manager_path("C:\\Movies\\X", maps).mapping is None
    assert map_manager_path("/movies/X", maps).mapping is None


def test_unmapped_path_is_used_as_is() -> None:
    assert map_manager_path("/movies/Heat (1995)", []).path == "/movies/Heat (1995)"
    assert map_manager_path("D:\\Movies\\X (2000)", []).path == "D:/Movies/X (2000)"


def test_dot_dot_cannot_escape_a_mapping() -> None:
    maps = [mapping("/data/movies", "/srv/movies")]
    result = map_manager_path("/data/movies/../secrets/X", maps)
    assert result.mapping is None
    assert result.path == "/data/secrets/X"


def test_normalize_and_absolute() -> None:
    assert normalize_manager_path("/data/movies/") == "/data/movies"
    assert normalize_manager_path("/") == "/"
    assert normalize_manager_path("c:\\Movies\\") == "C:/Movies"
    assert normalize_manager_path("D:\\") == "D:/"
    assert normalize_manager_path("\\\\nas\\share\\x") == "//nas/share/x"
    assert is_absolute_manager_path("/x")
    assert is_absolute_manager_path("C:\\x")
    assert is_absolute_manager_path("\\\\nas\\share")
    assert not is_absolute_manager_path("movies/x")
    assert not is_absolute_manager_path("C:x")


def test_relative_to_root_and_find_library() -> None:
    assert relative_to_root("/srv/movies/Heat (1995)", "/srv/movies") == "Heat (1995)"
    assert relative_to_root("/srv/movies/A/B", "/srv/movies/") == "A/B"
    assert relative_to_root("/srv/movies", "/srv/movies") == ""
    assert relative_to_root("/srv/movies-4k/X", "/srv/movies") is None
    libs = [(1, "/srv/movies"), (2, "/srv/movies-4k"), (3, "/srv")]
    assert find_library("/srv/movies-4k/X (2000)", libs) == (2, "X (2000)")
    assert find_library("/srv/movies/X (2000)", libs) == (1, "X (2000)")
    assert find_library("/srv/other/X", libs) == (3, "other/X")
    assert find_library("/elsewhere/X", libs) is None


# -- classification -------------------------------------------------------------------


def radarr(event_type: str, **kw: object) -> ManagerEvent:
    return ManagerEvent(source=WebhookSource.RADARR, event_type=event_type, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("event_type", "action", "kind"),
    [
        ("Test", WebhookAction.TEST, "webhook.received"),
        ("Grab", WebhookAction.RECORD, "download.grabbed"),
        ("Download", WebhookAction.SCAN, "webhook.received"),
        ("Rename", WebhookAction.SCAN, "webhook.received"),
        ("MovieAdded", WebhookAction.RECORD, "movie.added"),
        ("MovieDelete", WebhookAction.SOFT_DELETE, "movie.deleted"),
        ("MovieFileDelete", WebhookAction.SCAN, "webhook.received"),
        ("Health", WebhookAction.RECORD, "health.issue"),
        ("HealthRestored", WebhookAction.RECORD, "health.restored"),
        ("ApplicationUpdate", WebhookAction.RECORD, "application.update"),
        ("ManualInteractionRequired", WebhookAction.RECORD, "manual_interaction"),
        ("SomethingNew", WebhookAction.IGNORE, "webhook.received"),
    ],
)
def test_radarr_events_map_to_actions(event_type: str, action: WebhookAction, kind: str) -> None:
    plan = plan_event(radarr(event_type, title="Heat", year=1995))
    assert (plan.action, plan.kind) == (action, kind)
    assert plan.level in ("info", "warning", "error")
    assert plan.message


def test_downloads_need_their_folder_but_file_deletes_do_not() -> None:
    assert plan_event(radarr("Download")).folder_must_exist
    assert plan_event(radarr("Rename")).folder_must_exist
    assert not plan_event(radarr("MovieFileDelete", delete_reason="manual")).folder_must_exist


def test_upgrade_file_delete_keeps_everything() -> None:
    for reason in ("upgrade", "Upgrade"):
        plan = plan_event(radarr("MovieFileDelete", delete_reason=reason))
        assert plan.action is WebhookAction.KEEP
        assert "metadata kept" in plan.message
    assert plan_event(radarr("MovieFileDelete", delete_reason="missingFromDisk")).action is (
        WebhookAction.SCAN
    )


def test_download_message_says_upgrade() -> None:
    plan = plan_event(radarr("Download", title="Heat", year=1995, is_upgrade=True))
    assert plan.message == "Radarr imported an upgrade of Heat (1995)"
    assert plan_event(radarr("Download", title="Heat")).message == "Radarr imported Heat"


@pytest.mark.parametrize("source", [WebhookSource.SONARR, WebhookSource.LIDARR])
def test_tv_and_music_are_ignored_for_now(source: WebhookSource) -> None:
    plan = plan_event(ManagerEvent(source=source, event_type="Download"))
    assert plan.action is WebhookAction.IGNORE
    assert "comes later" in plan.message


def test_health_levels() -> None:
    assert health_level("error") == "error"
    assert health_level("Warning") == "warning"
    assert health_level("notice") == "info"
    assert health_level("ok") == "info"
    assert health_level(None) == "warning"
    assert plan_event(radarr("Health", level="error")).level == "error"


def test_hint_ids_keep_only_plausible_values() -> None:
    assert hint_ids(0, "5678") == ExternalIds()
    assert hint_ids(603, " tt0133093 ") == ExternalIds(tmdb=603, imdb="tt0133093")
    assert hint_ids(None, None).is_empty()


# -- payloads -------------------------------------------------------------------------


def test_parse_body_refusals() -> None:
    for body, reason in [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"movie": {}}', "eventType"),
        (b'{"eventType": ""}', "eventType"),
        (b'{"eventType": 5}', "eventType"),
        (b'{"eventType": "Test", "x": NaN}', "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
    ]:
        with pytest.raises(InvalidPayload, match=reason):
            parse_body(body)
    assert parse_body(b'{"eventType": "Test"}') == {"eventType": "Test"}


@pytest.mark.parametrize("path", ALL_PAYLOADS, ids=lambda p: p.name)
def test_every_recorded_payload_is_typed(path: Path) -> None:
    data = parse_body(path.read_bytes())
    source = WebhookSource(path.parent.name)
    event = to_event(source, data)
    assert event.source is source
    assert event.event_type == data["eventType"]
    plan_event(event)


def test_radarr_payload_fields() -> None:
    upgrade = to_event(
        WebhookSource.RADARR,
        json.loads((FIXTURES / "radarr" / "radarr_movie_imported_upgrade.json").read_text()),
    )
    assert upgrade.is_upgrade and upgrade.deleted_files
    assert upgrade.ids == ExternalIds(tmdb=524047, imdb="tt7737786")
    assert upgrade.folder_path == "/home36/adbtech/media/Movies/Greenland (2020)"
    assert upgrade.display_title == "Greenland (2020)"  # year from remoteMovie

    deleted = to_event(
        WebhookSource.RADARR,
        json.loads((FIXTURES / "radarr" / "radarr_movie_deleted.json").read_text()),
    )
    assert deleted.deleted_files is True and deleted.year == 2016  # from releaseDate

    test = to_event(
        WebhookSource.RADARR,
        json.loads((FIXTURES / "radarr" / "radarr_test_current_source.json").read_text()),
    )
    assert test.ids.is_empty()  # tmdb 0 and imdb "5678" are placeholders
    assert test.folder_path == "C:\\testpath"

    grab = to_event(
        WebhookSource.RADARR,
        json.loads((FIXTURES / "radarr" / "radarr_movie_grabbed.json").read_text()),
    )
    assert grab.release_title == "Greenland 2020 1080p AMZN WEBRip DD5 1 X 264-EVO"


def test_current_radarr_manual_interaction_shape() -> None:
    event = to_event(
        WebhookSource.RADARR,
        {
            "eventType": "ManualInteractionRequired",
            "movie": {"title": "Heat", "year": 1995, "folderPath": "/m/Heat (1995)"},
            "downloadStatus": "warning",
            "downloadStatusMessages": [{"title": "x", "messages": ["No files found"]}],
            "instanceName": "Radarr",
        },
    )
    plan = plan_event(event)
    assert plan.kind == "manual_interaction" and plan.level == "warning"
    assert "No files found" in plan.message


def test_shape_errors_are_reported_not_raised() -> None:
    event, problem = interpret(WebhookSource.RADARR, {"eventType": "Download", "movie": "oops"})
    assert event is None
    assert problem is not None and "movie" in problem


def test_nul_characters_are_dropped() -> None:
    event = to_event(
        WebhookSource.RADARR,
        {"eventType": "Grab", "movie": {"title": "He\u0000at", "folderPath": "/m/\u0000x"}},
    )
    assert event.title == "Heat" and event.folder_path == "/m/x"
