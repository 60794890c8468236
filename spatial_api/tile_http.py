"""The HTTP side of a tile, shared by the tile routes, the fast lane and result tiles:
coordinates and layers from the request, and the 200/204/304 answer with its headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import Depends, Path, Query, Request, Response

from layers import Access, Catalog, LayerSpec
from layers.access import Principal
from layers.errors import InvalidParameter
from layers.query import DateTimeInterval
from layers.source import FeatureSource
from spatial_api.deps import CatalogDep, PrincipalDep
from tiles.cache import CachedTile, cache_control
from tiles.filters import Value, parse_filters
from tiles.grid import TileCoords
from tiles.metadata import MVT

TILE_RESPONSES: dict = {
    200: {"content": {MVT: {}}, "description": "A Mapbox vector tile"},
    204: {"description": "No feature in this tile"},
    304: {"description": "Unchanged since the ETag sent"},
}
XYZ = "{z}/{y}/{x}"


TmsId = Annotated[str, Path(alias="tileMatrixSetId", max_length=64)]


async def get_tile_coords(
    tms_id: TmsId,
    z: Annotated[str, Path(alias="tileMatrix", max_length=16)],
    y: Annotated[str, Path(alias="tileRow", max_length=16)],
    x: Annotated[str, Path(alias="tileCol", max_length=16)],
) -> TileCoords:
    return TileCoords.parse(tms_id, z, y, x)


TileDep = Annotated[TileCoords, Depends(get_tile_coords)]
ShiftDep = Annotated[
    Literal["gcj02"] | None,
    Query(
        description="gcj02: draw features where a GCJ-02 basemap (AMap, Tencent) has them, "
        "about 500 m from their true CGCS2000 place in China"
    ),
]


COLLECTIONS_MAX_LENGTH = 1000


async def get_collections(
    catalog: CatalogDep,
    principal: PrincipalDep,
    collections: Annotated[
        str | None,
        Query(
            max_length=COLLECTIONS_MAX_LENGTH,
            description="Comma-separated layer ids; default: every layer you may see",
        ),
    ] = None,
) -> list[LayerSpec]:
    return layers_named(catalog, principal, collections)


def layers_named(
    catalog: Catalog, principal: Principal, collections: str | None
) -> list[LayerSpec]:
    """The layers of a multi-layer tile, each checked for access (403) before anything else."""
    if collections is None:
        return principal.displayed(catalog)
    ids = [i.strip() for i in collections.split(",") if i.strip()]
    if not ids or len(set(ids)) != len(ids):
        raise InvalidParameter("collections: give distinct layer ids, comma-separated")
    specs = [catalog[i] for i in ids]  # LayerNotFound → 404
    shown = [principal.shown(s) for s in specs]
    principal.refuse_hidden([s for s, seen in zip(specs, shown, strict=True) if seen is None])
    return [s for s in shown if s is not None]


CollectionsDep = Annotated[list[LayerSpec], Depends(get_collections)]


def pass_on_query(request: Request) -> str:
    """The request's query (datetime, filters, collections) for the URLs handed out."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    return "?" + urlencode(pairs, safe=",") if pairs else ""


def mvt_response(body: bytes, etag: str, request: Request, cache_control: str) -> Response:
    """200 with the tile, 204 when it is empty, 304 when the client holds this ETag."""
    headers = {"ETag": etag, "Vary": "Authorization, X-API-Key", "Cache-Control": cache_control}
    sent = request.headers.get("if-none-match", "")
    if any(tag.strip().removeprefix("W/") in (etag, "*") for tag in sent.split(",")):
        return Response(status_code=304, headers=headers)
    if not body:
        return Response(status_code=204, headers=headers)
    return Response(body, media_type=MVT, headers=headers)


def tile_response(
    entry: CachedTile,
    request: Request,
    specs: Sequence[FeatureSource],
    when: DateTimeInterval | None,
    who: Principal,
    coords: TileCoords,
) -> Response:
    """The tile's HTTP answer; a read of restricted layers is noted for the audit."""
    if any(s.access is Access.restricted for s in specs):
        reads = getattr(request.app.state, "tile_reads", None)
        if reads is not None:
            reads.note(who, list(specs), coords.z, coords.lonlat_bounds())
    return mvt_response(
        entry.body,
        entry.etag,
        request,
        cache_control(specs, when, request.app.state.tile_cache.settings),
    )


def filters_for(specs: list[LayerSpec], request: Request) -> dict[str, dict[str, Value]]:
    return parse_filters(specs, request.query_params.multi_items())
