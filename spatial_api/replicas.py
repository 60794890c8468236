"""Reads from streaming replicas, writes to the primary, and each client reads its own
writes: after a write, that caller's reads stay on the primary until a replica has
replayed past the write's WAL position (checked, not guessed)."""

from __future__ import annotations

import itertools
import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from layers.tokens import token_hash
from spatial_api.deps import token_of

READS = frozenset({"GET", "HEAD"})
LSN_TTL_S = 0.1  # a replica's replay position is asked at most this often
MAX_CALLERS = 100_000


def lsn(text_lsn: str | None) -> int:
    """A pg_lsn ('16/B374D848') as a number, so positions compare."""
    if not text_lsn:
        return 0
    hi, _, lo = text_lsn.partition("/")
    return (int(hi, 16) << 32) + int(lo, 16)


class Reads:
    def __init__(self, primary: AsyncEngine, replicas: list[AsyncEngine]):
        self.primary, self.replicas = primary, replicas
        self._turn = itertools.cycle(range(len(replicas))) if replicas else None
        self._written: dict[str, int] = {}  # caller → WAL position of its last write
        self._replayed: dict[int, tuple[float, int]] = {}
        self.served = {"primary": 0, "replica": 0}

    @staticmethod
    def caller(request: Request) -> str:
        token = token_of(request)
        if token:
            return "t:" + token_hash(token)
        return "a:" + (request.client.host if request.client else "?")

    async def _replayed_at(self, i: int) -> int:
        now = time.monotonic()
        seen = self._replayed.get(i)
        if seen is not None and now - seen[0] < LSN_TTL_S:
            return seen[1]
        async with self.replicas[i].connect() as conn:
            got = lsn((await conn.execute(text("SELECT pg_last_wal_replay_lsn()::text"))).scalar())
        self._replayed[i] = (now, got)
        return got

    async def replica_for(self, request: Request) -> int | None:
        """Which replica serves this request (by turns), or None for the primary: writes,
        and reads of a caller whose last write that replica has not replayed yet."""
        if self._turn is None or request.method not in READS:
            self.served["primary"] += 1
            return None
        i = next(self._turn)
        wrote = self._written.get(self.caller(request))
        if wrote is not None:
            if await self._replayed_at(i) < wrote:
                self.served["primary"] += 1
                return None
            self._written.pop(self.caller(request), None)  # caught up: no need to ask again
        self.served["replica"] += 1
        return i

    async def engine_for(self, request: Request) -> AsyncEngine:
        i = await self.replica_for(request)
        return self.primary if i is None else self.replicas[i]

    async def note_write(self, caller: str) -> None:
        """After a write: where the primary's WAL is now, for this caller's next reads."""
        async with self.primary.connect() as conn:
            at = (await conn.execute(text("SELECT pg_current_wal_insert_lsn()::text"))).scalar()
        if len(self._written) > MAX_CALLERS:
            self._written.clear()  # at worst, reads go to replicas that may lag
        self._written[caller] = lsn(at)


class ReadYourWrites:
    """ASGI middleware: when a request other than a read succeeds, its caller's position on
    the primary is noted before the answer leaves, so no later read can overtake it."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reads: Reads | None = getattr(scope["app"].state, "reads", None) if "app" in scope else None
        if scope["type"] != "http" or scope["method"] in READS or not (reads and reads.replicas):
            await self.app(scope, receive, send)
            return
        caller = reads.caller(Request(scope))

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                await reads.note_write(caller)
            await send(message)

        await self.app(scope, receive, noting)
