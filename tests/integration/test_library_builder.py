"""The sample-library builder writes every layout with real, unique media files."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from defusedxml import ElementTree
from PIL import Image

from metarr.media.probe import FfprobeProber, MediaInfoProber
from metarr.testing.library_builder import (
    VIDEO_KINDS,
    ArtworkStyle,
    LibraryBuilder,
    PartStyle,
    VideoKind,
)

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


@pytest.fixture(scope="module")
def templates_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Template videos shared by every test of the session (made on first use)."""
    return tmp_path_factory.getbasetemp() / "media-templates"


@pytest.fixture
def builder(tmp_path: Path, templates_dir: Path) -> LibraryBuilder:
    """A builder writing into an empty library root."""
    return LibraryBuilder(tmp_path / "Movies", templates_dir)


def names(folder: Path) -> set[str]:
    """Every path under `folder`, relative, as text."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def digest(path: Path) -> str:
    """SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_templates_are_made_once_and_reused(templates_dir: Path, tmp_path: Path) -> None:
    first = LibraryBuilder(tmp_path / "a", templates_dir).video_template("mkv")
    stamp = first.stat().st_mtime_ns
    second = LibraryBuilder(tmp_path / "b", templates_dir).video_template("mkv")
    assert second == first
    assert second.stat().st_mtime_ns == stamp
    assert first.parent == templates_dir
    assert first.stat().st_size < 64_000


@pytest.mark.parametrize("kind", VIDEO_KINDS)
def test_unique_copies_differ_and_stay_readable(builder: LibraryBuilder, kind: VideoKind) -> None:
    a = builder.video(f"a/copy.{kind}", kind)
    b = builder.video(f"b/copy.{kind}", kind)
    assert digest(a) != digest(b)
    template = builder.template_bytes(kind)
    for copy in (a, b):
        assert copy.stat().st_size > len(template)
        for prober in (MediaInfoProber(), FfprobeProber()):
            result = prober.probe(str(copy))
            assert result.ok, (prober.name, result.error)
            assert [s.kind for s in result.streams][:2] == ["video", "audio"]


@pytest.mark.parametrize("kind", VIDEO_KINDS)
def test_unique_copies_give_ffprobe_no_warning(builder: LibraryBuilder, kind: VideoKind) -> None:
    # The Matroska Void goes inside the Segment (size patched), the AVI JUNK
    # inside the RIFF: a strict reader finds nothing out of place.
    copy = builder.video(f"copy.{kind}", kind)
    done = subprocess.run(
        ["ffprobe", "-v", "warning", str(copy)], capture_output=True, text=True, check=True
    )
    assert done.stderr == ""


def test_folder_movie_has_kodi_names_and_nfo(builder: LibraryBuilder) -> None:
    folder = builder.movie("The Matrix", 1999, tmdb=603, imdb="tt0133093", actors=["Keanu Reeves"])
    assert folder == builder.root / "The Matrix (1999)"
    assert names(folder) == {
        "The Matrix (1999).mkv",
        "The Matrix (1999).nfo",
        "The Matrix (1999)-poster.jpg",
        "The Matrix (1999)-fanart.jpg",
        ".actors",
        ".actors/Keanu_Reeves.jpg",
    }
    root = ElementTree.fromstring((folder / "The Matrix (1999).nfo").read_bytes())
    assert root.tag == "movie"
    assert root.findtext("title") == "The Matrix"
    assert root.findtext("year") == "1999"
    assert root.findtext("plot")
    assert root.findtext("genre") == "Drama"
    assert root.findtext("actor/name") == "Keanu Reeves"
    ids = {u.get("type"): (u.text, u.get("default")) for u in root.findall("uniqueid")}
    assert ids == {"tmdb": ("603", "true"), "imdb": ("tt0133093", None)}
    built = builder.movies[-1]
    assert built.video == folder / "The Matrix (1999).mkv"
    assert built.nfos == (folder / "The Matrix (1999).nfo",)
    assert (built.tmdb, built.imdb) == (603, "tt0133093")
    assert set(built.files) == {p for p in folder.rglob("*") if p.is_file()}


