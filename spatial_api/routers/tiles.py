"""OGC API Tiles: Mapbox vector tiles of one layer or several, their metadata and TileJSON.

Tiles follow OGC's order {tileMatrix}/{tileRow}/{tileCol} = z/y/x. A tile with no feature
is a 204 No Content (MapLibre and OpenLayers draw nothing for it), with its ETag.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from morecantile.models import TileMatrixSet

from layers import Catalog, LayerSpec
from spatial_api.deps import CatalogDep, ConnDep, LayerDep, Principal, PrincipalDep
from spatial_api.errors import InvalidParameter
from spatial_api.params import DateTimeInterval, datetime_param
from tiles import metadata
from tiles.cache import CachedTile, TileCache, cache_control, cached_tile, refuse_hidden
from tiles.filters import Value, parse_filters
from tiles.grid import SUPPORTED, TileCoords, tile_matrix_set
from tiles.metadata import MVT, TileJSON, TileMatrixSetList, TileSet, TileSetList

router = APIRouter(tags=["OGC API Tiles"])
TILE_RESPONSES: dict = {200: {"content": {MVT: {}}, "description": "A Mapbox vector tile"},
                        204: {"description": "No feature in this tile"},
                        304: {"description": "Unchanged since the ETag sent"}}
XYZ = "{z}/{y}/{x}"


WhenDep = Annotated[DateTimeInterval | None, Depends(datetime_param)]
TmsId = Annotated[str, Path(alias="tileMatrixSetId", max_length=64)]


async def get_tile_coords(tms_id: TmsId,
                    z: Annotated[str, Path(alias="tileMatrix", max_length=16)],
                    y: Annotated[str, Path(alias="tileRow", max_length=16)],
                    x: Annotated[str, Path(alias="tileCol", max_length=16)]) -> TileCoords:
    return TileCoords.parse(tms_id, z, y, x)


TileDep = Annotated[TileCoords, Depends(get_tile_coords)]
ShiftDep = Annotated[Literal["gcj02"] | None, Query(
    description="gcj02: draw features where a GCJ-02 basemap (AMap, Tencent) has them, "
                "about 500 m from their true CGCS2000 place in China")]


COLLECTIONS_MAX_LENGTH = 1000


async def get_collections(catalog: CatalogDep, principal: PrincipalDep, collections: Annotated[
        str | None, Query(max_length=COLLECTIONS_MAX_LENGTH, description="Comma-separated "
                          "layer ids; default: every layer you may see")] = None
                          ) -> list[LayerSpec]:
    return layers_named(catalog, principal, collections)


def layers_named(catalog: Catalog, principal: Principal, collections: str | None
                 ) -> list[LayerSpec]:
    """The layers of a multi-layer tile, each checked for access (403) before anything else."""
    if collections is None:
        return [s for s in catalog.values() if principal.may_see(s)]
    ids = [i.strip() for i in collections.split(",") if i.strip()]
    if not ids or len(set(ids)) != len(ids):
        raise InvalidParameter("collections: give distinct layer ids, comma-separated")
    specs = [catalog[i] for i in ids]  # LayerNotFound → 404
    refuse_hidden(principal, specs)
    return specs


CollectionsDep = Annotated[list[LayerSpec], Depends(get_collections)]


def base_url(request: Request) -> str:
    public = request.app.state.settings.public_url
    return (public or str(request.base_url)).rstrip("/")


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


def tile_response(entry: CachedTile, request: Request, specs: list[LayerSpec],
                  when: DateTimeInterval | None) -> Response:
    return mvt_response(entry.body, entry.etag, request,
                        cache_control(specs, when, request.app.state.tile_cache.settings))


def filters_for(specs: list[LayerSpec], request: Request) -> dict[str, dict[str, Value]]:
    return parse_filters(specs, request.query_params.multi_items())


@router.get("/tileMatrixSets", response_model=TileMatrixSetList, response_model_exclude_none=True)
async def tile_matrix_sets(request: Request) -> TileMatrixSetList:
    base = base_url(request)
    return TileMatrixSetList(tileMatrixSets=[metadata.TileMatrixSetRef(
        id=i, title=tile_matrix_set(i).title, uri=tile_matrix_set(i).uri,
        links=[metadata.Link(href=f"{base}/tileMatrixSets/{i}", rel="self",
                             type="application/json")]) for i in SUPPORTED])


@router.get("/tileMatrixSets/{tileMatrixSetId}", response_model=TileMatrixSet,
            response_model_exclude_none=True)
async def tile_matrix_set_definition(tms_id: TmsId) -> TileMatrixSet:
    return tile_matrix_set(tms_id)


@router.get("/collections/{layer_id}/tiles", response_model=TileSetList,
            response_model_exclude_none=True)
async def layer_tilesets(layer: LayerDep, request: Request) -> TileSetList:
    base = base_url(request)
    return TileSetList(tilesets=[metadata.tileset_ref(
        f"{layer.title}: {i}", i, f"{base}/collections/{layer.id}/tiles/{i}", base)
        for i in SUPPORTED])


@router.get("/collections/{layer_id}/tiles/{tileMatrixSetId}", response_model=TileSet,
            response_model_exclude_none=True)
async def layer_tileset(layer: LayerDep, tms_id: TmsId, request: Request,
                        conn: ConnDep) -> TileSet:
    tile_matrix_set(tms_id)
    base = base_url(request)
    return metadata.tileset(layer.title, [layer], tms_id,
                            f"{base}/collections/{layer.id}/tiles/{tms_id}", base,
                            await metadata.bounds(conn, [layer]), pass_on_query(request))


@router.get("/collections/{layer_id}/tiles/{tileMatrixSetId}/tilejson.json",
            response_model=TileJSON)
async def layer_tilejson(layer: LayerDep, tms_id: TmsId, request: Request,
                         conn: ConnDep) -> TileJSON:
    tile_matrix_set(tms_id)
    url = f"{base_url(request)}/collections/{layer.id}/tiles/{tms_id}/{XYZ}"
    return metadata.tilejson(layer.id, [layer], url + pass_on_query(request),
                             await metadata.bounds(conn, [layer]))


@router.get("/collections/{layer_id}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
            response_class=Response, responses=TILE_RESPONSES)
async def layer_tile(layer: LayerDep, tile: TileDep, when: WhenDep, request: Request,
                     principal: PrincipalDep, shift: ShiftDep = None) -> Response:
    """One layer's features in one tile, generalised for its zoom (see tiles/mvt.py)."""
    # The hot path: every dependency costs FastAPI time, so the cache is read off the app.
    cache: TileCache = request.app.state.tile_cache
    filters = filters_for([layer], request)
    entry = await cached_tile(cache, principal, [layer], tile, when,
                              filters, shift)
    return tile_response(entry, request, [layer], when)


@router.get("/tiles/{tileMatrixSetId}/tilejson.json", response_model=TileJSON)
async def multi_tilejson(specs: CollectionsDep, tms_id: TmsId, request: Request,
                         conn: ConnDep) -> TileJSON:
    tile_matrix_set(tms_id)
    url = f"{base_url(request)}/tiles/{tms_id}/{XYZ}"
    return metadata.tilejson("citygis", specs, url + pass_on_query(request),
                             await metadata.bounds(conn, specs))


@router.get("/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
            response_class=Response, responses=TILE_RESPONSES)
async def multi_tile(specs: CollectionsDep, tile: TileDep, when: WhenDep, request: Request,
                     principal: PrincipalDep, shift: ShiftDep = None) -> Response:
    """Several layers in one tile, one MVT layer each, named by layer id."""
    cache: TileCache = request.app.state.tile_cache
    filters = filters_for(specs, request)
    entry = await cached_tile(cache, principal, specs, tile, when,
                              filters, shift)
    return tile_response(entry, request, specs, when)

