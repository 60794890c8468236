"""Saved results as OGC collections `result-<uuid>`: metadata, items and vector tiles.

They sit beside the catalog layers in /collections until they expire. A result's
properties are whatever its analysis wrote (jsonb), so there are no queryables, no
attribute filters and no valid time: a result is a snapshot. Routes here are registered
before the catalog's `/collections/{layer_id}/…` ones, which would otherwise match.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response

from layers.errors import InvalidParameter, NotFound
from spatial_api.analysis import results as store
from spatial_api.deps import ConnDep, PrincipalDep
from spatial_api.features import collections as colls
from spatial_api.features import items
from spatial_api.features.binds import Binds
from spatial_api.features.crs import (
    output_geometry_sql,
    parse_crs,
    shift_features,
    storage_geometry,
)
from spatial_api.features.links import GEOJSON, JSON, base_url
from spatial_api.features.params import MAX_LIMIT, BBox, check_page
from spatial_api.responses import GEOJSON_RESPONSE, GeoJSONResponse
from spatial_api.routing import OgcRoute
from spatial_api.tile_http import TILE_RESPONSES, ShiftDep, TileDep, mvt_response
from tiles.cache import etag_of
from tiles.grid import BUFFER, EXTENT
from tiles.mvt import MARGIN
from tiles.shift import gcj02_affine, source_lonlat_bounds

router = APIRouter(tags=["results"], route_class=OgcRoute)
ITEM_PARAMS = {"limit", "offset", "bbox", "bbox-crs", "crs", "f", "token"}


async def live_result(result_id: str, conn: ConnDep, principal: PrincipalDep) -> dict:
    """The live result the path names; malformed, expired and hidden ids are all 404."""
    try:
        rid = UUID(result_id)
    except ValueError:
        raise NotFound(f"no collection {colls.collection_id(result_id)!r}") from None
    return await store.get_result(conn, rid, principal.restricted)


ResultDep = Annotated[dict, Depends(live_result)]


@router.get("/collections/result-{result_id}", response_model=colls.Collection,
            response_model_exclude_none=True)
async def get_result_collection(request: Request, result: ResultDep,
                                conn: ConnDep) -> colls.Collection:
    return await colls.result_collection(conn, request, result)


@router.get("/collections/result-{result_id}/items", response_class=GeoJSONResponse,
            responses=GEOJSON_RESPONSE)
async def get_result_items(
    request: Request, result: ResultDep, conn: ConnDep,
    limit: Annotated[int, Query(description=f"Features per page, 1 to {MAX_LIMIT}")] = 10,
    offset: Annotated[int, Query(description="Features to skip (paging)")] = 0,
    bbox: Annotated[str | None, Query(max_length=400)] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", max_length=200)] = None,
    crs: Annotated[str | None, Query(max_length=200, description="Output CRS")] = None,
    f: Annotated[str | None, Query(max_length=40)] = None,
) -> GeoJSONResponse:
    """A page of the result's features, by feature id, in any supported CRS."""
    if unknown := sorted(set(request.query_params) - ITEM_PARAMS):
        raise InvalidParameter(f"unknown query parameter(s) {', '.join(unknown)}; results "
                               "take limit, offset, bbox, bbox-crs and crs")
    check_page(limit, offset, f)
    out = parse_crs(crs, "crs")
    binds = Binds()
    where = "TRUE"
    if bbox is not None:
        box = BBox.parse(bbox, parse_crs(bbox_crs, "bbox-crs"))
        where = f"ST_Intersects(r.geom, {storage_geometry(box.as_geojson(), box.crs, binds)})"
    features, returned, matched = await store.result_page(
        conn, result["id"], limit, offset, output_geometry_sql(out, "r.geom"), where, binds)
    if out.offset and features:
        features = json.dumps(shift_features(json.loads(f"[{features}]"), out))[1:-1]
    body = items.collection_json(request, colls.collection_id(result["id"]),
                                 f"Result: {result['kind']}", limit, offset, features,
                                 returned, matched)
    return GeoJSONResponse(body, headers={"Content-Crs": out.header})


@router.get("/collections/result-{result_id}/items/{feature_id}",
            response_class=GeoJSONResponse, responses=GEOJSON_RESPONSE)
async def get_result_item(request: Request, result: ResultDep, conn: ConnDep, feature_id: str,
                          crs: Annotated[str | None, Query(max_length=200)] = None
                          ) -> GeoJSONResponse:
    out = parse_crs(crs, "crs")
    if not feature_id.isdigit() or not 1 <= int(feature_id) <= result["feature_count"]:
        raise NotFound(f"no feature {feature_id!r} in {colls.collection_id(result['id'])!r}")
    binds = Binds()
    where = f"r.fid = {binds.add(int(feature_id))}"
    features, _, _ = await store.result_page(
        conn, result["id"], 1, 0, output_geometry_sql(out, "r.geom"), where, binds)
    feature = shift_features([json.loads(features)], out)[0]
    cid = colls.collection_id(result["id"])
    feature["links"] = [
        {"href": f"{base_url(request)}/collections/{cid}/items/{feature_id}", "rel": "self",
         "type": GEOJSON},
        {"href": f"{base_url(request)}/collections/{cid}", "rel": "collection", "type": JSON}]
    return GeoJSONResponse(json.dumps(feature, ensure_ascii=False),
                           headers={"Content-Crs": out.header})


@router.get("/collections/result-{result_id}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}"
            "/{tileCol}", response_class=Response, responses=TILE_RESPONSES)
async def get_result_tile(request: Request, result: ResultDep, tile: TileDep,
                          conn: ConnDep, shift: ShiftDep = None) -> Response:
    """The result as one MVT layer named by its collection id; properties as written."""
    cid = colls.collection_id(result["id"])
    bounds, affine = tile.lonlat_bounds(MARGIN), None
    if shift is not None:
        fit = gcj02_affine(tile)
        bounds, affine = source_lonlat_bounds(tile, fit, MARGIN), fit.params()
    body = await store.result_tile(conn, result["id"], cid, tile.z, tile.x, tile.y,
                                   bounds, EXTENT, BUFFER, affine)
    # A result never changes, so the tile may be cached until the result expires.
    left = int((result["expires_at"] - datetime.now(UTC)).total_seconds())
    scope = "private" if result["restricted"] else "public"
    return mvt_response(body, etag_of(body), request, f"{scope}, max-age={max(left, 0)}")
