"""LISTEN citygis_layer_changed on a dedicated connection, reconnecting when it drops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from tiles.cache import TileCache, tiles_pool
from tiles.settings import TileSettings

log = logging.getLogger(__name__)
CHANNEL = "citygis_layer_changed"


def libpq_conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class ChangeListener:
    """Calls `changed(layer_id)` per notification and `lost()` after each reconnect.

    Notifications sent while the connection was down are lost, hence `lost()`: the
    caller forgets what it cached. (Correctness does not hang on this: see tiles/cache.py.)
    """

    def __init__(
        self,
        conninfo: str,
        changed: Callable[[str], Any],
        lost: Callable[[], Any],
        max_delay: float = 30.0,
    ):
        self.conninfo, self.changed, self.lost = conninfo, changed, lost
        self.max_delay = max_delay
        self.listening = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="tile-change-listener")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        delay, first = 0.5, True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if not first:
                        self.lost()
                    first, delay = False, 0.5
                    self.listening.set()
                    async for note in conn.notifies():
                        self.changed(note.payload)
            except psycopg.Error as exc:
                log.warning("tile change listener: %s; reconnecting in %.1fs", exc, delay)
            self.listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay)


@contextlib.asynccontextmanager
async def tiles_runtime(
    state: Any,
    database_url: str,
    settings: TileSettings | None = None,
    also: Callable[[str | None], Any] | None = None,
    pooler: bool = False,
    listen_url: str | None = None,
    replica_urls: Sequence[str] = (),
) -> AsyncIterator[None]:
    """The tile cache on `state.tile_cache`, kept fresh by a listener while the app runs;
    `also` hears every change too (None: the connection was lost).

    Behind a transaction-pooling PgBouncer (`pooler`), LISTEN needs a direct connection
    (`listen_url`); without one there is no listener, and tiles stay right all the same,
    since their keys hold the change versions read from the database.
    """
    settings = settings or TileSettings()
    conninfo = libpq_conninfo(database_url)
    pool = tiles_pool(conninfo, settings.connections, pooler)
    replicas = [tiles_pool(libpq_conninfo(u), settings.connections, pooler) for u in replica_urls]
    cache = state.tile_cache = TileCache(settings, pool, replicas)

    def changed(payload: str) -> None:
        cache.bump(payload)
        if also:
            also(payload)

    def lost() -> None:
        cache.clear()
        if also:
            also(None)

    listen = libpq_conninfo(listen_url) if listen_url else conninfo
    listener = state.tile_listener = ChangeListener(listen, changed, lost)
    assert cache.pool is not None
    await cache.pool.open(wait=False)  # connects in the background; first use waits
    for replica in replicas:
        await replica.open(wait=False)
    if settings.listen and (listen_url or not pooler):
        listener.start()
    try:
        yield
    finally:
        await listener.stop()
        await cache.pool.close()
        for replica in replicas:
            await replica.close()
