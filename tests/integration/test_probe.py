"""Stream probing of real files with libmediainfo, ffprobe and the chain of both."""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from metarr.domain.media import ProbeResult, Stream
from metarr.domain.ports import Prober
from metarr.media.probe import (
    ChainProber,
    FfprobeProber,
    MediaInfoProber,
    UnavailableProber,
    default_prober,
)
from metarr.testing.library_builder import VIDEO_KINDS, LibraryBuilder, VideoKind, ffmpeg_encoders

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None, reason="needs ffmpeg"
)

HEVC = "hevc" if "libx265" in ffmpeg_encoders() else "h264"
# kind -> (container, video codec, audio codec, audio channels, hdr)
EXPECTED: dict[str, tuple[str, str, str, int, str | None]] = {
    "mkv": ("matroska", "h264", "aac", 2, None),
    "mp4": ("mp4", "h264", "aac", 2, None),
    "hdr10": ("matroska", HEVC, "aac", 2, "HDR10"),
    "hlg": ("matroska", HEVC, "aac", 2, "HLG"),
    "dv": ("mp4", HEVC, "aac", 2, "Dolby Vision"),
    "avi": ("avi", "mpeg4", "mp3", 1, None),
    "m2ts": ("mpegts", "h264", "ac3", 1, None),
    "vob": ("mpegps", "mpeg2video", "ac3", 1, None),
}


