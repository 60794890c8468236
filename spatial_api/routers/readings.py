"""Sensor time series: the readings of one sensor over a period, raw or binned.

`GET /collections/sensors/items/{sensor_id}/readings?datetime=a/b&bin=PT15M`

Raw readings come in time order (`sortby=-time`: newest first), at most `limit`, with a
`next` link when more remain.

`GET /collections/sensors/readings/latest?bbox=…&datetime=…` is the live view: every sensor
in service at that instant (default now) with its latest reading up to then, as GeoJSON.
With `bin` (an ISO 8601 duration), readings are grouped into bins aligned on midnight UTC
(`date_bin`) and each bin gives min, mean, max and count, as a chart wants them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import text

from layers.errors import FeatureNotFound, InvalidParameter
from layers.query import DATETIME_MAX_LENGTH, DateTimeInterval
from spatial_api.deps import CatalogDep, ConnDep, PrincipalDep
from spatial_api.features.links import JSON, Link, self_url
from spatial_api.params import BBoxDep
from spatial_api.readings import (
    BINNED_SQL,
    EARLIEST,
    LATEST,
    LATEST_SQL,
    RAW_SQL,
    SENSOR_SQL,
    latest_filters,
    parse_bin,
)
from spatial_api.responses import GEOJSON_RESPONSE, GeoJSONResponse
from spatial_api.routing import StrictRoute, attribute_filters


async def require_sensors(catalog: CatalogDep, principal: PrincipalDep) -> None:
    principal.layer(catalog, "sensors")  # restricted, like the pipe network


router = APIRouter(
    tags=["sensor readings"], dependencies=[Depends(require_sensors)], route_class=StrictRoute
)
MAX_LIMIT = 100_000


class Sensor(BaseModel):
    id: str
    sensor_kind: str
    unit: str
    utility: str


class Reading(BaseModel):
    time: datetime
    value: float | None = None  # raw readings
    min: float | None = None  # bins
    mean: float | None = None
    max: float | None = None
    count: int | None = None


class Readings(BaseModel):
    sensor: Sensor
    datetime: str | None
    bin: str | None
    numberReturned: int
    readings: list[Reading]
    links: list[Link]


@router.get(
    "/collections/sensors/items/{sensor_id}/readings",
    response_model=Readings,
    response_model_exclude_none=True,
)
async def readings(
    sensor_id: Annotated[str, Path(max_length=200)],
    request: Request,
    conn: ConnDep,
    datetime_: Annotated[
        str | None,
        Query(
            alias="datetime",
            max_length=DATETIME_MAX_LENGTH,
            description="An interval a/b, ../b or a/.. (an instant gives that instant's "
            "reading); default: all",
        ),
    ] = None,
    bin_: Annotated[
        str | None,
        Query(
            alias="bin",
            max_length=40,
            description=("ISO 8601 duration (PT15M, PT1H, P1D): min/mean/max/count per bin"),
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10_000,
    sortby: Annotated[
        Literal["time", "-time"],
        Query(description="-time: newest first (the latest readings, e.g. for a chart)"),
    ] = "time",
) -> Readings:
    """One sensor's readings over a period, raw or binned; 404 for a sensor never known."""
    when, step = DateTimeInterval.parse(datetime_), parse_bin(bin_)
    sensor = (await conn.execute(text(SENSOR_SQL), {"id": sensor_id})).one_or_none()
    if sensor is None:
        raise FeatureNotFound(f"no sensor {sensor_id!r} in the sensors layer")
    start = when.start if when and when.start else EARLIEST
    end = when.end if when and when.end else LATEST
    params = {"id": sensor_id, "start": start, "end": end, "limit": limit, "bin": step}
    newest_first = sortby == "-time"
    sql = (BINNED_SQL if step else RAW_SQL).format(direction="DESC" if newest_first else "ASC")
    rows = (await conn.execute(text(sql), params)).all()
    out = [
        Reading(time=r[0], min=r[1], mean=r[2], max=r[3], count=r[4])
        if step
        else Reading(time=r[0], value=r[1])
        for r in rows
    ]
    links = [Link(href=self_url(request), rel="self", type=JSON)]
    if len(out) == limit:  # more may remain: continue past the last one returned
        if newest_first:
            before = out[-1].time - timedelta(microseconds=1)
            period = f"{start.isoformat() if when and when.start else '..'}/{before.isoformat()}"
        else:
            after = out[-1].time + (step or timedelta(microseconds=1))
            period = f"{after.isoformat()}/{end.isoformat() if when and when.end else '..'}"
        links.append(Link(href=self_url(request, datetime=period), rel="next", type=JSON))
    return Readings(
        sensor=Sensor(id=sensor[0], sensor_kind=sensor[1], unit=sensor[2], utility=sensor[3]),
        datetime=datetime_,
        bin=bin_,
        numberReturned=len(out),
        readings=out,
        links=links,
    )


@router.get(
    "/collections/sensors/readings/latest",
    response_class=GeoJSONResponse,
    responses=GEOJSON_RESPONSE,
)
@attribute_filters
async def latest(
    request: Request,
    catalog: CatalogDep,
    conn: ConnDep,
    box: BBoxDep,
    datetime_: Annotated[
        str | None,
        Query(
            alias="datetime",
            max_length=DATETIME_MAX_LENGTH,
            description="An instant: the sensors then, each with its latest "
            "reading up to it; default now",
        ),
    ] = None,
) -> GeoJSONResponse:
    """Every sensor in service, with its latest reading (null when it has none yet);
    attribute filters (`?sensor_kind=gas_concentration`) narrow it."""
    where, binds = latest_filters(catalog["sensors"], request.query_params.multi_items())
    when = DateTimeInterval.parse(datetime_)
    if when is not None and when.period:
        raise InvalidParameter("datetime: give an instant, the moment to read the sensors at")
    at = when.start if when else datetime.now(UTC)
    assert at is not None  # an instant's start is the instant itself
    west, south, east, north = box.lonlat() if box else (-180.0, -90.0, 180.0, 90.0)
    rows = (
        await conn.execute(
            text(LATEST_SQL.format(where=where)),
            binds | {"at": at, "west": west, "south": south, "east": east, "north": north},
        )
    ).all()
    features = [
        {
            "type": "Feature",
            "id": r.asset_id,
            "geometry": json.loads(r.geometry),
            "properties": {
                "sensor_kind": r.sensor_kind,
                "unit": r.unit,
                "utility": r.utility,
                "node_id": r.node_id,
                "status": r.status,
                "observed_at": r.observed_at.isoformat() if r.observed_at else None,
                "value": r.value,
            },
        }
        for r in rows
    ]
    body = {
        "type": "FeatureCollection",
        "timeStamp": at.isoformat(),
        "numberReturned": len(features),
        "features": features,
    }
    return GeoJSONResponse(json.dumps(body, ensure_ascii=False))
