"""Rate limits per token (anonymous callers per client address): a token bucket of
`rate_per_s` with `burst` in hand; past it, 429 with Retry-After. In memory, per process:
behind several workers the limit a client meets is per worker."""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from layers.tokens import token_hash
from spatial_api.deps import token_of
from spatial_api.errors import PROBLEM

MAX_CALLERS = 100_000  # buckets kept; the least recently seen go first


class RateLimit:
    def __init__(self, app: ASGIApp, rate_per_s: float, burst: int):
        self.app, self.rate, self.burst = app, rate_per_s, burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _caller(self, scope: Scope) -> str:
        token = token_of(Request(scope))
        if token:
            return "t:" + token_hash(token)  # never the token itself, even in memory keys
        client = scope.get("client")
        return "a:" + (client[0] if client else "?")

    def take(self, caller: str, now: float) -> float:
        """0 when the request may go; else seconds until it may."""
        tokens, seen = self._buckets.pop(caller, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - seen) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[caller] = (tokens - 1 if wait == 0 else tokens, now)
        if len(self._buckets) > MAX_CALLERS:
            self._buckets.popitem(last=False)
        return wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rate <= 0:
            await self.app(scope, receive, send)
            return
        wait = self.take(self._caller(scope), time.monotonic())
        if wait == 0:
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Too many requests",
                "status": 429,
                "detail": f"more than {self.rate:g} requests/s (burst {self.burst}) from this "
                "token; slow down",
            }
        ).encode()
        headers = [
            (b"content-type", PROBLEM.encode()),
            (b"retry-after", str(max(1, math.ceil(wait))).encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})
