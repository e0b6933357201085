"""The providers' event loop: one daemon thread that runs every provider coroutine.

Why: the clients are `httpx.AsyncClient`s (connection pools, concurrent requests
from the enrich phase), but the job workers are plain threads. An
`AsyncClient` belongs to the loop it first ran on, so `asyncio.run()` per call
would throw the pool away each time. Instead the process owns one loop thread;
sync code calls `runtime.run(coro)` (blocks the calling thread only), code on
another event loop awaits `runtime.run_async(coro)`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class ProviderRuntime:
    """A private asyncio loop in a daemon thread; submit coroutines to it from anywhere."""

    def __init__(self, name: str = "metarr-providers") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop (started on first use)."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=serve, name=self.name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the providers' loop and wait for its result (sync callers)."""
        loop = self.loop
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("ProviderRuntime.run() called from its own loop: await instead")
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"provider call did not finish in {timeout}s") from None

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the providers' loop from a coroutine of another loop."""
        loop = self.loop
        if asyncio.get_running_loop() is loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    def close(self) -> None:
        """Stop the loop and its thread (after closing the clients that live on it)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

    def __enter__(self) -> ProviderRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