def test_nfo_without_ids_has_no_uniqueid(builder: LibraryBuilder) -> None:
    folder = builder.movie("Nameless", 2001)
    root = ElementTree.fromstring((folder / "Nameless (2001).nfo").read_bytes())
    assert root.findall("uniqueid") == []
    assert root.findtext("actor/name")  # a placeholder cast member


def test_nfo_variants(builder: LibraryBuilder) -> None:
    url = builder.movie("Url", 2000, nfo="url", tmdb=11, imdb="tt0000011")
    assert (url / "Url (2000).nfo").read_text().split() == [
        "https://www.themoviedb.org/movie/11",
        "https://www.imdb.com/title/tt0000011/",
    ]
    broken = builder.movie("Broken", 2000, nfo="broken")
    with pytest.raises(ElementTree.ParseError):
        ElementTree.fromstring((broken / "Broken (2000).nfo").read_bytes())
    conflict = builder.movie("Clash", 2000, nfo="conflict", tmdb=100)
    tmdb_ids = {
        name: ElementTree.fromstring((conflict / name).read_bytes()).findtext(
            "uniqueid[@type='tmdb']"
        )
        for name in ("Clash (2000).nfo", "movie.nfo")
    }
    assert tmdb_ids == {"Clash (2000).nfo": "100", "movie.nfo": "101"}
    assert [p.name for p in builder.movies[-1].nfos] == ["Clash (2000).nfo", "movie.nfo"]
    custom = builder.movie("Custom", 2000, nfo="<tvshow><title>x</title></tvshow>")
    assert (custom / "Custom (2000).nfo").read_text() == "<tvshow><title>x</title></tvshow>"
    named = builder.movie("Named", 2000, nfo_name="movie")
    assert "movie.nfo" in names(named)
    assert "Named (2000).nfo" not in names(named)
    bare = builder.movie("Bare", 2000, nfo=False, artwork=())
    assert names(bare) == {"Bare (2000).mkv"}
    assert builder.movies[-1].nfos == ()


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("kodi", {"M (2000)-poster.jpg", "M (2000)-fanart.jpg", "M (2000)-fanart2.jpg",
                  "M (2000)-clearlogo.png", "M (2000)-discart.png", "M (2000)-landscape.jpg"}),
        ("short", {"poster.jpg", "fanart.jpg", "fanart2.jpg", "clearlogo.png", "discart.png",
                   "landscape.jpg"}),
        ("jellyfin", {"folder.jpg", "backdrop.jpg", "backdrop2.jpg", "logo.png", "disc.png",
                      "thumb.jpg"}),
    ],
)  # fmt: skip
def test_artwork_styles(builder: LibraryBuilder, style: ArtworkStyle, expected: set[str]) -> None:
    artwork = ("poster", "fanart", "fanart2", "clearlogo", "discart", "landscape")
    folder = builder.movie("M", 2000, nfo=False, artwork=artwork, artwork_style=style)
    assert names(folder) == expected | {"M (2000).mkv"}


def test_images_are_real_unique_and_sized(builder: LibraryBuilder) -> None:
    one = builder.movie("One", 2000, artwork=("poster", "fanart", "clearlogo"))
    two = builder.movie("Two", 2000, artwork=("poster",))
    sizes = {}
    for path in one.iterdir():
        if path.suffix in (".jpg", ".png"):
            with Image.open(path) as image:
                image.verify()
                sizes[path.name.split("-")[-1]] = (image.format, image.size)
    assert sizes == {
        "poster.jpg": ("JPEG", (40, 60)),
        "fanart.jpg": ("JPEG", (64, 36)),
        "clearlogo.png": ("PNG", (80, 31)),
    }
    assert digest(one / "One (2000)-poster.jpg") != digest(two / "Two (2000)-poster.jpg")


