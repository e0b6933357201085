"""Kodi's raw TCP JSON-RPC port (9090 by default): calls and pushed notifications.

Kodi writes JSON objects back to back with no newline or length prefix, so the
stream is split by `JsonStreamSplitter`: it tracks brace depth outside strings to
find where each value ends and decodes it with `json.JSONDecoder.raw_decode`.
Every connected client receives every notification; connect *before* triggering
work, or the notification can arrive first and be missed.
"""

from __future__ import annotations

import codecs
import contextlib
import itertools
import json
import re
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from metarr.players.base import PlayerUnavailable
from metarr.players.kodi.client import rpc_request, rpc_result

Message = dict[str, Any]
Predicate = Callable[[Any], bool]

MAX_MESSAGE = 64 * 1024 * 1024
_OUTSIDE = re.compile(r'[{}\[\]"]')  # what matters outside strings
_INSIDE = re.compile(r'["\\]')  # what matters inside strings


class KodiProtocolError(PlayerUnavailable):
    """The TCP stream is not a sequence of JSON values: drop the connection, retry later."""


class JsonStreamSplitter:
    """Splits a byte stream of concatenated JSON objects/arrays into decoded values.

    Bytes may arrive in any chunks (mid-value, mid-UTF-8 sequence). Each byte is
    scanned once; a finished value is decoded with `raw_decode`.
    """

    def __init__(self, *, player: str = "kodi", max_message: int = MAX_MESSAGE) -> None:
        self.player = player
        self.max_message = max_message
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._decoder = json.JSONDecoder()
        self._buf = ""
        self._pos = 0  # next character to scan
        self._start = -1  # start of the value being read, -1 between values
        self._depth = 0
        self._in_string = False

    @property
    def pending(self) -> int:
        """Characters buffered for an unfinished value."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Any]:
        """Add `data`; return the values it completed, in order."""
        try:
            self._buf += self._utf8.decode(data)
        except UnicodeDecodeError as exc:
            raise KodiProtocolError(
                f"Kodi sent invalid UTF-8 on the TCP port ({exc.reason})", player=self.player
            ) from None
        values: list[Any] = []
        buf, i, n = self._buf, self._pos, len(self._buf)
        while i < n:
            if self._depth == 0:
                while i < n and buf[i] in " \t\r\n":
                    i += 1
                if i == n:
                    break
                if buf[i] not in "{[":
                    raise KodiProtocolError(
                        f"Kodi sent {buf[i : i + 20]!r} between JSON messages", player=self.player
                    )
                self._start, self._depth = i, 1
                i += 1
                continue
            if self._in_string:
                match = _INSIDE.search(buf, i)
                if match is None:
                    i = n
                    break
                i = match.end()
                if match.group() == "\\":
                    if i == n:  # the escaped character has not arrived yet
                        i -= 1
                        break
                    i += 1
                else:
                    self._in_string = False
                continue
            match = _OUTSIDE.search(buf, i)
            if match is None:
                i = n
                break
            char, i = match.group(), match.end()
            if char == '"':
                self._in_string = True
            elif char in "{[":
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth == 0:
                    values.append(self._decode(buf, self._start, i))
                    self._start = -1
        # keep only the unfinished value
        if self._depth == 0:
            keep_from = i
        else:
            keep_from = self._start
            self._start = 0
        self._buf, self._pos = buf[keep_from:], i - keep_from
        if len(self._buf) > self.max_message:
            raise KodiProtocolError(
                f"a Kodi message exceeded {self.max_message} characters", player=self.player
            )
        return values

    def _decode(self, buf: str, start: int, end: int) -> Any:
        try:
            value, stop = self._decoder.raw_decode(buf, start)
        except ValueError as exc:
            raise KodiProtocolError(
                f"Kodi sent malformed JSON on the TCP port ({exc})", player=self.player
            ) from None
        if stop != end:
            raise KodiProtocolError("Kodi sent malformed JSON on the TCP port", player=self.player)
        return value


class KodiConnection:
    """One TCP JSON-RPC connection: call methods, collect notifications, wait for one.

    Notifications read while waiting for something else are kept in `pending`, so
    none is lost between a call and the `wait_for` that follows it.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        player: str = "kodi",
        timeout: float = 10.0,
        on_call: Callable[[], None] | None = None,
    ) -> None:
        self.host, self.port, self.player, self.timeout = host, port, player, timeout
        self.pending: deque[Message] = deque()
        self._on_call = on_call
        self._ids = itertools.count(1)
        self._splitter = JsonStreamSplitter(player=player)
        self._ready: deque[Any] = deque()
        try:
            self._sock = socket.create_connection((host.strip("[]"), port), timeout=timeout)
        except OSError as exc:
            raise PlayerUnavailable(
                f"Kodi {player!r}: cannot open the JSON-RPC TCP port {host}:{port} ({exc})",
                player=player,
            ) from exc

    def close(self) -> None:
        """Close the socket."""
        with contextlib.suppress(OSError):
            self._sock.close()

    def __enter__(self) -> KodiConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call `method` over TCP; notifications that arrive first go to `pending`."""
        request_id = next(self._ids)
        if self._on_call is not None:
            self._on_call()
        self._send(json.dumps(rpc_request(request_id, method, params)).encode())
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._next(deadline)
            if message is None:
                raise PlayerUnavailable(
                    f"Kodi {self.player!r} did not answer {method} within {self.timeout:g}s",
                    player=self.player,
                )
            if message.get("id") == request_id and "method" not in message:
                return rpc_result(message, method, self.player)
            if "method" in message:
                self.pending.append(message)

    def wait_for(
        self, method: str, predicate: Predicate | None = None, *, timeout: float
    ) -> Message | None:
        """The first notification `method` whose `params.data` satisfies `predicate`.

        Looks at `pending` first; returns None after `timeout` seconds.
        """

        def wanted(message: Message) -> bool:
            if message.get("method") != method:
                return False
            params = message.get("params")
            data = params.get("data") if isinstance(params, dict) else None
            return predicate is None or predicate(data)

        for queued in list(self.pending):
            if wanted(queued):
                self.pending.remove(queued)
                return queued
        deadline = time.monotonic() + timeout
        while True:
            message = self._next(deadline)
            if message is None:
                return None
            if wanted(message):
                return message
            if "method" in message:
                self.pending.append(message)

    def notifications(self, timeout: float) -> Iterator[Message]:
        """Notifications (pending first) until none arrives for `timeout` seconds."""
        while self.pending:
            yield self.pending.popleft()
        while True:
            message = self._next(time.monotonic() + timeout)
            if message is None:
                return
            if "method" in message:
                yield message

    def _send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise PlayerUnavailable(
                f"Kodi {self.player!r}: the TCP connection failed ({exc})", player=self.player
            ) from exc

    def _next(self, deadline: float) -> Message | None:
        """The next decoded message, or None at the deadline."""
        while not self._ready:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                self._sock.settimeout(left)
                data = self._sock.recv(65536)
            except TimeoutError:
                return None
            except OSError as exc:
                raise PlayerUnavailable(
                    f"Kodi {self.player!r}: the TCP connection failed ({exc})", player=self.player
                ) from exc
            if not data:
                raise PlayerUnavailable(
                    f"Kodi {self.player!r} closed the TCP connection", player=self.player
                )
            self._ready.extend(self._splitter.feed(data))
        value = self._ready.popleft()
        if isinstance(value, dict):
            return value
        # a batch answer: hand out its members one by one
        self._ready.extendleft(reversed([v for v in value if isinstance(v, dict)]))
        return self._next(deadline)