@pytest.fixture(scope="module")
def templates_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Template videos shared by every test of the session (made on first use)."""
    return tmp_path_factory.getbasetemp() / "media-templates"


@pytest.fixture
def builder(tmp_path: Path, templates_dir: Path) -> LibraryBuilder:
    """A builder writing into an empty library root."""
    return LibraryBuilder(tmp_path / "Movies", templates_dir)


@pytest.fixture(params=["mediainfo", "ffprobe"])
def prober(request: pytest.FixtureRequest) -> Prober:
    """Each real prober in turn."""
    return MediaInfoProber() if request.param == "mediainfo" else FfprobeProber()


def streams(result: ProbeResult, kind: str) -> list[Stream]:
    """The streams of one kind."""
    return [s for s in result.streams if s.kind == kind]


def test_mkv_is_read_in_full(builder: LibraryBuilder, prober: Prober) -> None:
    path = builder.video("The Matrix (1999)/The Matrix (1999).mkv")
    result = prober.probe(str(path))
    assert result.ok, result.error
    assert result.error is None
    assert result.prober == prober.name
    assert result.container == "matroska"
    assert result.duration == pytest.approx(1.0, abs=0.15)
    (video,) = streams(result, "video")
    assert (video.index, video.codec, video.width, video.height) == (0, "h264", 64, 36)
    assert video.aspect == pytest.approx(1.778)
    assert video.frame_rate == pytest.approx(5.0)
    assert video.hdr is None
    assert video.default
    (audio,) = streams(result, "audio")
    assert (audio.index, audio.codec, audio.channels, audio.language) == (1, "aac", 2, "eng")
    assert audio.default
    assert not audio.forced
    subtitles = [
        (s.index, s.codec, s.language, s.forced, s.title) for s in streams(result, "subtitle")
    ]
    assert subtitles == [(2, "srt", "eng", False, None), (3, "srt", "fre", True, "Forced")]


@pytest.mark.parametrize("kind", VIDEO_KINDS)
def test_probers_agree_on_every_kind(builder: LibraryBuilder, kind: VideoKind) -> None:
    path = str(builder.video(f"sample.{kind}", kind))
    mediainfo, ffprobe = MediaInfoProber().probe(path), FfprobeProber().probe(path)
    assert mediainfo.ok, mediainfo.error
    assert ffprobe.ok, ffprobe.error
    container, video_codec, audio_codec, channels, hdr = EXPECTED[kind]
    for result in (mediainfo, ffprobe):
        assert result.container == container
        assert result.duration == pytest.approx(1.0, abs=0.4)
        (video,) = streams(result, "video")
        assert (video.codec, video.width, video.height, video.hdr) == (video_codec, 64, 36, hdr)
        assert video.aspect == pytest.approx(1.778)
        (audio,) = streams(result, "audio")
        assert (audio.codec, audio.channels) == (audio_codec, channels)
    assert [(s.index, s.kind, s.language) for s in mediainfo.streams] == [
        (s.index, s.kind, s.language) for s in ffprobe.streams
    ]


@pytest.mark.skipif("libx265" not in ffmpeg_encoders(), reason="needs an HEVC encoder")
def test_hdr10_template_is_10_bit_hevc_with_mastering_metadata(builder: LibraryBuilder) -> None:
    # HDR10 from the HEVC stream itself (SMPTE ST 2086 SEI), not only from the
    # container's transfer tag: what a real UHD remux carries.
    path = str(builder.video("hdr.mkv", "hdr10"))
    from pymediainfo import MediaInfo

    text = MediaInfo.parse(path, output="Video;%HDR_Format%|%BitDepth%|%transfer_characteristics%")
    assert text.strip() == "SMPTE ST 2086|10|PQ"


def test_unicode_and_colon_names(builder: LibraryBuilder, prober: Prober) -> None:
    path = builder.video("Amélie (2001)/Alien: Covenant - 異形.mkv")
    result = prober.probe(str(path))
    assert result.ok, result.error
    assert streams(result, "video")[0].codec == "h264"


@pytest.mark.parametrize(
    ("encoder", "expected"),
    [
        (["-c:a", "eac3"], "eac3"),
        (["-c:a", "truehd", "-strict", "-2"], "truehd"),
        (["-c:a", "dca", "-strict", "-2"], "dts"),
        (["-c:a", "flac"], "flac"),
        (["-c:a", "libopus"], "opus"),
        (["-c:a", "pcm_s16le"], "pcm"),
        (["-c:a", "mp2"], "mp2"),
    ],
)
def test_audio_codec_names(tmp_path: Path, encoder: list[str], expected: str) -> None:
    if encoder[1] not in ffmpeg_encoders():
        pytest.skip(f"ffmpeg has no {encoder[1]} encoder")
    path = tmp_path / "audio.mka"
    source = ["-f", "lavfi", "-i", "sine=sample_rate=48000:duration=0.3"]
    subprocess.run(["ffmpeg", "-v", "error", *source, "-ac", "2", *encoder, str(path)], check=True)
    for prober in (MediaInfoProber(), FfprobeProber()):
        result = prober.probe(str(path))
        assert result.ok, result.error
        assert [(s.kind, s.codec, s.channels) for s in result.streams] == [("audio", expected, 2)]


@pytest.mark.parametrize(
    ("codec", "suffix", "expected"),
    [("ass", ".mkv", "ass"), ("webvtt", ".mkv", "webvtt"), ("mov_text", ".mp4", "mov_text")],
)
def test_subtitle_codec_names(tmp_path: Path, codec: str, suffix: str, expected: str) -> None:
    cue = tmp_path / "cue.srt"
    cue.write_text("1\n00:00:00,000 --> 00:00:00,500\nHello\n")
    path = tmp_path / f"video{suffix}"
    source = ["-f", "lavfi", "-i", "testsrc=size=64x36:rate=5:duration=0.5", "-i", str(cue)]
    command = ["ffmpeg", "-v", "error", *source, "-map", "0", "-map", "1", "-c:v", "mpeg4"]
    subprocess.run([*command, "-c:s", codec, str(path)], check=True)
    for prober in (MediaInfoProber(), FfprobeProber()):
        result = prober.probe(str(path))
        assert [s.codec for s in streams(result, "subtitle")] == [expected], prober.name


BAD_FILES = ["garbage", "empty", "missing", "truncated", "directory", "text"]


def make_bad(builder: LibraryBuilder, what: str) -> Path:
    """A file no prober can read, of the given sort."""
    if what == "garbage":
        return builder.garbage_video("bad/garbage.mkv")
    if what == "empty":
        return builder.empty_video("bad/empty.mkv")
    if what == "missing":
        return builder.root / "bad" / "missing.mkv"
    if what == "truncated":
        return builder.truncated_video("bad/truncated.mkv", keep=100)
    if what == "directory":
        path = builder.root / "bad" / "folder.mkv"
        path.mkdir(parents=True)
        return path
    path = builder.root / "bad" / "text.mkv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not a video\n" * 50)
    return path


@pytest.mark.parametrize("what", BAD_FILES)
@pytest.mark.parametrize("which", ["mediainfo", "ffprobe", "chain"])
def test_bad_files_give_an_error_and_never_raise(
    builder: LibraryBuilder, what: str, which: str
) -> None:
    path = make_bad(builder, what)
    probers: dict[str, Prober] = {
        "mediainfo": MediaInfoProber(),
        "ffprobe": FfprobeProber(),
        "chain": ChainProber(),
    }
    result = probers[which].probe(str(path))
    assert not result.ok
    assert result.error
    assert result.streams == ()
    assert result.prober == which
    expected = {"empty": "empty file", "missing": "file not found", "directory": "not a regular"}
    if what in expected:
        assert expected[what] in result.error


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads everything")
def test_unreadable_file_gives_permission_denied(builder: LibraryBuilder, prober: Prober) -> None:
    path = builder.video("locked.mkv")
    path.chmod(0)
    result = prober.probe(str(path))
    assert not result.ok
    assert result.error == "permission denied"


def test_chain_falls_back_to_ffprobe_when_mediainfo_cannot_read(builder: LibraryBuilder) -> None:
    # A Blu-ray stream cut after a few packets: libmediainfo finds no track in
    # it, ffprobe still reads the stream headers.
    path = str(builder.truncated_video("cut.m2ts", "m2ts", keep=600))
    assert not MediaInfoProber().probe(path).ok
    result = ChainProber([MediaInfoProber(), FfprobeProber()]).probe(path)
    assert result.ok, result.error
    assert result.prober == "ffprobe"
    assert [s.codec for s in result.streams] == ["h264", "ac3"]


class FailingProber:
    """A prober that cannot read anything."""

    name = "failing"

    def __init__(self) -> None:
        self.calls = 0

    def probe(self, path: str) -> ProbeResult:
        """Always fails."""
        self.calls += 1
        return ProbeResult(ok=False, prober=self.name, error="cannot read")


class RaisingProber:
    """A broken prober that raises."""

    name = "raising"

    def probe(self, path: str) -> ProbeResult:
        """Always raises."""
        raise RuntimeError("boom")


def test_chain_uses_the_first_ok_answer(builder: LibraryBuilder) -> None:
    path = str(builder.video("movie.mkv"))
    failing = FailingProber()
    result = ChainProber([failing, RaisingProber(), MediaInfoProber(), FfprobeProber()]).probe(path)
    assert result.ok
    assert result.prober == "mediainfo"
    assert failing.calls == 1


def test_chain_reports_every_error_when_nothing_reads(builder: LibraryBuilder) -> None:
    path = str(builder.garbage_video("garbage.mkv"))
    result = ChainProber([FailingProber(), RaisingProber()]).probe(path)
    assert not result.ok
    assert result.prober == "chain"
    assert result.error == "failing: cannot read; raising: RuntimeError('boom')"
    assert ChainProber([]).probe(path).error == "no prober configured"


def test_chain_skips_its_probers_for_a_missing_file(tmp_path: Path) -> None:
    failing = FailingProber()
    result = ChainProber([failing]).probe(str(tmp_path / "gone.mkv"))
    assert result.error == "file not found"
    assert failing.calls == 0


def test_probers_are_thread_safe(builder: LibraryBuilder) -> None:
    paths = [str(builder.video(f"m{i}.mkv", "mkv")) for i in range(12)]
    paths += [str(builder.video(f"h{i}.mkv", "hdr10")) for i in range(12)]
    paths += [str(builder.video(f"a{i}.avi", "avi")) for i in range(12)]
    paths += [str(builder.garbage_video(f"g{i}.mkv")) for i in range(4)]
    prober = MediaInfoProber()
    sequential = [prober.probe(p) for p in paths]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            assert list(pool.map(prober.probe, paths)) == sequential
    assert sum(r.ok for r in sequential) == 36


def test_default_prober_chains_mediainfo_then_ffprobe() -> None:
    prober = default_prober()
    assert isinstance(prober, ChainProber)
    assert [p.name for p in prober.probers] == ["mediainfo", "ffprobe"]


def test_missing_tools_give_clear_errors(builder: LibraryBuilder, tmp_path: Path) -> None:
    path = str(builder.video("movie.mkv"))
    no_ffprobe = FfprobeProber(binary=str(tmp_path / "no-ffprobe"))
    assert not no_ffprobe.available()
    assert no_ffprobe.probe(path).error == "ffprobe was not found"
    no_library = MediaInfoProber(library_file=str(tmp_path / "libmediainfo.so.0"))
    assert not no_library.available()
    assert no_library.probe(path).error == "libmediainfo is not available"
    assert not UnavailableProber().probe(path).ok


def test_ffprobe_timeout(builder: LibraryBuilder, tmp_path: Path) -> None:
    path = str(builder.video("movie.mkv"))
    slow = tmp_path / "slow-ffprobe"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    result = FfprobeProber(binary=str(slow), timeout=0.3).probe(path)
    assert not result.ok
    assert result.error == "ffprobe timed out after 0.3 s"
