"""Request dependencies: the catalog, who is asking, one layer, a database connection.

Dependencies that do no I/O are still `async def`: FastAPI runs a plain `def` in a
worker thread, a hop that cost ~8% of a cached tile's time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog, LayerSpec
from layers.access import Principal

log = logging.getLogger(__name__)


async def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog


CatalogDep = Annotated[Catalog, Depends(get_catalog)]


def token_of(request: Request) -> str | None:
    """From `Authorization: Bearer`, `X-API-Key` or `?token=` (the map's links)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key") or request.query_params.get("token")


async def principal_of(request: Request) -> Principal:
    """The caller's role; an unknown, expired or revoked token is Unauthorized (401)."""
    return await request.app.state.token_book.principal(token_of(request))


async def get_principal(request: Request) -> Principal:
    return await principal_of(request)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_layer(
    catalog: CatalogDep, principal: PrincipalDep, layer_id: Annotated[str, Path(max_length=64)]
) -> LayerSpec:
    """The layer to read and display: its public view where the caller may not read it."""
    return principal.shown_layer(catalog, layer_id)


async def get_edit_layer(
    catalog: CatalogDep, principal: PrincipalDep, layer_id: Annotated[str, Path(max_length=64)]
) -> LayerSpec:
    """The layer itself, never a public view: writes go to what it stores."""
    return principal.layer(catalog, layer_id)


LayerDep = Annotated[LayerSpec, Depends(get_layer)]
EditLayerDep = Annotated[LayerSpec, Depends(get_edit_layer)]


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """The primary, or for a read a replica that holds the caller's own writes."""
    engine = await request.app.state.reads.engine_for(request)
    conn = await engine.connect()
    try:
        yield conn
    finally:
        try:
            await conn.close()
        except DBAPIError:
            # The line died after the answer was made (an outage mid-request, or a tile
            # served from the cache meanwhile): the pool has dropped the connection, and
            # the answer stands, rather than a reset in its place.
            log.warning("connection lost while being returned to the pool")


ConnDep = Annotated[AsyncConnection, Depends(get_connection)]
