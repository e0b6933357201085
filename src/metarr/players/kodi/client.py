"""Kodi JSON-RPC over HTTP: `POST /jsonrpc` with `Content-Type: application/json`
(anything else gets 415) and optional Basic auth. HTTP never carries notifications;
see `notifications.py` for the TCP side.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from typing import Any

import httpx

from metarr.players.base import PlayerConfig, PlayerHttp, PlayerRejected, PlayerUnavailable

log = logging.getLogger("metarr.players.kodi")

TITLE = "Kodi"

# JSON-RPC error codes Kodi uses (JSONRPC::JSONRPC_STATUS)
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
FAILED_TO_EXECUTE = -32100


def rpc_request(request_id: int, method: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """A JSON-RPC 2.0 request object."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params is not None:
        body["params"] = dict(params)
    return body


def rpc_result(answer: Any, method: str, player: str) -> Any:
    """The `result` of a JSON-RPC answer; an `error` becomes PlayerRejected."""
    if not isinstance(answer, dict):
        raise PlayerUnavailable(f"Kodi answered {method} with a non-object", player=player)
    error = answer.get("error")
    if error is not None:
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise PlayerRejected(
            f"Kodi {player!r} refused {method}: {message} ({code})",
            player=player,
            remote_code=code if isinstance(code, int) else None,
        )
    if "result" not in answer:
        raise PlayerUnavailable(f"Kodi answered {method} without a result", player=player)
    return answer["result"]


class KodiClient:
    """JSON-RPC calls over Kodi's web server; `calls` counts requests sent."""

    def __init__(self, config: PlayerConfig, *, transport: httpx.BaseTransport | None = None):
        self.config = config
        auth: httpx.Auth | None = None
        if config.username:
            password = config.password.get_secret_value() if config.password else ""
            auth = httpx.BasicAuth(config.username, password)
        self.http = PlayerHttp(
            config,
            TITLE,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            auth=auth,
            transport=transport,
        )
        self._ids = itertools.count(1)

    @property
    def calls(self) -> int:
        """Requests sent so far."""
        return self.http.calls

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call `method` and return its result (our error tree on failure)."""
        body = rpc_request(next(self._ids), method, params)
        response = self.http.request("POST", "/jsonrpc", json=body)
        return rpc_result(self.http.json(response), method, self.config.name)

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()
