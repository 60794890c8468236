"""Sensor time series: the readings of one sensor over a period, raw or binned, its alarm
events, and the live views of every sensor.

`GET /collections/sensors/items/{sensor_id}/readings?datetime=a/b&bin=PT15M`

Raw readings come in time order (`sortby=-time`: newest first), at most `limit`, with a
`next` link when more remain. With `bin` (an ISO 8601 duration), readings are grouped into
bins aligned on midnight UTC (`date_bin`) and each bin gives min, mean, max and count, as
a chart wants them.

`GET /collections/sensors/items/{sensor_id}/alarms?datetime=a/b`: the sensor's alarm events
overlapping the period (spatial_api/alarms.py says what sets and clears one).

`GET /collections/sensors/readings/latest` and `GET /collections/sensors/alarms/active`
are the live views as GeoJSON, at an instant (default now), narrowed by `bbox`, attribute
filters (`?sensor_kind=gas_concentration`) and a CQL2 `filter` as the items are: every
sensor in service with its latest reading (stale or not) and alarm level, and every alarm
active then.

Every route takes `scenario=`: the sensors (which exist, where, their kind, unit and status)
are read with that scenario's edits, so a planned sensor is there and a moved one stands
where the scenario put it; the readings themselves are always the live ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import Row, text

from layers.errors import FeatureNotFound, InvalidParameter
from layers.query import DATETIME_MAX_LENGTH, DateTimeInterval
from spatial_api.alarms import (
    AlarmRules,
    Sensors,
    active_alarms,
    get_alarm_rules,
    sensor_events,
    sensor_thresholds,
    sensor_versions,
    sensors_at,
)
from spatial_api.deps import CatalogDep, ConnDep, PrincipalDep
from spatial_api.features.crs import parse_crs
from spatial_api.features.links import JSON, Link, self_url
from spatial_api.params import BBoxDep, ScenarioDep
from spatial_api.readings import (
    BINNED_SQL,
    RAW_SQL,
    SENSOR_SQL,
    STALE_HELP,
    SensorFilter,
    latest_readings,
    parse_bin,
    parse_duration,
    read_period,
    sensor_filters,
)
from spatial_api.responses import GEOJSON_RESPONSE, GeoJSONResponse
from spatial_api.routing import StrictRoute, attribute_filters


async def require_sensors(catalog: CatalogDep, principal: PrincipalDep) -> None:
    principal.layer(catalog, "sensors")  # restricted, like the pipe network


router = APIRouter(
    tags=["sensor readings"], dependencies=[Depends(require_sensors)], route_class=StrictRoute
)
MAX_LIMIT = 100_000
MAX_ALARMS = 10_000
STALE_AFTER = "PT1H"  # four missed 15-minute readings
AlarmRulesDep = Annotated[AlarmRules, Depends(get_alarm_rules)]


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


async def sensor_or_404(conn: ConnDep, sensor_id: str, sensors: Sensors) -> Sensor:
    sql = SENSOR_SQL.format(sensors=sensors[0])
    sensor = (await conn.execute(text(sql), {"id": sensor_id} | sensors[1])).one_or_none()
    if sensor is None:
        raise FeatureNotFound(f"no sensor {sensor_id!r} in the sensors layer")
    return Sensor(id=sensor[0], sensor_kind=sensor[1], unit=sensor[2], utility=sensor[3])


@router.get(
    "/collections/sensors/items/{sensor_id}/readings",
    response_model=Readings,
    response_model_exclude_none=True,
)
async def readings(
    sensor_id: Annotated[str, Path(max_length=200)],
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    scenario: ScenarioDep,
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
    sensor = await sensor_or_404(conn, sensor_id, sensor_versions(catalog["sensors"], scenario))
    start, end = read_period(when)
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
        sensor=sensor,
        datetime=datetime_,
        bin=bin_,
        numberReturned=len(out),
        readings=out,
        links=links,
    )


class Threshold(BaseModel):
    bound: Literal["high", "low"]
    level: int
    value: float
    unit: str
    deadband: float
    source: str


class AlarmEvent(BaseModel):
    start: datetime
    end: datetime | None  # the reading that cleared it; None: active
    active: bool
    level: int
    bound: Literal["high", "low"]
    threshold: float
    unit: str
    peak: float
    peak_at: datetime


class Alarms(BaseModel):
    sensor: Sensor
    thresholds: list[Threshold]
    datetime: str | None
    numberReturned: int
    alarms: list[AlarmEvent]
    links: list[Link]


@router.get("/collections/sensors/items/{sensor_id}/alarms", response_model=Alarms)
async def alarms(
    sensor_id: Annotated[str, Path(max_length=200)],
    request: Request,
    conn: ConnDep,
    catalog: CatalogDep,
    scenario: ScenarioDep,
    rules: AlarmRulesDep,
    datetime_: Annotated[
        str | None,
        Query(
            alias="datetime",
            max_length=DATETIME_MAX_LENGTH,
            description="The events overlapping an interval a/b, ../b or a/.. (or active at "
            "an instant); default: all",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ALARMS)] = 1_000,
    offset: Annotated[int, Query(ge=0, description="Events to skip (the next link's)")] = 0,
    sortby: Annotated[
        Literal["start", "-start"], Query(description="-start: the latest events first")
    ] = "start",
) -> Alarms:
    """One sensor's alarm events (start, end, peak, level, the threshold crossed), from its
    readings; 404 for a sensor never known."""
    when = DateTimeInterval.parse(datetime_)  # an instant: the events active then
    sensors = sensor_versions(catalog["sensors"], scenario)
    sensor = await sensor_or_404(conn, sensor_id, sensors)
    rows = await sensor_events(
        conn, rules, sensor_id, read_period(when), (limit, offset), sensors, sortby == "-start"
    )
    out = [AlarmEvent(**r._mapping, active=r.end is None) for r in rows]
    links = [Link(href=self_url(request), rel="self", type=JSON)]
    if len(out) == limit:
        links.append(Link(href=self_url(request, offset=offset + limit), rel="next", type=JSON))
    return Alarms(
        sensor=sensor,
        thresholds=[
            Threshold(**t._mapping)
            for t in await sensor_thresholds(conn, rules, sensor_id, sensors)
        ],
        datetime=datetime_,
        numberReturned=len(out),
        alarms=out,
        links=links,
    )


@dataclass(frozen=True)
class LiveView:
    """The live views' question: the sensors at an instant, in a box, filtered."""

    at: datetime
    where: str
    binds: dict[str, Any]
    sensors: Sensors


