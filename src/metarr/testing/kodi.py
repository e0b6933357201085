"""A real, headless Kodi 20 for tests and benchmarks (Xvfb + software GL).

It drives `scripts/kodi-test-peer.sh` (fresh profile per start, web server on
HTTP_PORT, TCP JSON-RPC on HTTP_PORT+1, one movie source scraped with "Local
information only")::

    problem = ensure_kodi()          # None, or why Kodi cannot run here
    with KodiPeer(tmp_path / "kodi") as kodi:
        config = kodi.config(path_mappings=...)
        kodi.rpc("VideoLibrary.GetMovies", {...})

`ensure_kodi()` installs the Debian packages when they are missing and we are
root; it returns a reason only when Kodi cannot be installed.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

from metarr.players.base import PathMappingConfig, PlayerConfig, PlayerType

PEER_SCRIPT_ENV = "METARR_KODI_PEER_SCRIPT"
INSTALL_TIMEOUT = 900.0


def peer_script() -> Path:
    """`scripts/kodi-test-peer.sh` of this checkout (or $METARR_KODI_PEER_SCRIPT)."""
    override = os.environ.get(PEER_SCRIPT_ENV)
    if override:
        return Path(override)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "scripts" / "kodi-test-peer.sh"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"scripts/kodi-test-peer.sh not found (set {PEER_SCRIPT_ENV})")


def kodi_binary() -> Path | None:
    """The installed `kodi.bin`, if any."""
    for pattern in ("/usr/lib/*/kodi/kodi.bin", "/usr/lib/kodi/kodi.bin"):
        for found in sorted(glob.glob(pattern)):
            if os.access(found, os.X_OK):
                return Path(found)
    return None


def missing_programs() -> list[str]:
    """What Kodi needs here and is not installed (Debian package names)."""
    missing = []
    if kodi_binary() is None:
        missing.append("kodi")
    if shutil.which("Xvfb") is None:
        missing.append("xvfb")
    if shutil.which("ffmpeg") is None:
        missing.append("ffmpeg")
    return missing


def ensure_kodi(*, install: bool = True) -> str | None:
    """None when a headless Kodi can run; else why not (after trying to install it)."""
    missing = missing_programs()
    if not missing:
        return None
    need = ", ".join(missing)
    if not install:
        return f"not installed: {need}"
    if os.geteuid() != 0:
        return f"not installed: {need}; installing needs root (scripts/kodi-test-peer.sh install)"
    if shutil.which("apt-get") is None:
        return f"not installed: {need}; no apt-get here to install the Debian packages"
    try:
        done = subprocess.run(
            ["bash", str(peer_script()), "install"],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"installing {need} failed: {exc}"
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return f"installing {need} failed (exit {done.returncode}): {tail}"
    still = missing_programs()
    return f"still missing after install: {', '.join(still)}" if still else None


def free_port_block(count: int = 3) -> int:
    """A port P with P..P+count-1 free right now (P on all interfaces, TCP and UDP)."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port: int = probe.getsockname()[1]
        if port + count > 65535:
            continue
        sockets: list[socket.socket] = []
        try:
            for offset in range(count):
                for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                    sock = socket.socket(socket.AF_INET, kind)
                    sockets.append(sock)
                    sock.bind(("0.0.0.0" if offset == 0 else "127.0.0.1", port + offset))  # noqa: S104
            return port
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no block of free ports found")


def tiny_video(path: Path, seconds: float = 1.0) -> Path:
    """A small real MKV (64x36 test pattern, MPEG-4, no audio) made with ffmpeg."""
    path.parent.mkdir(parents=True, exist_ok=True)
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
    command += ["-i", "testsrc=size=64x36:rate=5", "-t", f"{seconds:g}", "-c:v", "mpeg4"]
    subprocess.run([*command, str(path)], check=True, stdin=subprocess.DEVNULL, timeout=120)
    return path


