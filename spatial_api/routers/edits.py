"""OGC API Features Part 4: create, replace, update and delete features of a catalog layer.

Each write is a new version in valid time (spatial_api/features/writes.py), checked by the
role's write right and validated as the loaders validate a file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog, LayerSpec
from layers.access import Principal
from layers.errors import InvalidParameter, TooLarge
from layers.query import DateTimeInterval, parse_instant
from layers.source import VERSION_PROPS, LayerSource
from spatial_api import scenarios
from spatial_api.analysis import siting
from spatial_api.deps import CatalogDep, ConnDep, EditLayerDep, PrincipalDep
from spatial_api.features import items, scenario_writes, writes
from spatial_api.features.crs import DEFAULT, Crs, parse_crs
from spatial_api.features.links import base_url
from spatial_api.routing import OgcRoute

router = APIRouter(tags=["OGC API Features: editing"], route_class=OgcRoute)

MAX_BODY_BYTES = 32 * 2**20
ValidFrom = Annotated[
    str | None,
    Query(max_length=64, description="When the change takes effect (valid time; default now)"),
]
ContentCrs = Annotated[
    str | None, Header(alias="Content-Crs", max_length=200, description="CRS of the body")
]
IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=64)]
InScenario = Annotated[
    str | None,
    Query(max_length=40, description="Write into this scenario only (what-if), not the city"),
]


def _valid_from(text: str | None) -> datetime:
    return parse_instant(text, "valid_from") if text else datetime.now(UTC)


def _size_checked(request: Request) -> None:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise TooLarge(f"body of {int(length)} bytes, at most {MAX_BODY_BYTES}")


def _features(body: Any) -> list[dict]:
    if isinstance(body, dict) and body.get("type") == "FeatureCollection":
        features = body.get("features")
        if not isinstance(features, list) or not features:
            raise InvalidParameter("a FeatureCollection with no features")
        return features
    if isinstance(body, dict) and body.get("type") == "Feature":
        return [body]
    raise InvalidParameter("the body is neither a GeoJSON Feature nor a FeatureCollection")


async def _replace(
    conn: AsyncConnection,
    layer: LayerSpec,
    principal: Principal,
    feature_id: str,
    feature: dict,
    valid_from: datetime,
    crs: Crs,
    if_match: str | None,
    scenario: str | None,
    action: str = "replace",
) -> writes.Written:
    if scenario is None:
        return await writes.replace(
            conn, layer, principal, feature_id, feature, valid_from, crs, if_match, action
        )
    await scenarios.get(conn, principal, scenario, editing=True)
    return await scenario_writes.replace(
        conn, layer, principal, feature_id, feature, valid_from, crs, if_match, scenario, action
    )


async def _siting_headers(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    layer: LayerSpec,
    asset_id: str,
    scenario: str | None,
) -> dict[str, str]:
    """A scenario edit's siting warnings: a 204 has no body, so they ride in a header."""
    if scenario is None:
        return {}
    found = await siting.edit_warnings(conn, catalog, principal, layer, [asset_id], scenario)
    return siting.warning_headers(found)


@router.post("/collections/{layer_id}/items", status_code=201)
async def create_items(
    request: Request,
    layer: EditLayerDep,
    conn: ConnDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    body: Annotated[Any, Body(media_type="application/geo+json")],
    valid_from: ValidFrom = None,
    content_crs: ContentCrs = None,
    scenario: InScenario = None,
) -> Response:
    """Add a Feature or every feature of a FeatureCollection (all or nothing): 201 with
    `Location` of the first and the new asset ids."""
    _size_checked(request)
    principal.refuse_unwritable(layer)
    args = (_features(body), _valid_from(valid_from), parse_crs(content_crs, "Content-Crs"))
    if scenario is None:
        made = await writes.create(conn, layer, principal, *args)
    else:
        await scenarios.get(conn, principal, scenario, editing=True)
        made = await scenario_writes.create(conn, layer, principal, *args, scenario)
        ids = [w.asset_id for w in made]
        warned = await siting.edit_warnings(conn, catalog, principal, layer, ids, scenario)
    await conn.commit()
    base = f"{base_url(request)}/collections/{layer.id}/items"
    return Response(
        content=json.dumps(
            {"ids": [w.asset_id for w in made], "versions": [w.version_id for w in made]}
            | ({"warnings": warned} if scenario else {})
        ),
        status_code=201,
        media_type="application/json",
        headers={
            "Location": f"{base}/{made[0].asset_id}"
            + (f"?scenario={scenario}" if scenario else ""),
            "ETag": writes.etag(made[0].version_id or 0),
        },
    )


