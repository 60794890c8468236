"""Who a request's token belongs to: the token book, kept in memory, refreshed from the DB.

A hit costs a dict lookup, which the tile fast lane needs. Entries (unknown tokens
included) live `ttl_s`; `citygis token create/revoke` also NOTIFY, and the change listener
then empties the book at once, so a revoked token is refused within milliseconds.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from cachetools import LRUCache
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from layers.access import Principal
from layers.errors import Unauthorized
from layers.roles import ANONYMOUS, Role
from layers.tokens import token_hash

LEGACY_NAME = "restricted-token"  # CITYGIS_RESTRICTED_TOKENS: admin, as before roles


@dataclass(frozen=True)
class Entry:
    name: str
    role: str
    expires_at: datetime | None
    revoked_at: datetime | None


# Last use is recorded when a token is (re)read, so to within the book's TTL.
_LOOKUP = """
UPDATE city.tokens SET last_used_at = now() WHERE sha256 = :sha
RETURNING name, role, expires_at, revoked_at
"""


class TokenBook:
    def __init__(
        self,
        engine: AsyncEngine,
        roles: dict[str, Role],
        legacy: tuple[str, ...] = (),
        ttl_s: float = 30.0,
    ):
        self.engine, self.roles, self.legacy, self.ttl_s = engine, roles, legacy, ttl_s
        self._entries: LRUCache[str, tuple[float, Entry | None]] = LRUCache(maxsize=10_000)

    def forget(self) -> None:
        self._entries.clear()

    async def principal(self, token: str | None) -> Principal:
        if not token:
            return Principal(self.roles[ANONYMOUS])
        if any(secrets.compare_digest(token, t) for t in self.legacy):
            return Principal(self.roles["admin"], LEGACY_NAME)
        entry = await self._entry(token_hash(token))
        now = datetime.now(UTC)
        if entry is None:
            raise Unauthorized("unknown token")
        if entry.revoked_at is not None:
            raise Unauthorized(f"token {entry.name!r} was revoked")
        if entry.expires_at is not None and entry.expires_at <= now:
            raise Unauthorized(f"token {entry.name!r} expired at {entry.expires_at:%Y-%m-%d %H:%M}")
        role = self.roles.get(entry.role)
        if role is None:
            raise Unauthorized(f"token {entry.name!r} has role {entry.role!r}, no longer defined")
        return Principal(role, entry.name)

    async def _entry(self, sha: str) -> Entry | None:
        cached = self._entries.get(sha)
        if cached is not None and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        async with self.engine.begin() as conn:
            row = (await conn.execute(text(_LOOKUP), {"sha": sha})).one_or_none()
        entry = None if row is None else Entry(row.name, row.role, row.expires_at, row.revoked_at)
        self._entries[sha] = (time.monotonic(), entry)
        return entry