class KodiPeer:
    """One headless Kodi with a throw-away profile under `workdir`."""

    def __init__(
        self,
        workdir: Path,
        *,
        movies_dir: Path | None = None,
        start_timeout: float = 120.0,
    ) -> None:
        self.workdir = Path(workdir)
        self.movies_dir = Path(movies_dir) if movies_dir else self.workdir / "movies"
        self.start_timeout = start_timeout
        self.http_port = 0
        self.tcp_port = 0
        self.pid = 0
        self.username: str | None = None
        self.password: str | None = None
        self.start_seconds = 0.0
        self._http: httpx.Client | None = None

    # -- lifecycle ------------------------------------------------------------------

    def start(self, port: int | None = None) -> KodiPeer:
        """Start Kodi (fresh profile, empty library) and wait until JSON-RPC answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.movies_dir.mkdir(parents=True, exist_ok=True)
        port = port if port is not None else free_port_block()
        env = {**os.environ, "KODI_START_TIMEOUT": str(int(self.start_timeout))}
        started = time.monotonic()
        done = subprocess.run(
            [
                "bash",
                str(peer_script()),
                "start",
                str(self.workdir),
                str(port),
                str(self.movies_dir),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=self.start_timeout + 60,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"Kodi did not start: {done.stderr.strip()[-2000:]}")
        self.start_seconds = time.monotonic() - started
        values = self.peer_env()
        self.pid = int(values["KODI_PID"])
        self.http_port = int(values["HTTP_PORT"])
        self.tcp_port = int(values["TCP_PORT"])
        self.movies_dir = Path(values["MOVIES_DIR"])
        self.username = self.password = None
        return self

    def stop(self) -> None:
        """Stop Kodi and its Xvfb (no-op when not running)."""
        if self._http is not None:
            self._http.close()
            self._http = None
        subprocess.run(
            ["bash", str(peer_script()), "stop", str(self.workdir)],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )

    def restart(self) -> KodiPeer:
        """Stop and start again on the same ports (the library starts empty again)."""
        port = self.http_port or None
        self.stop()
        return self.start(port)

    def __enter__(self) -> KodiPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether this peer's kodi.bin is alive (a zombie counts as gone)."""
        if not self.pid or not (self.workdir / "peer.env").exists():
            return False
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")

    def peer_env(self) -> dict[str, str]:
        """The KEY=VALUE lines the script wrote to peer.env."""
        text = (self.workdir / "peer.env").read_text(encoding="utf-8")
        return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)

    @property
    def log_path(self) -> Path:
        """Kodi's own log."""
        return self.workdir / "home" / ".kodi" / "temp" / "kodi.log"

    def log_tail(self, lines: int = 40) -> str:
        """The end of Kodi's log (for failure messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no kodi.log)"

    # -- talking to it --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<http port>."""
        return f"http://127.0.0.1:{self.http_port}"

    def config(
        self, name: str = "kodi-test", *, mappings: dict[str, str] | None = None, **extra: Any
    ) -> PlayerConfig:
        """A PlayerConfig for this Kodi (`mappings`: Metarr path -> Kodi path)."""
        values: dict[str, Any] = {
            "name": name,
            "type": PlayerType.KODI,
            "host": "127.0.0.1",
            "port": self.http_port,
            "tcp_port": self.tcp_port,
            "username": self.username,
            "password": self.password,
            "timeout": 15.0,
            "scan_timeout": 60.0,
            "path_mappings": tuple(
                PathMappingConfig.model_validate({"from": src, "to": dst})
                for src, dst in (mappings or {}).items()
            ),
        }
        values.update(extra)
        return PlayerConfig.model_validate(values)

    def _client(self) -> httpx.Client:
        if self._http is None:
            auth = (self.username, self.password or "") if self.username else None
            self._http = httpx.Client(
                base_url=self.base_url, timeout=30, trust_env=False, auth=auth
            )
        return self._http

    def rpc(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """A raw JSON-RPC call over HTTP (for test assertions)."""
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": 1}
        if params is not None:
            body["params"] = params
        answer = self._client().post("/jsonrpc", json=body)
        answer.raise_for_status()
        data = answer.json()
        if "error" in data:
            raise RuntimeError(f"{method}: {data['error']}")
        return data["result"]

    def tcp_rpc(self, method: str, params: dict[str, Any] | None = None) -> Any:
        """A raw JSON-RPC call over the TCP port (works without web server credentials)."""
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": 1}
        if params is not None:
            body["params"] = params
        decoder = json.JSONDecoder()
        with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=30) as sock:
            sock.sendall(json.dumps(body).encode())
            buffer = ""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError(f"{method}: Kodi closed the connection")
                buffer += chunk.decode("utf-8")
                while buffer.strip():
                    try:
                        message, end = decoder.raw_decode(buffer.lstrip())
                    except ValueError:
                        break
                    buffer = buffer.lstrip()[end:]
                    if message.get("id") == 1:
                        if "error" in message:
                            raise RuntimeError(f"{method}: {message['error']}")
                        return message["result"]

    def enable_auth(self, username: str, password: str) -> None:
        """Require Basic auth on the web server from now on.

        There is no way back without a restart: switching it off through JSON-RPC
        makes Kodi ask for confirmation in a dialog nobody can answer, and it hangs.
        """
        for setting, value in (
            ("services.webserverusername", username),
            ("services.webserverpassword", password),
            ("services.webserverauthentication", True),
        ):
            self.tcp_rpc("Settings.SetSettingValue", {"setting": setting, "value": value})
        self.username, self.password = username, password
        if self._http is not None:
            self._http.close()
            self._http = None

    def movies(self, properties: list[str] | None = None) -> list[dict[str, Any]]:
        """Every movie in Kodi's library."""
        props = properties or ["title", "year", "plot", "uniqueid", "art", "file"]
        result = self.rpc("VideoLibrary.GetMovies", {"properties": props})
        movies: list[dict[str, Any]] = result.get("movies") or []
        return movies

    def cache_image(self, art_url: str) -> bytes:
        """Fetch an `image://...` URL through Kodi's web server, which caches it as a texture."""
        quoted = urllib.parse.quote(art_url, safe="")
        answer = self._client().get(f"/image/{quoted}")
        answer.raise_for_status()
        return answer.content

    def textures(self, art_url: str) -> list[dict[str, Any]]:
        """Cached textures of one art URL."""
        result = self.rpc(
            "Textures.GetTextures",
            {"properties": ["url"], "filter": {"field": "url", "operator": "is", "value": art_url}},
        )
        textures: list[dict[str, Any]] = result.get("textures") or []
        return textures