async def cql_filter(
    filter_: Annotated[
        str | None, Query(alias="filter", max_length=20_000, description="CQL2 over sensors")
    ] = None,
    filter_lang: Annotated[str | None, Query(alias="filter-lang", max_length=20)] = None,
    filter_crs: Annotated[str | None, Query(alias="filter-crs", max_length=200)] = None,
) -> SensorFilter:
    if filter_lang not in (None, "cql2-text", "cql2-json"):
        raise InvalidParameter(f"filter-lang: {filter_lang!r} is not cql2-text or cql2-json")
    return SensorFilter(filter_, filter_lang or "cql2-text", parse_crs(filter_crs, "filter-crs"))


async def live_view(
    request: Request,
    catalog: CatalogDep,
    box: BBoxDep,
    cql: Annotated[SensorFilter, Depends(cql_filter)],
    scenario: ScenarioDep,
    datetime_: Annotated[
        str | None,
        Query(
            alias="datetime",
            max_length=DATETIME_MAX_LENGTH,
            description="An instant: the sensors then, each read up to it; default now",
        ),
    ] = None,
    stale_after: Annotated[str, Query(max_length=40, description=STALE_HELP)] = STALE_AFTER,
) -> LiveView:
    where, found = sensor_filters(catalog["sensors"], request.query_params.multi_items(), cql)
    when = DateTimeInterval.parse(datetime_)
    if when is not None and when.period:
        raise InvalidParameter("datetime: give an instant, the moment to read the sensors at")
    at = when.start if when and when.start else datetime.now(UTC)
    age = parse_duration(stale_after, "stale_after", timedelta(seconds=1), timedelta(days=366))
    west, south, east, north = box.lonlat() if box else (-180.0, -90.0, 180.0, 90.0)
    binds = {"at": at, "stale_after": age, "west": west, "south": south, "east": east}
    sensors = sensors_at(catalog["sensors"], at, scenario)
    return LiveView(at, where, found | binds | {"north": north}, sensors)


LiveDep = Annotated[LiveView, Depends(live_view)]


def feature_collection(view: LiveView, features: list[dict[str, Any]]) -> GeoJSONResponse:
    body = {
        "type": "FeatureCollection",
        "timeStamp": view.at.isoformat(),
        "numberReturned": len(features),
        "features": features,
    }
    return GeoJSONResponse(json.dumps(body, ensure_ascii=False))


def feature(fid: str, r: Row, keys: tuple[str, ...], **more: Any) -> dict[str, Any]:
    props = more | {k: r._mapping[k] for k in keys}
    stamps = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in props.items()}
    return {"type": "Feature", "id": fid, "geometry": json.loads(r.geometry), "properties": stamps}


GEOJSON_ROUTE: dict[str, Any] = {"response_class": GeoJSONResponse, "responses": GEOJSON_RESPONSE}
LATEST_KEYS = ("sensor_kind", "unit", "utility", "node_id", "status", "observed_at", "value")
ACTIVE_KEYS = ("sensor_kind", "utility", "node_id", "status", "level", "bound", "threshold")


@router.get("/collections/sensors/readings/latest", **GEOJSON_ROUTE)
@attribute_filters
async def latest(view: LiveDep, conn: ConnDep, rules: AlarmRulesDep) -> GeoJSONResponse:
    """Every sensor in service with its latest reading (null when it has none yet), flagged
    stale past `stale_after`, with its alarm level then (0 normal; null: no thresholds)."""
    rows = await latest_readings(conn, rules, view.where, view.binds, view.sensors)
    keys = (*LATEST_KEYS, "stale", "alarm_level", "alarm_bound")
    return feature_collection(view, [feature(r.asset_id, r, keys) for r in rows])


@router.get("/collections/sensors/alarms/active", **GEOJSON_ROUTE)
@attribute_filters
async def active(view: LiveDep, conn: ConnDep, rules: AlarmRulesDep) -> GeoJSONResponse:
    """Every alarm active at the instant, one feature per sensor and threshold crossed
    (a sensor at level 2 also shows its level 1), highest level first."""
    rows = await active_alarms(conn, rules, view.where, view.binds, view.sensors)
    keys: tuple[str, ...] = (*ACTIVE_KEYS, "unit", "source", "start", "peak", "peak_at")
    keys += ("observed_at", "value", "stale")
    return feature_collection(
        view,
        [feature(f"{r.asset_id}/{r.bound}/{r.level}", r, keys, sensor_id=r.asset_id) for r in rows],
    )