@router.put("/collections/{layer_id}/items/{feature_id}", status_code=204)
async def replace_item(
    request: Request,
    layer: EditLayerDep,
    conn: ConnDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    feature_id: str,
    body: Annotated[Any, Body(media_type="application/geo+json")],
    valid_from: ValidFrom = None,
    content_crs: ContentCrs = None,
    if_match: IfMatch = None,
    scenario: InScenario = None,
) -> Response:
    """Replace the feature: its current version closes at valid_from, the new one opens."""
    _size_checked(request)
    principal.refuse_unwritable(layer)
    [feature] = (
        _features(body) if isinstance(body, dict) and body.get("type") == "Feature" else [None]
    )
    if feature is None:
        raise InvalidParameter("PUT takes one GeoJSON Feature")
    done = await _replace(
        conn,
        layer,
        principal,
        feature_id,
        feature,
        _valid_from(valid_from),
        parse_crs(content_crs, "Content-Crs"),
        if_match,
        scenario,
    )
    warned = await _siting_headers(conn, catalog, principal, layer, feature_id, scenario)
    await conn.commit()
    return Response(status_code=204, headers={"ETag": writes.etag(done.version_id or 0)} | warned)


@router.patch("/collections/{layer_id}/items/{feature_id}", status_code=204)
async def update_item(
    request: Request,
    layer: EditLayerDep,
    conn: ConnDep,
    principal: PrincipalDep,
    catalog: CatalogDep,
    feature_id: str,
    body: Annotated[Any, Body(media_type="application/merge-patch+json")],
    valid_from: ValidFrom = None,
    content_crs: ContentCrs = None,
    if_match: IfMatch = None,
    scenario: InScenario = None,
) -> Response:
    """An RFC 7396 merge patch of `properties` and/or `geometry`, as a new version."""
    _size_checked(request)
    principal.refuse_unwritable(layer)
    if not isinstance(body, dict) or set(body) - {"type", "properties", "geometry"}:
        raise InvalidParameter("a merge patch holds only properties and/or geometry")
    if scenario is not None:
        await scenarios.get(conn, principal, scenario, editing=True)
    when = DateTimeInterval.parse(None, scenario=scenario)
    current = (await items.one(conn, LayerSource(layer), feature_id, DEFAULT, when=when))[0]
    props = {k: v for k, v in current["properties"].items() if k not in VERSION_PROPS}
    feature = {
        "type": "Feature",
        "properties": writes.merge_patch(props, body.get("properties") or {}),
        "geometry": body["geometry"] if body.get("geometry") else current["geometry"],
    }
    # The stored geometry comes back in CRS84; a patched one is in the body's CRS.
    crs = parse_crs(content_crs, "Content-Crs") if body.get("geometry") else DEFAULT
    done = await _replace(
        conn,
        layer,
        principal,
        feature_id,
        feature,
        _valid_from(valid_from),
        crs,
        if_match,
        scenario,
        action="update",
    )
    warned = await _siting_headers(conn, catalog, principal, layer, feature_id, scenario)
    await conn.commit()
    return Response(status_code=204, headers={"ETag": writes.etag(done.version_id or 0)} | warned)


@router.delete("/collections/{layer_id}/items/{feature_id}", status_code=204)
async def delete_item(
    layer: EditLayerDep,
    conn: ConnDep,
    principal: PrincipalDep,
    feature_id: str,
    valid_from: ValidFrom = None,
    if_match: IfMatch = None,
    scenario: InScenario = None,
) -> Response:
    """The asset stops being valid at valid_from; as-of reads before it still see it."""
    principal.refuse_unwritable(layer)
    at = _valid_from(valid_from)
    if scenario is None:
        await writes.delete(conn, layer, principal, feature_id, at, if_match)
    else:
        await scenarios.get(conn, principal, scenario, editing=True)
        await scenario_writes.delete(conn, layer, principal, feature_id, at, if_match, scenario)
    await conn.commit()
    return Response(status_code=204)
