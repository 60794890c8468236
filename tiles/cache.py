"""An in-process LRU of encoded tiles whose keys carry every layer's change version.

Why a tile is never stale after a load commits, in any process:

- The key holds, per layer, the database version `(load count, last load id)` read from
  `city.load_runs` on each request. The loader writes that row in the same transaction as
  the data, so the version changes exactly when the new rows become visible, in every
  process at once; the read is one tiny query (the log has one row per load), on the
  tiles' own autocommit psycopg pool, so a cached tile costs one round trip.
  (pg_stat_user_tables counters were rejected: backends flush them up to a second late.)
- It also holds a local counter per layer, bumped by the LISTEN citygis_layer_changed
  listener (tiles/listener.py). That also catches changes made outside the loader that
  send the NOTIFY by hand, and frees the memory of stale entries eagerly.
- Current-data tiles expire after `current_ttl_s`: a version may start or end by the clock
  alone (valid_from in the future), with no write to announce it.

Restricted layers: what the caller's role may read is part of the key, and `cached_tile`
refuses a caller who may not see every layer before it looks in the cache (the route's 403
comes first too).
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from cachetools import LRUCache
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from layers import Access
from layers.access import Principal
from layers.query import DateTimeInterval
from layers.source import FeatureSource
from tiles import mvt
from tiles.filters import Value
from tiles.grid import TileCoords
from tiles.settings import TileSettings

POOL_TIMEOUT_S = 3.0
DOWN_HOLD_S = 1.0
ENTRY_OVERHEAD = 256  # bytes of key and bookkeeping counted per entry


@dataclass(frozen=True)
class TileKey:
    layers: tuple[str, ...]
    versions: tuple[tuple[int, int, int], ...]
    tms: str
    z: int
    x: int
    y: int
    when: tuple[str | None, str | None, bool, str | None] | None
    filters: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]
    access: str
    shift: str | None = None


@dataclass(frozen=True)
class CachedTile:
    body: bytes
    etag: str
    current: bool  # shows data valid now (not a past as-of), so it expires by the clock
    stored_at: float


def etag_of(body: bytes) -> str:
    """Strong ETag: a hash of the bytes, so equal tiles match across processes."""
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'


def is_past(when: DateTimeInterval | None, now: datetime | None = None) -> bool:
    """Whether the request shows only a moment or period that has ended."""
    now = now or datetime.now(UTC)
    if when is None:
        return False
    # What the database held at a past transaction time never changes again.
    return (when.end is not None and when.end < now) or (
        when.recorded is not None and when.recorded < now
    )


class TileCache:
    def __init__(
        self,
        settings: TileSettings,
        pool: AsyncConnectionPool | None = None,
        replicas: Sequence[AsyncConnectionPool] = (),
    ):
        self.settings = settings
        self.pool = pool  # version reads and renders on the primary
        # The same on each streaming replica: a tile's versions and its render come from
        # one server, so its key always names what it shows.
        self.replicas = list(replicas)
        self._lru: LRUCache[TileKey, CachedTile] = LRUCache(
            maxsize=max(int(settings.cache_mb * 2**20), 1),
            getsizeof=lambda entry: len(entry.body) + ENTRY_OVERHEAD,
        )
        self.local: defaultdict[str, int] = defaultdict(int)
        self.hits = self.misses = 0
        self._down_until: dict[int | None, float] = {}

    @asynccontextmanager
    async def connection(
        self, replica: int | None = None
    ) -> AsyncIterator[psycopg.AsyncConnection]:
        """A pooled connection; with the database just found down, a failure at once.

        A request that waited POOL_TIMEOUT_S in vain marks the database down for
        DOWN_HOLD_S: requests meanwhile get the 503 at once instead of each waiting
        (a tile waits twice: versions, then render), which under load stalled every
        client for the whole outage. The pool keeps reconnecting in the background.
        """
        pool = self.pool if replica is None else self.replicas[replica]
        assert pool is not None, "a serving cache has a pool"
        if time.monotonic() < self._down_until.get(replica, 0.0):
            raise psycopg.OperationalError("database unreachable (found down just now)")
        try:
            async with pool.connection() as conn:
                yield conn
        except PoolTimeout:
            self._down_until[replica] = time.monotonic() + DOWN_HOLD_S
            raise

    def get(self, key: TileKey) -> CachedTile | None:
        entry = self._lru.get(key)
        if (
            entry
            and entry.current
            and time.monotonic() - entry.stored_at > self.settings.current_ttl_s
        ):
            del self._lru[key]
            entry = None
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    def put(self, key: TileKey, body: bytes, current: bool) -> CachedTile:
        entry = CachedTile(body, etag_of(body), current, time.monotonic())
        if len(body) + ENTRY_OVERHEAD <= self._lru.maxsize:
            self._lru[key] = entry
        return entry

    def bump(self, layer_id: str) -> None:
        """A layer changed: new keys for it from now on, and its old entries dropped."""
        self.local[layer_id] += 1
        for key in [k for k in self._lru if layer_id in k.layers]:
            self._lru.pop(key, None)

    def clear(self) -> None:
        """Forget everything, e.g. after the listener lost its connection."""
        for layer_id in list(self.local):
            self.local[layer_id] += 1
        self._lru.clear()

    @property
    def bytes(self) -> int:
        return int(self._lru.currsize)


VERSIONS_SQL = (
    "SELECT layer_id, count(*), coalesce(max(id), 0) FROM city.load_runs"
    " WHERE layer_id = ANY(%s) GROUP BY layer_id"
)


async def configure(conn: psycopg.AsyncConnection) -> None:
    """No parallel plans: a tile server's parallelism is its concurrent requests, and one
    worker-less scan returns rows in the same order for the same data, so equal tiles have
    equal bytes (and ETags) without a sort. A SET, not a startup option, which poolers
    such as PgBouncer refuse."""
    await conn.execute("SET max_parallel_workers_per_gather = 0")


def tiles_pool(conninfo: str, size: int, pooler: bool = False) -> AsyncConnectionPool:
    """An autocommit psycopg pool for version reads and renders (opened by the app).

    Plain psycopg, not SQLAlchemy: a cached tile's one round trip then costs 0.13 ms
    instead of 0.47 ms, and a tile arrives in binary (measured); no transaction, so
    nothing to roll back on return.
    """
    return AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=size,
        open=False,
        # A transaction-pooling PgBouncer hands each statement any server connection, so
        # server-side prepared statements (psycopg's after 5 runs) must stay off there.
        kwargs={"autocommit": True} | ({"prepare_threshold": None} if pooler else {}),
        configure=configure,
        name="tiles",
        # With the database down, a request waits this long for a connection and then
        # fails (503) instead of hanging for psycopg_pool's default 30 s.
        timeout=POOL_TIMEOUT_S,
        # Pooled connections a database restart killed are found before they are used.
        check=AsyncConnectionPool.check_connection,
    )


async def db_versions(
    cache: TileCache, layer_ids: Sequence[str], replica: int | None = None
) -> dict[str, tuple[int, int]]:
    """Per layer (committed loads, last load id); both change with every committed load."""
    for attempt in (1, 2):
        try:
            async with cache.connection(replica) as conn:
                cur = await conn.execute(VERSIONS_SQL, (list(layer_ids),))
                return {layer_id: (n, last) for layer_id, n, last in await cur.fetchall()}
        except PoolTimeout:  # no connection to be had: the database is down
            raise
        except psycopg.OperationalError:  # a connection dropped since: the pool replaces it
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _when_key(
    when: DateTimeInterval | None,
) -> tuple[str | None, str | None, bool, str | None] | None:
    if when is None:
        return None
    iso = [
        d.astimezone(UTC).isoformat() if d else None for d in (when.start, when.end, when.recorded)
    ]
    return iso[0], iso[1], when.instant, iso[2]


async def tile_key(
    cache: TileCache,
    specs: Sequence[FeatureSource],
    coords: TileCoords,
    when: DateTimeInterval | None,
    filters: Mapping[str, Mapping[str, Value]],
    shift: str | None,
    reader: str = Access.restricted,
    replica: int | None = None,
) -> TileKey:
    """The tile's cache key, with each layer's change version as committed right now (on
    the replica that renders it, if one does: a lagging one names its own older state)."""
    ids = tuple(s.id for s in specs)
    db = await db_versions(cache, ids, replica)
    return TileKey(
        layers=ids,
        versions=tuple((*db.get(i, (0, 0)), cache.local[i]) for i in ids),
        tms=coords.tms_id,
        z=coords.z,
        x=coords.x,
        y=coords.y,
        when=_when_key(when),
        filters=tuple(
            (i, tuple(sorted((k, repr(v)) for k, v in filters.get(i, {}).items()))) for i in ids
        ),
        # A tile of public layers is the same for everyone; one with a restricted layer is
        # kept per set of readable layers, so it never crosses roles.
        access=reader if any(s.access is Access.restricted for s in specs) else Access.public,
        shift=shift,
    )


async def cached_tile(
    cache: TileCache,
    principal: Principal,
    specs: Sequence[FeatureSource],
    coords: TileCoords,
    when: DateTimeInterval | None,
    filters: Mapping[str, Mapping[str, Value]],
    shift: str | None = None,
    replica: int | None = None,
) -> CachedTile:
    """The tile from the cache if its layers have not changed since, else rendered (on the
    primary, or on the replica given: both the versions and the render are read there)."""
    principal.refuse_hidden(specs)
    key = await tile_key(cache, specs, coords, when, filters, shift, principal.reads_key, replica)
    if entry := cache.get(key):
        return entry
    async with cache.connection(replica) as conn:
        body = await mvt.render(
            conn, specs, coords, when, filters, cache.settings.max_features, shift
        )
    return cache.put(key, body, current=not is_past(when))


def cache_control(
    specs: Sequence[FeatureSource], when: DateTimeInterval | None, settings: TileSettings
) -> str:
    """Short and revalidated for current data; longer for a past that no longer moves."""
    scope = "private" if any(s.access is Access.restricted for s in specs) else "public"
    age = settings.past_max_age_s if is_past(when) else settings.current_max_age_s
    return f"{scope}, max-age={age}, must-revalidate"
