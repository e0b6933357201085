"""`/ws`: live events over WebSocket (API key in the `X-Api-Key` header or `apikey`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from metarr.bootstrap import Container
from metarr.services.events import Event, make_event

log = logging.getLogger(__name__)

router = APIRouter(tags=["events"])

HEARTBEAT_SECONDS = 15.0
QUEUE_SIZE = 1000


def _authorised(ws: WebSocket, container: Container) -> bool:
    given = ws.headers.get("x-api-key") or ws.query_params.get("apikey") or ""
    session_ok = bool(getattr(ws.app.state, "ws_session_check", lambda _ws: False)(ws))
    if session_ok:
        return True
    return bool(given) and secrets.compare_digest(given.encode(), container.api_key.encode())


@router.websocket("/ws")
async def events(ws: WebSocket) -> None:
    """Stream typed events; the client may send `{"type": "resync"}` at any time."""
    container: Container = ws.app.state.container
    if not _authorised(ws, container):
        await ws.close(code=4401, reason="a valid API key is required")
        return
    await ws.accept()
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=QUEUE_SIZE)
    dropped = [0]

    def deliver(event: Event) -> None:
        # called from worker threads: hand over to the loop, never block the publisher
        def put() -> None:
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                dropped[0] += 1

        with contextlib.suppress(RuntimeError):  # loop closed: the client is gone
            loop.call_soon_threadsafe(put)

    token = container.events.subscribe(deliver)
    try:
        await ws.send_json(await _snapshot(container))
        sender = asyncio.create_task(_send_loop(ws, queue, dropped))
        try:
            while True:
                message = await ws.receive_text()
                try:
                    data: Any = json.loads(message)
                except ValueError:
                    continue
                if isinstance(data, dict) and data.get("type") == "resync":
                    await queue.put(await _snapshot(container))
                elif isinstance(data, dict) and data.get("type") == "ping":
                    await queue.put(make_event("pong"))
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
    except WebSocketDisconnect:
        pass
    finally:
        container.events.unsubscribe(token)


async def _send_loop(ws: WebSocket, queue: asyncio.Queue[Event], dropped: list[int]) -> None:
    while True:
        try:
            event = await asyncio.wait_for(queue.get(), timeout=HEARTBEAT_SECONDS)
        except TimeoutError:
            event = make_event("heartbeat")
        if dropped[0]:
            # the client fell behind: tell it to resync instead of silently losing events
            dropped[0] = 0
            await ws.send_json(make_event("resync", reason="events were dropped"))
        await ws.send_json(event)


async def _snapshot(container: Container) -> Event:
    """A `resync` message: what a fresh client needs (queue stats, running jobs)."""

    def collect() -> Event:
        from metarr.api.routers.jobs import job_out

        running, _ = container.jobs.list(status="running", limit=100)
        queued, _ = container.jobs.list(status="queued", limit=100)
        stats = container.jobs.stats()
        return make_event(
            "resync",
            stats={"by_status": dict(stats.by_status), "running": stats.running},
            running=[job_out(j).model_dump() for j in running],
            queued=[job_out(j).model_dump() for j in queued],
        )

    return await asyncio.to_thread(collect)
