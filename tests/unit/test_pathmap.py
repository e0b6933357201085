"""Path mapping between Metarr's paths and a player's, both ways, without I/O."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metarr.domain.pathmap import (
    PathMapper,
    PathRule,
    PathStyle,
    as_directory,
    basename,
    is_absolute_path,
    is_within,
    map_path,
    normalize_path,
    parent_path,
    path_style,
    relative_to,
    split_path,
)


def test_longest_prefix_on_whole_components_and_the_rule_is_reported() -> None:
    rules = [
        PathRule("/data", "/mnt/data"),
        PathRule("/data/movies", "/srv/movies"),
        PathRule("/data/movies-4k", "/srv/uhd"),
    ]
    result = map_path("/data/movies/Heat (1995)/Heat (1995).mkv", rules)
    assert result.path == "/srv/movies/Heat (1995)/Heat (1995).mkv"
    assert result.rule is rules[1] and result.mapped
    assert map_path("/data/movies-4k/Heat (1995)", rules).rule is rules[2]
    assert map_path("/data/movies2/X", rules).path == "/mnt/data/movies2/X"
    assert map_path("/data/movies2/X", rules).rule is rules[0]


def test_a_prefix_never_matches_a_longer_sibling() -> None:
    result = map_path("/data/movies-4k/Heat (1995)", [PathRule("/data/movies", "/srv/movies")])
    assert result.rule is None and not result.mapped
    assert result.path == "/data/movies-4k/Heat (1995)"


def test_unmapped_paths_come_back_normalised_in_their_own_style() -> None:
    assert map_path("/srv/movies//X/./Y/", []).path == "/srv/movies/X/Y"
    assert map_path("D:/Movies/X", []).path == "D:\\Movies\\X"
    assert map_path("smb://nas/movies/X/", []).path == "smb://nas/movies/X"


def test_posix_to_windows_uses_backslashes_and_maps_back() -> None:
    mapper = PathMapper((PathRule("/srv/movies", "D:\\Movies"),))
    there = mapper.to_remote("/srv/movies/Amélie (2001)/Amélie (2001).mkv")
    assert there.path == "D:\\Movies\\Amélie (2001)\\Amélie (2001).mkv"
    # Kodi on Windows reports its own spelling, any case, trailing separator
    back = mapper.to_local("d:\\movies\\Amélie (2001)\\")
    assert back.path == "/srv/movies/Amélie (2001)"
    assert back.rule == PathRule("/srv/movies", "D:\\Movies")
    # a forward-slash spelling of the Windows side matches too
    assert mapper.to_local("D:/Movies/X/X.mkv").path == "/srv/movies/X/X.mkv"
    assert mapper.to_local("D:\\Movies-4K\\X").rule is None


def test_smb_and_nfs_urls() -> None:
    mapper = PathMapper(
        (
            PathRule("/srv/movies", "smb://nas/Movies"),
            PathRule("/srv/uhd", "nfs://nas/export/uhd"),
        )
    )
    assert mapper.to_remote("/srv/movies/X (2000)/X.mkv").path == "smb://nas/Movies/X (2000)/X.mkv"
    assert mapper.to_remote("/srv/uhd/Y/Y.mkv").path == "nfs://nas/export/uhd/Y/Y.mkv"
    # SMB: scheme, host and path compare without case; credentials do not matter
    assert mapper.to_local("SMB://NAS/movies/X (2000)/X.mkv").path == "/srv/movies/X (2000)/X.mkv"
    assert mapper.to_local("smb://kodi:pw@nas/Movies/X/X.mkv").path == "/srv/movies/X/X.mkv"
    # NFS paths are case-sensitive; the host is not
    assert mapper.to_local("nfs://NAS/export/uhd/Y").path == "/srv/uhd/Y"
    assert mapper.to_local("nfs://nas/export/UHD/Y").rule is None
    # another host or scheme never matches
    assert mapper.to_local("smb://other/Movies/X").rule is None
    assert mapper.to_local("nfs://nas/Movies/X").rule is None


def test_a_url_rule_keeps_its_credentials_in_the_output() -> None:
    mapper = PathMapper((PathRule("/srv/movies", "smb://kodi:secret@nas/movies"),))
    assert mapper.to_remote("/srv/movies/X/X.mkv").path == "smb://kodi:secret@nas/movies/X/X.mkv"


def test_unc_shares() -> None:
    mapper = PathMapper((PathRule("/srv/movies", "\\\\NAS\\media\\Movies"),))
    assert mapper.to_remote("/srv/movies/X/X.mkv").path == "\\\\NAS\\media\\Movies\\X\\X.mkv"
    assert mapper.to_local("\\\\nas\\MEDIA\\movies\\X\\X.mkv").path == "/srv/movies/X/X.mkv"
    assert mapper.to_local("\\\\other\\media\\Movies\\X").rule is None


def test_windows_rule_on_the_metarr_side() -> None:
    # reverse direction with a Windows "from" side: output gets backslashes
    rules = [PathRule("E:\\Media\\Movies", "/mnt/movies")]
    back = map_path("/mnt/movies/X/X.mkv", rules, reverse=True)
    assert back.path == "E:\\Media\\Movies\\X\\X.mkv"


def test_dot_dot_cannot_escape_a_rule() -> None:
    result = map_path("/data/movies/../secrets/x", [PathRule("/data/movies", "/srv/movies")])
    assert result.rule is None
    assert result.path == "/data/secrets/x"
    assert split_path("smb://nas/a/../../b").parts == ("b",)


def test_root_rules() -> None:
    assert map_path("/anything/X", [PathRule("/", "/srv")]).path == "/srv/anything/X"
    assert map_path("/data/X", [PathRule("/data", "/")]).path == "/X"
    assert map_path("/data", [PathRule("/data", "smb://nas/share")]).path == "smb://nas/share"
    assert map_path("/data", [PathRule("/data", "smb://nas")]).path == "smb://nas/"


def test_styles_and_helpers() -> None:
    assert path_style("/x") is PathStyle.POSIX
    assert path_style("C:\\x") is PathStyle.WINDOWS
    assert path_style("\\\\nas\\share") is PathStyle.UNC
    assert path_style("smb://nas/x") is PathStyle.URL
    assert is_absolute_path("nfs://nas/x") and is_absolute_path("D:/x")
    assert not is_absolute_path("movies/x") and not is_absolute_path("C:x")
    assert as_directory("/srv/movies/X") == "/srv/movies/X/"
    assert as_directory("/srv/movies/X/") == "/srv/movies/X/"
    assert as_directory("D:/Movies/X") == "D:\\Movies\\X\\"
    assert as_directory("smb://nas/movies") == "smb://nas/movies/"
    assert as_directory("/") == "/"
    assert parent_path("/srv/movies/X/X.mkv") == "/srv/movies/X"
    assert parent_path("D:\\Movies\\X\\X.mkv") == "D:\\Movies\\X"
    assert parent_path("/") == "/"
    assert basename("smb://nas/movies/X (2000)/") == "X (2000)"
    assert normalize_path("c:\\Movies\\", native=False) == "C:/Movies"
    assert relative_to("/srv/movies/A/B", "/srv/movies/") == "A/B"
    assert relative_to("/srv/movies-4k/X", "/srv/movies") is None
    assert is_within("/srv/movies", "/srv/movies")
    assert not is_within("/srv/moviesX", "/srv/movies")


@pytest.mark.parametrize(
    "remote",
    ["/mnt/kodi/movies", "D:\\Movies", "smb://nas/movies", "nfs://nas/export/movies", "\\\\nas\\m"],
)
def test_kodi_answers_map_back_to_the_same_item(remote: str) -> None:
    mapper = PathMapper((PathRule("/srv/movies", remote),))
    local = "/srv/movies/Léon (1994)/Léon (1994).mkv"
    there = mapper.to_remote(local)
    assert there.mapped
    assert mapper.to_local(there.path).path == local


_COMPONENT = st.text(
    alphabet=st.characters(exclude_characters="/\\\x00", exclude_categories=["Cs"]),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and s not in (".", ".."))


@given(
    parts=st.lists(_COMPONENT, min_size=0, max_size=5),
    remote=st.sampled_from(["/mnt/x", "Z:\\Media", "smb://host/share", "nfs://h/e", "\\\\h\\s"]),
)
def test_round_trip_for_any_path_below_the_rule(parts: list[str], remote: str) -> None:
    mapper = PathMapper((PathRule("/srv/movies", remote),))
    local = "/".join(["/srv/movies", *parts])
    there = mapper.to_remote(local)
    assert there.mapped
    assert mapper.to_local(there.path).path == local
