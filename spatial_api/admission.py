"""Admission control: at most `max_in_flight` requests are served at once and at most
`max_waiting` wait; beyond that the answer is a 503 at once, so latency under overload
stays bounded instead of growing with the queue. Liveness is always answered."""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Receive, Scope, Send

from spatial_api.errors import PROBLEM, RETRY_AFTER_S

ALWAYS = ("/health/live",)


class Admission:
    def __init__(self, app: ASGIApp, max_in_flight: int, max_waiting: int):
        self.app = app
        self.max_waiting = max_waiting
        self._slots = asyncio.Semaphore(max_in_flight)
        self._waiting = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ALWAYS:
            await self.app(scope, receive, send)
            return
        if self._slots.locked() and self._waiting >= self.max_waiting:
            await _busy(send)
            return
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._slots.release()


async def _busy(send: Send) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Service unavailable",
            "status": 503,
            "detail": "the server is at capacity; retry shortly",
        }
    ).encode()
    headers = [
        (b"content-type", PROBLEM.encode()),
        (b"retry-after", str(RETRY_AFTER_S).encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