def test_sidecars_extras_and_unknown_files(builder: LibraryBuilder) -> None:
    folder = builder.movie(
        "Full",
        2010,
        subtitles=(("en", False), ("fr", True), "de.sdh"),
        trailer=True,
        sample=True,
        extras=("trailers/Teaser", "behind the scenes/Making Of.mp4"),
        theme=True,
        unknown_files=("notes.txt", "RARBG.txt"),
        artwork=(),
        nfo=False,
    )
    assert names(folder) == {
        "Full (2010).mkv",
        "Full (2010).en.srt",
        "Full (2010).fr.forced.srt",
        "Full (2010).de.sdh.srt",
        "Full (2010)-trailer.mkv",
        "Full (2010)-sample.mkv",
        "trailers",
        "trailers/Teaser.mkv",
        "behind the scenes",
        "behind the scenes/Making Of.mp4",
        "theme.mp3",
        "notes.txt",
        "RARBG.txt",
    }
    assert "-->" in (folder / "Full (2010).fr.forced.srt").read_text()
    theme = MediaInfoProber().probe(str(folder / "theme.mp3"))
    assert theme.ok
    assert [(s.kind, s.codec) for s in theme.streams] == [("audio", "mp3")]


@pytest.mark.parametrize(
    ("style", "expected"),
    [
        ("cd", {"S (1990)-cd1.mkv", "S (1990)-cd2.mkv"}),
        ("part", {"S (1990)-part1.mkv", "S (1990)-part2.mkv"}),
        ("disc", {"S (1990)-disc1.mkv", "S (1990)-disc2.mkv"}),
        ("folder", {"CD1", "CD1/S (1990).mkv", "CD2", "CD2/S (1990).mkv"}),
    ],
)
def test_stacks(builder: LibraryBuilder, style: PartStyle, expected: set[str]) -> None:
    folder = builder.movie("S", 1990, parts=2, part_style=style, nfo=False, artwork=("poster",))
    assert names(folder) == expected | {"S (1990)-poster.jpg"}
    videos = builder.movies[-1].videos
    assert len(videos) == 2
    assert digest(videos[0]) != digest(videos[1])


def test_bluray_structure(builder: LibraryBuilder) -> None:
    folder = builder.movie("Disc", 2005, disc="bluray", tmdb=5)
    assert names(folder) == {
        "BDMV",
        "BDMV/index.bdmv",
        "BDMV/index.nfo",
        "BDMV/MovieObject.bdmv",
        "BDMV/PLAYLIST",
        "BDMV/PLAYLIST/00000.mpls",
        "BDMV/CLIPINF",
        "BDMV/CLIPINF/00000.clpi",
        "BDMV/STREAM",
        "BDMV/STREAM/00000.m2ts",
        "CERTIFICATE",
        "poster.jpg",
        "fanart.jpg",
    }
    assert (folder / "BDMV/index.bdmv").read_bytes().startswith(b"INDX0200")
    assert builder.movies[-1].video == folder / "BDMV/STREAM/00000.m2ts"
    assert FfprobeProber().probe(str(folder / "BDMV/STREAM/00000.m2ts")).ok
    named = builder.movie("Disc Two", 2005, disc="bluray", nfo_name="movie", artwork=())
    assert "movie.nfo" in names(named)


def test_dvd_structure(builder: LibraryBuilder) -> None:
    folder = builder.movie("Dvd", 1998, disc="dvd", artwork_style="jellyfin")
    assert names(folder) == {
        "VIDEO_TS",
        "VIDEO_TS/VIDEO_TS.IFO",
        "VIDEO_TS/VIDEO_TS.BUP",
        "VIDEO_TS/VIDEO_TS.nfo",
        "VIDEO_TS/VTS_01_0.IFO",
        "VIDEO_TS/VTS_01_1.VOB",
        "folder.jpg",
        "backdrop.jpg",
    }
    assert (folder / "VIDEO_TS/VIDEO_TS.IFO").read_bytes().startswith(b"DVDVIDEO-VMG")
    result = MediaInfoProber().probe(str(folder / "VIDEO_TS/VTS_01_1.VOB"))
    assert result.ok
    assert result.streams[0].codec == "mpeg2video"


