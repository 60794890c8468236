"""OGC API Tiles: Mapbox vector tiles of one layer or several, their metadata and TileJSON.

Tiles follow OGC's order {tileMatrix}/{tileRow}/{tileCol} = z/y/x. A tile with no feature
is a 204 No Content (MapLibre and OpenLayers draw nothing for it), with its ETag.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from morecantile.models import TileMatrixSet

from layers.source import LayerSource
from spatial_api.deps import ConnDep, LayerDep, PrincipalDep
from spatial_api.features.links import Link, base_url
from spatial_api.params import WhenDep
from spatial_api.routing import StrictRoute, attribute_filters
from spatial_api.tile_http import (
    TILE_RESPONSES,
    XYZ,
    CollectionsDep,
    ShiftDep,
    TileDep,
    TmsId,
    filters_for,
    pass_on_query,
    tile_response,
)
from tiles import metadata
from tiles.cache import TileCache, cached_tile
from tiles.grid import SUPPORTED, tile_matrix_set
from tiles.metadata import TileJSON, TileMatrixSetList, TileSet, TileSetList

router = APIRouter(tags=["OGC API Tiles"], route_class=StrictRoute)


@router.get("/tileMatrixSets", response_model=TileMatrixSetList, response_model_exclude_none=True)
async def tile_matrix_sets(request: Request) -> TileMatrixSetList:
    base = base_url(request)
    return TileMatrixSetList(
        tileMatrixSets=[
            metadata.TileMatrixSetRef(
                id=i,
                title=tile_matrix_set(i).title,
                uri=tile_matrix_set(i).uri,
                links=[
                    Link(href=f"{base}/tileMatrixSets/{i}", rel="self", type="application/json")
                ],
            )
            for i in SUPPORTED
        ]
    )


@router.get(
    "/tileMatrixSets/{tileMatrixSetId}",
    response_model=TileMatrixSet,
    response_model_exclude_none=True,
)
async def tile_matrix_set_definition(tms_id: TmsId) -> TileMatrixSet:
    return tile_matrix_set(tms_id)


@router.get(
    "/collections/{layer_id}/tiles", response_model=TileSetList, response_model_exclude_none=True
)
async def layer_tilesets(layer: LayerDep, request: Request) -> TileSetList:
    base = base_url(request)
    return TileSetList(
        tilesets=[
            metadata.tileset_ref(
                f"{layer.title}: {i}", i, f"{base}/collections/{layer.id}/tiles/{i}", base
            )
            for i in SUPPORTED
        ]
    )


@router.get(
    "/collections/{layer_id}/tiles/{tileMatrixSetId}",
    response_model=TileSet,
    response_model_exclude_none=True,
)
@attribute_filters
async def layer_tileset(layer: LayerDep, tms_id: TmsId, request: Request, conn: ConnDep) -> TileSet:
    tile_matrix_set(tms_id)
    filters_for([layer], request)  # the filters handed on must be ones tiles accept
    base = base_url(request)
    return metadata.tileset(
        layer.title,
        [layer],
        tms_id,
        f"{base}/collections/{layer.id}/tiles/{tms_id}",
        base,
        await metadata.bounds(conn, [layer]),
        pass_on_query(request),
    )


@router.get(
    "/collections/{layer_id}/tiles/{tileMatrixSetId}/tilejson.json", response_model=TileJSON
)
@attribute_filters
async def layer_tilejson(
    layer: LayerDep, tms_id: TmsId, request: Request, conn: ConnDep
) -> TileJSON:
    tile_matrix_set(tms_id)
    filters_for([layer], request)
    url = f"{base_url(request)}/collections/{layer.id}/tiles/{tms_id}/{XYZ}"
    return metadata.tilejson(
        layer.id, [layer], url + pass_on_query(request), await metadata.bounds(conn, [layer])
    )


@router.get(
    "/collections/{layer_id}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    response_class=Response,
    responses=TILE_RESPONSES,
)
@attribute_filters
async def layer_tile(
    layer: LayerDep,
    tile: TileDep,
    when: WhenDep,
    request: Request,
    principal: PrincipalDep,
    shift: ShiftDep = None,
) -> Response:
    """One layer's features in one tile, generalised for its zoom (see tiles/mvt.py)."""
    # The hot path: every dependency costs FastAPI time, so the cache is read off the app.
    cache: TileCache = request.app.state.tile_cache
    filters, sources = filters_for([layer], request), [LayerSource(layer)]
    replica = await request.app.state.reads.replica_for(request)
    entry = await cached_tile(cache, principal, sources, tile, when, filters, shift, replica)
    return tile_response(entry, request, sources, when, principal, tile)


@router.get("/tiles/{tileMatrixSetId}/tilejson.json", response_model=TileJSON)
@attribute_filters
async def multi_tilejson(
    specs: CollectionsDep, tms_id: TmsId, request: Request, conn: ConnDep
) -> TileJSON:
    tile_matrix_set(tms_id)
    filters_for(specs, request)
    url = f"{base_url(request)}/tiles/{tms_id}/{XYZ}"
    return metadata.tilejson(
        "citygis", specs, url + pass_on_query(request), await metadata.bounds(conn, specs)
    )


@router.get(
    "/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    response_class=Response,
    responses=TILE_RESPONSES,
)
@attribute_filters
async def multi_tile(
    specs: CollectionsDep,
    tile: TileDep,
    when: WhenDep,
    request: Request,
    principal: PrincipalDep,
    shift: ShiftDep = None,
) -> Response:
    """Several layers in one tile, one MVT layer each, named by layer id."""
    cache: TileCache = request.app.state.tile_cache
    filters, sources = filters_for(specs, request), [LayerSource(s) for s in specs]
    replica = await request.app.state.reads.replica_for(request)
    entry = await cached_tile(cache, principal, sources, tile, when, filters, shift, replica)
    return tile_response(entry, request, sources, when, principal, tile)
