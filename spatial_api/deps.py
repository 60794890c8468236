"""Request dependencies: the catalog, one layer, a database connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog, LayerSpec


def get_catalog(request: Request) -> Catalog:
    return request.app.state.catalog


CatalogDep = Annotated[Catalog, Depends(get_catalog)]


def get_layer(catalog: CatalogDep, layer_id: Annotated[str, Path(max_length=64)]) -> LayerSpec:
    return catalog[layer_id]  # raises LayerNotFound → 404


LayerDep = Annotated[LayerSpec, Depends(get_layer)]


async def get_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.engine.connect() as conn:
        yield conn


ConnDep = Annotated[AsyncConnection, Depends(get_connection)]
