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
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import text

from spatial_api.deps import CatalogDep, ConnDep, PrincipalDep, visible_layer
from spatial_api.errors import FeatureNotFound, InvalidParameter
from spatial_api.features.links import JSON, Link, self_url
from spatial_api.features.params import BBox
from spatial_api.params import DATETIME_MAX_LENGTH, DateTimeInterval
from spatial_api.routers.features import GEOJSON_RESPONSE, GeoJSONResponse
from spatial_api.routers.webmap import bbox_param


async def require_sensors(catalog: CatalogDep, principal: PrincipalDep) -> None:
    visible_layer(catalog, principal, "sensors")  # restricted, like the pipe network


router = APIRouter(tags=["sensor readings"], dependencies=[Depends(require_sensors)])
MAX_LIMIT = 100_000
MIN_BIN, MAX_BIN = timedelta(seconds=1), timedelta(days=366)
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)


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


def parse_bin(text_: str | None) -> timedelta | None:
    if text_ is None:
        return None
    try:
        step = TypeAdapter(timedelta).validate_python(text_)
    except ValidationError:
        raise InvalidParameter(f"bin: {text_!r} is not an ISO 8601 duration such as PT15M "
                               "or P1D") from None
    if not MIN_BIN <= step <= MAX_BIN:
        raise InvalidParameter("bin: give a duration from 1 second to 366 days")
    return step


SENSOR_SQL = """
SELECT asset_id, sensor_kind, unit, utility FROM city.sensors
WHERE asset_id = :id ORDER BY upper(valid) DESC NULLS FIRST LIMIT 1
"""

RAW_SQL = """
SELECT observed_at, value FROM city.sensor_readings
WHERE sensor_id = :id AND observed_at >= :start AND observed_at <= :end
ORDER BY observed_at {direction} LIMIT :limit
"""

BINNED_SQL = """
SELECT date_bin(:bin, observed_at, TIMESTAMPTZ '2000-01-01 00:00+00') AS t,
       min(value), avg(value), max(value), count(*)
FROM city.sensor_readings
WHERE sensor_id = :id AND observed_at >= :start AND observed_at <= :end
GROUP BY t ORDER BY t {direction} LIMIT :limit
"""


@router.get("/collections/sensors/items/{sensor_id}/readings", response_model=Readings,
            response_model_exclude_none=True)
async def readings(
    sensor_id: Annotated[str, Path(max_length=200)], request: Request, conn: ConnDep,
    datetime_: Annotated[str | None, Query(
        alias="datetime", max_length=DATETIME_MAX_LENGTH,
        description="An interval a/b, ../b or a/.. (an instant gives that instant's "
                    "reading); default: all")] = None,
    bin_: Annotated[str | None, Query(alias="bin", max_length=40, description=(
        "ISO 8601 duration (PT15M, PT1H, P1D): min/mean/max/count per bin"))] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 10_000,
    sortby: Annotated[Literal["time", "-time"], Query(
        description="-time: newest first (the latest readings, e.g. for a chart)")] = "time",
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
    out = [Reading(time=r[0], min=r[1], mean=r[2], max=r[3], count=r[4]) if step
           else Reading(time=r[0], value=r[1]) for r in rows]
    links = [Link(href=self_url(request), rel="self", type=JSON)]
    if len(out) == limit:  # more may remain: continue past the last one returned
        if newest_first:
            before = out[-1].time - timedelta(microseconds=1)
            period = f"{start.isoformat() if when and when.start else '..'}/{before.isoformat()}"
        else:
            after = out[-1].time + (step or timedelta(microseconds=1))
            period = f"{after.isoformat()}/{end.isoformat() if when and when.end else '..'}"
        links.append(Link(href=self_url(request, datetime=period), rel="next", type=JSON))
    return Readings(sensor=Sensor(id=sensor[0], sensor_kind=sensor[1], unit=sensor[2],
                                  utility=sensor[3]),
                    datetime=datetime_, bin=bin_, numberReturned=len(out), readings=out,
                    links=links)


LATEST_SQL = """
SELECT s.asset_id, s.sensor_kind, s.unit, s.utility, s.node_id, s.status,
       ST_AsGeoJSON(s.geom, 7) AS geometry, r.observed_at, r.value
FROM city.sensors_as_of(:at) AS s
LEFT JOIN LATERAL (  -- one backward step on the primary key per sensor
    SELECT observed_at, value FROM city.sensor_readings
    WHERE sensor_id = s.asset_id AND observed_at <= :at
    ORDER BY observed_at DESC LIMIT 1) AS r ON true
WHERE s.geom && ST_MakeEnvelope(:west, :south, :east, :north, 4490)
ORDER BY s.asset_id
"""


@router.get("/collections/sensors/readings/latest", response_class=GeoJSONResponse,
            responses={200: GEOJSON_RESPONSE})
async def latest(conn: ConnDep,
                 box: Annotated[BBox | None, Depends(bbox_param)],
                 datetime_: Annotated[str | None, Query(
                     alias="datetime", max_length=DATETIME_MAX_LENGTH,
                     description="An instant: the sensors then, each with its latest "
                                 "reading up to it; default now")] = None) -> GeoJSONResponse:
    """Every sensor in service, with its latest reading (null when it has none yet)."""
    when = DateTimeInterval.parse(datetime_)
    if when is not None and not when.instant:
        raise InvalidParameter("datetime: give an instant, the moment to read the sensors at")
    at = when.start if when else datetime.now(UTC)
    west, south, east, north = box.lonlat() if box else (-180.0, -90.0, 180.0, 90.0)
    rows = (await conn.execute(text(LATEST_SQL), {
        "at": at, "west": west, "south": south, "east": east, "north": north})).all()
    features = [{
        "type": "Feature", "id": r.asset_id, "geometry": json.loads(r.geometry),
        "properties": {"sensor_kind": r.sensor_kind, "unit": r.unit, "utility": r.utility,
                       "node_id": r.node_id, "status": r.status,
                       "observed_at": r.observed_at.isoformat() if r.observed_at else None,
                       "value": r.value}} for r in rows]
    body = {"type": "FeatureCollection", "timeStamp": at.isoformat(),
            "numberReturned": len(features), "features": features}
    return GeoJSONResponse(json.dumps(body, ensure_ascii=False))