def test_loose_layout_subdir_and_tags(builder: LibraryBuilder) -> None:
    shared = builder.movie("Loose One", 1980, layout="loose", subdir="Collection", trailer=True)
    builder.movie("Loose Two", 1981, layout="loose", subdir="Collection", folder_tag="{tmdb-42}")
    assert shared == builder.root / "Collection"
    assert names(shared) == {
        "Loose One (1980).mkv",
        "Loose One (1980).nfo",
        "Loose One (1980)-poster.jpg",
        "Loose One (1980)-fanart.jpg",
        "Loose One (1980)-trailer.mkv",
        "Loose Two (1981) {tmdb-42}.mkv",
        "Loose Two (1981) {tmdb-42}.nfo",
        "Loose Two (1981) {tmdb-42}-poster.jpg",
        "Loose Two (1981) {tmdb-42}-fanart.jpg",
    }
    tagged = builder.movie("The Matrix", 1999, folder_tag="{tmdb-603}", subdir="A/B", nfo=False)
    assert tagged == builder.root / "A/B/The Matrix (1999) {tmdb-603}"
    assert (tagged / "The Matrix (1999).mkv").is_file()
    with pytest.raises(ValueError, match="folder"):
        builder.movie("X", 2000, layout="loose", extras=("extras/x",))
    with pytest.raises(ValueError, match="loose"):
        builder.movie("X", 2000, layout="loose", artwork_style="short")


def test_titles_are_made_file_system_safe(builder: LibraryBuilder) -> None:
    folder = builder.movie("Alien: Covenant / Part?", 2017, nfo=False, artwork=())
    assert folder.name == "Alien - Covenant Part (2017)"
    title = builder.movies[-1].title
    assert title == "Alien: Covenant / Part?"


def test_other_kinds_and_hdr(builder: LibraryBuilder) -> None:
    folder = builder.movie("Bright", 2020, kind="hdr10", nfo=False, artwork=())
    assert names(folder) == {"Bright (2020).mkv"}
    assert MediaInfoProber().probe(str(folder / "Bright (2020).mkv")).streams[0].hdr == "HDR10"
    folder = builder.movie("Old", 1995, kind="avi", nfo=False, artwork=(), sample=True)
    assert names(folder) == {"Old (1995).avi", "Old (1995)-sample.avi"}


def test_bad_files(builder: LibraryBuilder) -> None:
    garbage = builder.garbage_video("bad/garbage.mkv", size=1000)
    empty = builder.empty_video("bad/empty.mkv")
    truncated = builder.truncated_video("bad/truncated.mkv", keep=300)
    assert garbage.stat().st_size == 1000
    assert empty.stat().st_size == 0
    assert truncated.read_bytes() == builder.template_bytes("mkv")[:300]


def test_bulk(builder: LibraryBuilder) -> None:
    folders = builder.bulk(50, subs_every=10, trailer_every=25, seed=7)
    assert len(folders) == len(set(folders)) == 50
    assert sorted(folders) == sorted(p for p in builder.root.iterdir())
    for folder in folders:
        base = folder.name
        assert {f"{base}.mkv", f"{base}-poster.jpg", f"{base}-fanart.jpg"} <= names(folder)
    assert len(list(builder.root.glob("*/*.nfo"))) == 45
    assert len(list(builder.root.glob("*/*.en.srt"))) == 5
    assert len(list(builder.root.glob("*/*-trailer.mkv"))) == 2
    assert len({m.tmdb for m in builder.movies}) == 50
    assert len({digest(m.video) for m in builder.movies}) == 50
    for movie in builder.movies:
        if movie.nfos:
            root = ElementTree.fromstring(movie.nfos[0].read_bytes())
            assert root.findtext("uniqueid[@type='tmdb']") == str(movie.tmdb)
            assert root.findtext("title") == movie.title


def test_bulk_is_deterministic(tmp_path: Path, templates_dir: Path) -> None:
    one = LibraryBuilder(tmp_path / "one", templates_dir).bulk(20, seed=3)
    two = LibraryBuilder(tmp_path / "two", templates_dir).bulk(20, seed=3)
    assert [p.name for p in one] == [p.name for p in two]
