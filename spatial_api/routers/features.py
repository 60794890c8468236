"""OGC API Features (Parts 1–3): landing page, conformance, collections, items, queryables."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from layers.source import LayerSource
from spatial_api import audit, scenarios
from spatial_api.deps import CatalogDep, ConnDep, LayerDep, PrincipalDep
from spatial_api.features import collections as colls
from spatial_api.features import items
from spatial_api.features.crs import parse_crs
from spatial_api.features.lineage import has_lineage, lineage
from spatial_api.features.links import GEOJSON, JSON, Link, base_url
from spatial_api.features.params import ItemsQuery, items_query
from spatial_api.params import HistoryDep, WhenDep
from spatial_api.responses import GEOJSON_RESPONSE, GeoJSONResponse
from spatial_api.routing import OgcRoute, attribute_filters

router = APIRouter(tags=["OGC API Features"], route_class=OgcRoute)

OGC = "http://www.opengis.net/spec/"
CQL2 = OGC + "cql2/1.0/conf/"
CONFORMANCE = [
    OGC + "ogcapi-features-1/1.0/conf/core",
    OGC + "ogcapi-features-1/1.0/conf/geojson",
    OGC + "ogcapi-features-2/1.0/conf/crs",
    OGC + "ogcapi-features-3/1.0/conf/queryables",
    OGC + "ogcapi-features-3/1.0/conf/queryables-query-parameters",
    OGC + "ogcapi-features-3/1.0/conf/filter",
    OGC + "ogcapi-features-3/1.0/conf/features-filter",
    OGC + "ogcapi-features-4/1.0/conf/create-replace-delete",
    OGC + "ogcapi-features-4/1.0/conf/update",
    OGC + "ogcapi-features-4/1.0/conf/features",
    CQL2 + "cql2-text",
    CQL2 + "cql2-json",
    CQL2 + "basic-cql2",
    CQL2 + "basic-spatial-functions",
    CQL2 + "basic-spatial-functions-plus",
    CQL2 + "spatial-functions",
    CQL2 + "property-property",
]
# FastAPI publishes OpenAPI 3.1, so the oas30 conformance class is not claimed.
OPENAPI_31 = "application/vnd.oai.openapi+json;version=3.1"
CrsParam = Annotated[str | None, Query(max_length=200, description="Output CRS")]


class Landing(BaseModel):
    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    conformsTo: list[str]


@router.get("/", response_model=Landing, response_model_exclude_none=True)
async def landing(request: Request) -> Landing:
    base = base_url(request)
    return Landing(
        title="citygis",
        description="City spatiotemporal data (OGC API Features)",
        links=[
            Link(href=f"{base}/", rel="self", type=JSON, title="This document"),
            Link(
                href=f"{base}/api", rel="service-desc", type=OPENAPI_31, title="OpenAPI definition"
            ),
            Link(
                href=f"{base}/api.html",
                rel="service-doc",
                type="text/html",
                title="API documentation",
            ),
            Link(
                href=f"{base}/conformance",
                rel="conformance",
                type=JSON,
                title="Conformance classes",
            ),
            Link(href=f"{base}/collections", rel="data", type=JSON, title="Collections"),
        ],
    )


@router.get("/conformance", response_model=Conformance)
async def conformance() -> Conformance:
    return Conformance(conformsTo=CONFORMANCE)


@router.get("/collections", response_model=colls.Collections, response_model_exclude_none=True)
async def list_collections(
    request: Request, catalog: CatalogDep, principal: PrincipalDep, conn: ConnDep
) -> colls.Collections:
    """Catalog layers, then live saved results; restricted ones need a token."""
    visible = principal.displayed(catalog)
    return colls.Collections(
        links=[Link(href=f"{base_url(request)}/collections", rel="self", type=JSON)],
        collections=[
            *[await colls.collection(conn, request, LayerSource(spec)) for spec in visible],
            *await colls.result_collections(conn, request, principal),
        ],
    )


@router.get(
    "/collections/{layer_id}", response_model=colls.Collection, response_model_exclude_none=True
)
async def get_collection(request: Request, layer: LayerDep, conn: ConnDep) -> colls.Collection:
    return await colls.collection(conn, request, LayerSource(layer))


@router.get(
    "/collections/{layer_id}/queryables",
    responses={200: {"content": {"application/schema+json": {}}}},
)
async def queryables(request: Request, layer: LayerDep) -> JSONResponse:
    return JSONResponse(colls.queryables(request, layer), media_type="application/schema+json")


@router.get(
    "/collections/{layer_id}/items", response_class=GeoJSONResponse, responses=GEOJSON_RESPONSE
)
@attribute_filters
async def get_items(
    request: Request,
    layer: LayerDep,
    conn: ConnDep,
    principal: PrincipalDep,
    q: Annotated[ItemsQuery, Depends(items_query)],
) -> GeoJSONResponse:
    """Features of the layer at a valid time (now by default), paged and filtered."""
    if q.when is not None and q.when.scenario is not None:
        await scenarios.get(conn, principal, q.when.scenario)
    source = LayerSource(layer)
    features, returned, matched = await items.page(conn, source, q)
    bbox = request.query_params.get("bbox")
    await audit.log_read(conn, principal, layer, {"bbox": bbox, "returned": returned})
    body = items.collection_json(
        request, source.id, source.title, q.limit, q.offset, features, returned, matched
    )
    return GeoJSONResponse(body, headers={"Content-Crs": q.crs.header})


@router.get(
    "/collections/{layer_id}/items/{feature_id}",
    response_class=GeoJSONResponse,
    responses=GEOJSON_RESPONSE,
)
async def get_item(
    request: Request,
    layer: LayerDep,
    conn: ConnDep,
    feature_id: str,
    when: WhenDep,
    crs: CrsParam = None,
) -> GeoJSONResponse:
    """The asset as it is now, or at the instant `datetime`, or one version when the id
    reads `<asset_id>@<version>`."""
    out, source = parse_crs(crs, "crs"), LayerSource(layer)
    feature = (await items.one(conn, source, feature_id, out, when=when))[0]
    headers = {"Content-Crs": out.header}
    if (when is None or when.now) and "@" not in feature_id:  # the current version, for If-Match
        headers["ETag"] = f'"{feature["properties"]["version_id"]}"'
    return GeoJSONResponse(items.item_json(request, source, feature_id, feature), headers=headers)


@router.get(
    "/collections/{layer_id}/items/{feature_id}/history",
    response_class=GeoJSONResponse,
    responses=GEOJSON_RESPONSE,
)
async def get_history(
    request: Request,
    layer: LayerDep,
    conn: ConnDep,
    feature_id: str,
    when: HistoryDep,
    crs: CrsParam = None,
) -> GeoJSONResponse:
    """Every version of one asset, by valid_from; ids read `<asset_id>@<version_id>`. A
    layer with renewals adds the chain: what the asset replaced and what replaced it.
    With `recorded`, the versions the database held then; with `scenario`, the live ones
    with the scenario's edits laid over (its versions have negative ids)."""
    out = parse_crs(crs, "crs")
    features = await items.one(conn, LayerSource(layer), feature_id, out, history=True, when=when)
    body = {
        "type": "FeatureCollection",
        "numberMatched": len(features),
        "numberReturned": len(features),
        "features": features,
    }
    if has_lineage(layer):
        chain = await lineage(conn, layer, feature_id)
        base = f"{base_url(request)}/collections/{layer.id}/items"
        body |= chain | {
            "links": [
                Link(href=f"{base}/{a}/history", rel=rel, type=GEOJSON).model_dump(
                    exclude_none=True
                )
                for rel, key in (
                    ("predecessor-version", "replaces"),
                    ("successor-version", "replaced_by"),
                )
                for a in chain[key]
            ]
        }
    return GeoJSONResponse(
        json.dumps(body, ensure_ascii=False), headers={"Content-Crs": out.header}
    )
