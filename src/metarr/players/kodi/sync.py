"""High-level Kodi operations on one movie, as Kodi really behaves (Kodi 20, API 13).

What surprised us, and what each operation does about it:

* A scan of a brand-new sub-folder silently does nothing when Kodi has the
  parent's listing cached ("does not exist - skipping scan"): we list the parent
  with `Files.GetDirectory` first (one item is enough to refresh the cache).
* `VideoLibrary.Scan` and `RefreshMovie` answer "OK" at once and work
  asynchronously: we wait for `OnScanFinished` / `OnUpdate {added: true}` on the TCP
  port (connected *before* the trigger), or poll when that port is unreachable
  (it accepts remote clients only with "allow control from other systems").
* A changed NFO is not re-read by a scan; `RefreshMovie` re-reads it but deletes and
  re-inserts the movie, so its `movieid` changes: we always re-find by file path.
* Kodi keeps artwork in a texture cache and re-checks a file only after a day: after
  a refresh we drop the movie's textures (`Textures.GetTextures`/`RemoveTexture`).
* `showdialogs: false` always: a headless Kodi could ask a question nobody answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from metarr.domain import pathmap
from metarr.domain.pathmap import PathMapper
from metarr.players.base import (
    NowPlaying,
    PlayerRejected,
    PlayerUnavailable,
    SyncNotVerified,
    movie_folder,
)
from metarr.players.kodi.client import KodiClient
from metarr.players.kodi.notifications import KodiConnection
from metarr.players.kodi.schemas import (
    MIN_API,
    MOVIE_PROPERTIES,
    KodiFeature,
    KodiMovie,
    KodiVersion,
    image_url,
    kodi_url_encode,
    parse_api_version,
    parse_app_version,
    unwrap_image_url,
)

log = logging.getLogger("metarr.players.kodi")

T = TypeVar("T")

TCP_RETRY_AFTER = 300.0  # seconds before trying an unreachable TCP port again
REFRESH_TIMEOUT = 30.0
POLL_INTERVAL = 0.1


def _same_path(a: str, b: str) -> bool:
    return pathmap.split_path(a).key() == pathmap.split_path(b).key()


class KodiSync:
    """Scan, refresh, find and remove one movie in one Kodi; paths are mapped both ways.

    `calls` counts JSON-RPC requests on both transports, so a caller can report the
    cost of each operation.
    """

    def __init__(
        self,
        client: KodiClient,
        mapper: PathMapper | None = None,
        *,
        tcp_port: int,
        scan_timeout: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.config = client.config
        self.player = client.config.name
        self.mapper = mapper if mapper is not None else PathMapper()
        self.tcp_port = tcp_port
        self.scan_timeout = scan_timeout
        self.sleep = sleep
        self._tcp_calls = 0
        self._tcp_down_until = 0.0
        self._version: KodiVersion | None = None

    # -- basics ---------------------------------------------------------------------

    @property
    def calls(self) -> int:
        """JSON-RPC requests sent so far (HTTP and TCP)."""
        return self.client.calls + self._tcp_calls

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """One JSON-RPC call over HTTP."""
        return self.client.call(method, params)

    def version(self, *, refresh: bool = False) -> KodiVersion:
        """API and application version (cached); PlayerRejected for a Kodi older than 12."""
        if self._version is not None and not refresh:
            return self._version
        api = parse_api_version(self.call("JSONRPC.Version"))
        if api < MIN_API:
            raise PlayerRejected(
                f"Kodi {self.player!r} speaks JSON-RPC {'.'.join(map(str, api))}; "
                "Metarr needs Kodi 12 or later",
                player=self.player,
            )
        try:
            props = self.call("Application.GetProperties", {"properties": ["version", "name"]})
        except PlayerRejected:
            props = {}
        name = props.get("name") if isinstance(props, dict) else None
        self._version = KodiVersion(api, parse_app_version(props), str(name or "Kodi"))
        return self._version

    def has(self, feature: KodiFeature) -> bool:
        """Whether this Kodi offers `feature`."""
        return feature in self.version().features

    def now_playing(self, *, details: bool = False) -> list[NowPlaying]:
        """Active players (`details` adds title, file and paused state: 2 calls each)."""
        active = self.call("Player.GetActivePlayers")
        items: list[NowPlaying] = []
        for player in active if isinstance(active, list) else []:
            media = str(player.get("type") or "unknown")
            if not details:
                items.append(NowPlaying(media))
                continue
            pid = player.get("playerid")
            item = self.call("Player.GetItem", {"playerid": pid, "properties": ["title", "file"]})
            props = self.call("Player.GetProperties", {"playerid": pid, "properties": ["speed"]})
            data = item.get("item", {}) if isinstance(item, dict) else {}
            items.append(
                NowPlaying(
                    media,
                    title=data.get("title") or data.get("label") or None,
                    path=data.get("file") or None,
                    paused=isinstance(props, dict) and props.get("speed") == 0,
                )
            )
        return items

    def is_playing(self) -> bool:
        """Whether Kodi plays video now."""
        return any(item.media_type == "video" for item in self.now_playing())

    def is_scanning(self) -> bool:
        """Whether a video library scan is running."""
        result = self.call("XBMC.GetInfoBooleans", {"booleans": ["Library.IsScanningVideo"]})
        return isinstance(result, dict) and result.get("Library.IsScanningVideo") is True

    def notify(self, title: str, message: str, *, display_ms: int = 5000) -> None:
        """An on-screen toast."""
        self.call(
            "GUI.ShowNotification",
            {"title": title[:100], "message": message[:300], "displaytime": display_ms},
        )

    # -- finding --------------------------------------------------------------------

    def find_movie(self, path: str) -> KodiMovie | None:
        """The movie whose video file is Metarr's `path` (mapped to Kodi's view)."""
        return self.find_remote(self.mapper.to_remote(path).path)

    def find_remote(self, remote_file: str) -> KodiMovie | None:
        """The movie whose video file is `remote_file` (Kodi's path), or None.

        One `GetMovies` filtered on the folder; a second one on the file name only
        when Kodi's folder spelling may differ in case (Windows, SMB).
        """
        folder = pathmap.as_directory(pathmap.parent_path(remote_file))
        found = self._movies({"field": "path", "operator": "is", "value": folder})
        movie = self._match(found, remote_file)
        if movie is None and pathmap.split_path(remote_file).caseless:
            name = pathmap.basename(remote_file)
            found = self._movies({"field": "filename", "operator": "is", "value": name})
            movie = self._match(found, remote_file)
        return movie

    def local_path(self, movie: KodiMovie) -> str:
        """Metarr's path of a movie's (first) video file."""
        return self.mapper.to_local(movie.files[0]).path

    def _properties(self) -> list[str]:
        props = list(MOVIE_PROPERTIES)
        if not self.has(KodiFeature.UNIQUEID):
            props.remove("uniqueid")
        return props

    def _movies(self, rule: dict[str, Any]) -> list[KodiMovie]:
        result = self.call(
            "VideoLibrary.GetMovies", {"properties": self._properties(), "filter": rule}
        )
        movies = result.get("movies") if isinstance(result, dict) else None
        return [KodiMovie.parse(m) for m in movies or [] if isinstance(m, dict)]

    @staticmethod
    def _match(movies: Iterable[KodiMovie], remote_file: str) -> KodiMovie | None:
        for movie in movies:
            if any(_same_path(f, remote_file) for f in movie.files):
                return movie
        return None

    # -- adding ---------------------------------------------------------------------

    def add_movie(self, path: str) -> KodiMovie:
        """Scan the folder of Metarr's `path` and return the movie Kodi now lists."""
        return self.add_remote(self.mapper.to_remote(path).path)

    def add_remote(self, remote_file: str) -> KodiMovie:
        """Scan exactly the movie's folder (Kodi's path), wait, verify by file path."""
        folder = movie_folder(remote_file)
        movie = self.scan_folder(folder, lambda: self.find_remote(remote_file))
        if movie is None:
            raise SyncNotVerified(
                f"Kodi {self.player!r} scanned {folder} but does not list {remote_file}: is "
                "the folder inside a Kodi video source set to Movies, with an NFO Kodi reads?",
                player=self.player,
            )
        return movie

    def scan_folder(
        self, remote_folder: str, check: Callable[[], T | None] | None = None
    ) -> T | None:
        """Scan one folder (Kodi's path), wait for the scan, return `check()` after it.

        Kodi queues scans: when the `OnScanFinished` we get was another scan's (the
        check fails and Kodi is still scanning), we wait for the next one.
        """
        events = self._connect()
        try:
            self._refresh_listing(pathmap.parent_path(remote_folder))
            params: dict[str, Any] = {"directory": pathmap.as_directory(remote_folder)}
            if self.has(KodiFeature.SCAN_SHOWDIALOGS):
                params["showdialogs"] = False
            self.call("VideoLibrary.Scan", params)
            deadline = time.monotonic() + self.scan_timeout
            if events is None:
                return self._poll_scan(deadline, check)
            while True:
                left = deadline - time.monotonic()
                if events.wait_for("VideoLibrary.OnScanFinished", timeout=left) is None:
                    raise self._scan_timeout()
                if check is None:
                    return None
                result = check()
                if result is not None or not self.is_scanning():
                    return result
                log.info("Kodi %r is still scanning (a queued scan); waiting", self.player)
        finally:
            if events is not None:
                events.close()

    def _refresh_listing(self, remote_parent: str) -> None:
        """List the parent so Kodi's directory cache knows the (new) folder."""
        try:
            self.call(
                "Files.GetDirectory",
                {
                    "directory": pathmap.as_directory(remote_parent),
                    "media": "files",
                    "limits": {"start": 0, "end": 1},
                },
            )
        except PlayerRejected as exc:
            # outside every source (scanning a source root), or gone: scan anyway
            log.info("Kodi %r cannot list %s: %s", self.player, remote_parent, exc)

    def _poll_scan(self, deadline: float, check: Callable[[], T | None] | None) -> T | None:
        """Without notifications: poll `check` and Library.IsScanningVideo."""
        started, seen_scanning = time.monotonic(), False
        while time.monotonic() < deadline:
            self.sleep(POLL_INTERVAL)
            result = check() if check is not None else None
            if result is not None:
                return result
            if self.is_scanning():
                seen_scanning = True
            elif seen_scanning or time.monotonic() - started > 1.0:
                return check() if check is not None else None
        raise self._scan_timeout()

    def _scan_timeout(self) -> PlayerUnavailable:
        return PlayerUnavailable(
            f"Kodi {self.player!r} did not finish the scan within {self.scan_timeout:g}s",
            player=self.player,
        )

    # -- refreshing -----------------------------------------------------------------

    def refresh_movie(self, movie: KodiMovie) -> tuple[KodiMovie, int]:
        """Re-read a known movie (NFO and art); returns it (new id) and textures purged."""
        remote_file = movie.files[0]
        events = self._connect()
        timeout = min(self.scan_timeout, REFRESH_TIMEOUT)
        try:
            self.call("VideoLibrary.RefreshMovie", {"movieid": movie.movieid, "ignorenfo": False})
            fresh = self._wait_refreshed(events, movie, remote_file, timeout)
        finally:
            if events is not None:
                events.close()
        if fresh is None:
            raise SyncNotVerified(
                f"Kodi {self.player!r} did not list {remote_file} again after refreshing it "
                "(is its NFO readable?)",
                player=self.player,
            )
        purged = self.purge_textures([movie, fresh], movie_folder(remote_file))
        return fresh, purged

    def _wait_refreshed(
        self, events: KodiConnection | None, old: KodiMovie, remote_file: str, timeout: float
    ) -> KodiMovie | None:
        deadline = time.monotonic() + timeout

        def re_added(data: Any) -> bool:
            item = data.get("item") if isinstance(data, dict) else None
            return (
                isinstance(item, dict) and item.get("type") == "movie" and data.get("added") is True
            )

        if events is not None:
            while (left := deadline - time.monotonic()) > 0:
                if events.wait_for("VideoLibrary.OnUpdate", re_added, timeout=left) is None:
                    break
                found = self.find_remote(remote_file)
                if found is not None:
                    return found
            return self.find_remote(remote_file)
        # polling: a new id means done; Kodi may re-use the id when it was the highest,
        # so after a short settle time whatever is listed is taken
        settle = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            self.sleep(POLL_INTERVAL)
            found = self.find_remote(remote_file)
            if found is not None and (found.movieid != old.movieid or time.monotonic() > settle):
                return found
        return None

    def purge_textures(self, movies: Sequence[KodiMovie], remote_folder: str) -> int:
        """Drop cached textures of these movies' art and of files in their folder."""
        if not self.has(KodiFeature.TEXTURES):
            return 0
        urls = {
            url
            for movie in movies
            for url in movie.art.values()
            if url.startswith("image://") and _is_file_art(url)
        }
        directory = pathmap.as_directory(remote_folder)
        prefixes = [image_url(directory)[:-1], "image://video@" + kodi_url_encode(directory)]
        rules = [{"field": "url", "operator": "is", "value": u} for u in sorted(urls)]
        rules += [{"field": "url", "operator": "startswith", "value": p} for p in prefixes]
        result = self.call("Textures.GetTextures", {"properties": ["url"], "filter": {"or": rules}})
        textures = result.get("textures") if isinstance(result, dict) else None
        stale: list[int] = []
        for texture in textures or []:
            url = str(texture.get("url") or "")
            # `startswith` is SQL LIKE, where the %xx of Kodi's encoding are wildcards
            if url in urls or pathmap.is_within(unwrap_image_url(url), remote_folder):
                stale.append(int(texture["textureid"]))
        for texture_id in stale:
            self.call("Textures.RemoveTexture", {"textureid": texture_id})
        if stale:
            log.debug("Kodi %r: %d stale texture(s) removed", self.player, len(stale))
        return len(stale)

    # -- removing -------------------------------------------------------------------

    def remove_movie(self, movie: KodiMovie) -> None:
        """Remove a movie from Kodi's library and verify it is gone."""
        self.call("VideoLibrary.RemoveMovie", {"movieid": movie.movieid})
        if self.find_remote(movie.files[0]) is not None:
            raise SyncNotVerified(
                f"Kodi {self.player!r} still lists {movie.file} after removing it",
                player=self.player,
            )

    # -- notifications --------------------------------------------------------------

    def _connect(self) -> KodiConnection | None:
        """The TCP connection for notifications, or None (poll) when it is unreachable."""
        if time.monotonic() < self._tcp_down_until:
            return None
        try:
            return KodiConnection(
                self.config.host,
                self.tcp_port,
                player=self.player,
                timeout=min(self.config.timeout, 5.0),
                on_call=self._count_tcp,
            )
        except PlayerUnavailable as exc:
            self._tcp_down_until = time.monotonic() + TCP_RETRY_AFTER
            log.warning(
                "Kodi %r: no notifications (%s); polling instead. Enable 'Allow remote "
                "control from applications on other systems' in Kodi for faster syncs",
                self.player,
                exc,
            )
            return None

    def _count_tcp(self) -> None:
        self._tcp_calls += 1


def _is_file_art(url: str) -> bool:
    """Art that comes from a file or URL (not a skin default like DefaultVideo.png)."""
    inner = unwrap_image_url(url)
    return "/" in inner or "\\" in inner
