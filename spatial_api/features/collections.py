"""Collection documents from the catalog: extents from PostGIS (cached), queryables schema."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import AttrType, LayerSpec
from layers.access import Principal
from layers.source import FeatureSource
from spatial_api.analysis import results as store
from spatial_api.features.cql import period_sql
from spatial_api.features.crs import CRS84, CRS_URIS, EPSG
from spatial_api.features.links import GEOJSON, JSON, Link, base_url
from tiles.metadata import MVT

EXTENT_TTL_S = 60.0  # extents scan whole tables; loads are rare, so a minute of staleness is fine


class Extent(BaseModel):
    spatial: dict[str, Any]
    temporal: dict[str, Any]


class Collection(BaseModel):
    id: str
    title: str
    description: str
    links: list[Link]
    extent: Extent
    itemType: str = "feature"
    crs: list[str] = Field(default_factory=lambda: list(CRS_URIS))
    storageCrs: str


class Collections(BaseModel):
    links: list[Link]
    collections: list[Collection]


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


async def extent(conn: AsyncConnection, request: Request, source: FeatureSource) -> Extent:
    """Bbox of what is valid now and the span of all versions' valid time (cached briefly)."""
    cache = request.app.state.__dict__.setdefault("features_extents", {})
    hit = cache.get(source.id)
    if hit and time.monotonic() - hit[0] < EXTENT_TTL_S:
        return hit[1]
    sql, params = source.extent_sql()
    row = (await conn.execute(text(sql), params)).one()
    bbox = [list(row[:4])] if row[0] is not None else [[-180.0, -90.0, 180.0, 90.0]]
    result = Extent(
        spatial={"bbox": bbox, "crs": CRS84},
        temporal={
            "interval": [[iso(row[4]), iso(row[5])]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        },
    )
    cache[source.id] = (time.monotonic(), result)
    return result


async def collection(conn: AsyncConnection, request: Request, source: FeatureSource) -> Collection:
    """The collection document of a catalog layer or a saved result."""
    base = f"{base_url(request)}/collections/{source.id}"
    links = [
        Link(href=base, rel="self", type=JSON, title=source.title),
        Link(href=f"{base}/items", rel="items", type=GEOJSON, title="Features"),
    ]
    if source.spec is not None:
        links.append(
            Link(
                href=f"{base}/queryables",
                rel="http://www.opengis.net/def/rel/ogc/1.0/queryables",
                type="application/schema+json",
                title="Queryables",
            )
        )
    else:  # a result has no tileset documents, only its tiles
        links.append(
            Link(
                href=f"{base}/tiles/WebMercatorQuad/{{tileMatrix}}/{{tileRow}}/{{tileCol}}",
                rel="tiles",
                type=MVT,
                title="Vector tiles (URL template)",
            )
        )
    return Collection(
        id=source.id,
        title=source.title,
        description=source.description,
        links=links,
        extent=await extent(conn, request, source),
        storageCrs=f"{EPSG}4490",
    )


JSON_TYPES = {
    AttrType.text: {"type": "string"},
    AttrType.integer: {"type": "integer"},
    AttrType.real: {"type": "number"},
    AttrType.boolean: {"type": "boolean"},
    AttrType.date: {"type": "string", "format": "date"},
    AttrType.timestamp: {"type": "string", "format": "date-time"},
}


def queryables(request: Request, spec: LayerSpec) -> dict[str, Any]:
    """JSON Schema of what `filter` may name: the catalog attributes, geometry, datetime."""
    props: dict[str, Any] = {}
    for a in spec.attributes:
        schema: dict[str, Any] = {"title": a.title, **JSON_TYPES[a.type]}
        if a.choices:
            schema["enum"] = list(a.choices)
        if a.minimum is not None:
            schema["exclusiveMinimum" if a.exclusive_minimum else "minimum"] = a.minimum
        if a.maximum is not None:
            schema["maximum"] = a.maximum
        notes = [n for n in (a.description, f"unit: {a.unit}" if a.unit else None) if n]
        if notes:
            schema["description"] = "; ".join(notes)
        props[a.name] = schema
    period = "the event's own period" if period_sql(spec) != "t.valid" else "valid time"
    props |= {
        "geometry": {
            "title": "Geometry",
            "format": f"geometry-{spec.geometry_type.lower()}",
            "$ref": f"https://geojson.org/schema/{spec.geometry_type}.json",
        },
        "datetime": {
            "title": "Date-time",
            "type": "string",
            "format": "date-time",
            "description": f"Temporal predicates on `datetime` test {period}",
        },
        "id": {"title": "Asset id", "type": "string"},
        "asset_id": {
            "title": "Asset id",
            "type": "string",
            "description": "the same as id: the asset's stable id",
        },
        "version_id": {"title": "Version id", "type": "integer"},
        "valid_from": {"title": "Valid from", "type": "string", "format": "date-time"},
        "valid_to": {"title": "Valid to", "type": "string", "format": "date-time"},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{base_url(request)}/collections/{spec.id}/queryables",
        "type": "object",
        "title": spec.title,
        "properties": props,
        "additionalProperties": False,
    }


async def result_collections(
    conn: AsyncConnection, request: Request, principal: Principal
) -> list[Collection]:
    """Every live result the caller may see, for /collections."""
    return [
        await collection(conn, request, store.ResultSource.of(r))
        for r in await store.list_results(conn, principal)
    ]
