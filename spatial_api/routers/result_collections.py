"""Saved results as OGC collections `result-<uuid>`: metadata, items and vector tiles.

They sit beside the catalog layers in /collections until they expire, read through the
same items and tiles queries as a layer (`ResultSource`). A result's properties are
whatever its analysis wrote (jsonb), so there are no queryables, no attribute filters and
no valid time: a result is a snapshot. Routes here are registered before the catalog's
`/collections/{layer_id}/…` ones, which would otherwise match.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from layers.errors import NotFound
from spatial_api.analysis import results as store
from spatial_api.deps import ConnDep, PrincipalDep
from spatial_api.features import collections as colls
from spatial_api.features import items
from spatial_api.features.crs import parse_crs
from spatial_api.features.params import MAX_LIMIT, BBox, ItemsQuery, check_page
from spatial_api.responses import GEOJSON_RESPONSE, GeoJSONResponse
from spatial_api.routing import OgcRoute
from spatial_api.tile_http import TILE_RESPONSES, ShiftDep, TileDep, mvt_response
from tiles.cache import TileCache, cached_tile

router = APIRouter(tags=["results"], route_class=OgcRoute)


async def live_result(result_id: str, conn: ConnDep, principal: PrincipalDep) -> store.ResultSource:
    """The live result the path names; malformed, expired and hidden ids are all 404."""
    try:
        rid = UUID(result_id)
    except ValueError:
        raise NotFound(f"no collection {store.RESULT_PREFIX + result_id!r}") from None
    return await store.live_source(conn, rid, principal)


ResultDep = Annotated[store.ResultSource, Depends(live_result)]


@router.get(
    "/collections/result-{result_id}",
    response_model=colls.Collection,
    response_model_exclude_none=True,
)
async def get_result_collection(
    request: Request, result: ResultDep, conn: ConnDep
) -> colls.Collection:
    return await colls.collection(conn, request, result)


@router.get(
    "/collections/result-{result_id}/items",
    response_class=GeoJSONResponse,
    responses=GEOJSON_RESPONSE,
)
async def get_result_items(
    request: Request,
    result: ResultDep,
    conn: ConnDep,
    limit: Annotated[int, Query(description=f"Features per page, 1 to {MAX_LIMIT}")] = 10,
    offset: Annotated[int, Query(description="Features to skip (paging)")] = 0,
    bbox: Annotated[str | None, Query(max_length=400)] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", max_length=200)] = None,
    crs: Annotated[str | None, Query(max_length=200, description="Output CRS")] = None,
    f: Annotated[str | None, Query(max_length=40)] = None,
) -> GeoJSONResponse:
    """A page of the result's features, by feature id, in any supported CRS."""
    check_page(limit, offset, f)
    q = ItemsQuery(
        limit=limit,
        offset=offset,
        crs=parse_crs(crs, "crs"),
        bbox=None if bbox is None else BBox.parse(bbox, parse_crs(bbox_crs, "bbox-crs")),
    )
    features, returned, matched = await items.page(conn, result, q)
    body = items.collection_json(
        request, result.id, result.title, limit, offset, features, returned, matched
    )
    return GeoJSONResponse(body, headers={"Content-Crs": q.crs.header})


@router.get(
    "/collections/result-{result_id}/items/{feature_id}",
    response_class=GeoJSONResponse,
    responses=GEOJSON_RESPONSE,
)
async def get_result_item(
    request: Request,
    result: ResultDep,
    conn: ConnDep,
    feature_id: str,
    crs: Annotated[str | None, Query(max_length=200)] = None,
) -> GeoJSONResponse:
    out = parse_crs(crs, "crs")
    if not feature_id.isdigit() or not 1 <= int(feature_id) <= result.feature_count:
        raise NotFound(f"no feature {feature_id!r} in {result.id!r}")
    feature = (await items.one(conn, result, int(feature_id), out))[0]
    return GeoJSONResponse(
        items.item_json(request, result, feature_id, feature), headers={"Content-Crs": out.header}
    )


@router.get(
    "/collections/result-{result_id}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    response_class=Response,
    responses=TILE_RESPONSES,
)
async def get_result_tile(
    request: Request,
    result: ResultDep,
    tile: TileDep,
    principal: PrincipalDep,
    shift: ShiftDep = None,
) -> Response:
    """The result as one MVT layer named by its collection id; properties as written."""
    cache: TileCache = request.app.state.tile_cache
    entry = await cached_tile(cache, principal, [result], tile, None, {}, shift)
    # A result never changes, so the tile may be cached until the result expires.
    left = int((result.expires_at - datetime.now(UTC)).total_seconds())
    scope = "private" if result.restricted else "public"
    return mvt_response(entry.body, entry.etag, request, f"{scope}, max-age={max(left, 0)}")
