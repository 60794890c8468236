"""The readings queries: one sensor's series (raw or binned) and every sensor's latest.

Used by the readings routes and by the notebooks' helpers, so both read the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import LayerSpec
from layers.errors import InvalidParameter
from layers.query import EARLIEST, LATEST, DateTimeInterval, Value
from spatial_api.alarms import (
    ACTIVE_CTE,
    LATEST_LATERAL,
    SENSORS_CTE,
    STALE,
    THRESHOLDS_CTE,
    AlarmRules,
    Sensors,
)
from spatial_api.features import cql
from spatial_api.features.binds import Binds
from spatial_api.features.crs import Crs, parse_crs
from tiles.filters import parse_filters

MIN_BIN, MAX_BIN = timedelta(seconds=1), timedelta(days=366)


def read_period(when: DateTimeInterval | None) -> tuple[datetime, datetime]:
    """`datetime` as the closed period to read, open ends far out."""
    start = when.start if when and when.start else EARLIEST
    return start, when.end if when and when.end else LATEST


def parse_duration(text_: str, name: str, low: timedelta, high: timedelta) -> timedelta:
    """An ISO 8601 duration within [low, high], or a 400 naming the parameter."""
    try:
        step = TypeAdapter(timedelta).validate_python(text_)
    except ValidationError:
        raise InvalidParameter(
            f"{name}: {text_!r} is not an ISO 8601 duration such as PT15M or P1D"
        ) from None
    if not low <= step <= high:
        raise InvalidParameter(f"{name}: give a duration from {_words(low)} to {_words(high)}")
    return step


def _words(step: timedelta) -> str:
    if step.days:
        return f"{step.days} days"
    return f"{int(step.total_seconds())} second{'s' if step.total_seconds() != 1 else ''}"


def parse_bin(text_: str | None) -> timedelta | None:
    return None if text_ is None else parse_duration(text_, "bin", MIN_BIN, MAX_BIN)


SENSOR_SQL = """
SELECT t.asset_id, t.sensor_kind, t.unit, t.utility FROM {sensors}
WHERE t.asset_id = :id ORDER BY upper(t.valid) DESC NULLS FIRST LIMIT 1
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


# The live view: each sensor with its latest reading, whether that is stale, and the
# highest alarm level active then (NULL: no thresholds apply, or no reading yet).
LATEST_SQL = f"""
WITH {SENSORS_CTE}, {THRESHOLDS_CTE}, {ACTIVE_CTE}
SELECT t.asset_id, t.sensor_kind, t.unit, t.utility, t.node_id, t.status,
       ST_AsGeoJSON(t.geom, 7) AS geometry, r.observed_at, r.value, {STALE} AS stale,
       CASE WHEN r.observed_at IS NOT NULL AND EXISTS (
           SELECT FROM st WHERE st.asset_id = t.asset_id)
       THEN coalesce(a.level, 0) END AS alarm_level, a.bound AS alarm_bound
FROM t
{LATEST_LATERAL}
LEFT JOIN LATERAL (
    SELECT level, bound FROM active WHERE active.asset_id = t.asset_id
    ORDER BY level DESC, bound LIMIT 1) AS a ON true
ORDER BY t.asset_id
"""


async def latest_readings(
    conn: AsyncConnection, rules: AlarmRules, where: str, binds: dict[str, Any], sensors: Sensors
) -> Sequence[Row]:
    """Every sensor SENSORS_CTE selects at `binds['at']`, with its latest reading."""
    sql = LATEST_SQL.format(where=where, sensors=sensors[0])
    return (await conn.execute(text(sql), binds | sensors[1] | rules.binds())).all()


@dataclass(frozen=True)
class SensorFilter:
    """A CQL2 `filter` over the sensors layer (`text` None: none), as the items take it."""

    text: str | None = None
    lang: str = "cql2-text"
    crs: Crs | None = None


FILTER_PARAMS = ("filter", "filter-lang", "filter-crs")
# The live views' own parameters; any other is a sensors attribute to filter on.
LATEST_PARAMS = frozenset(
    {"bbox", "bbox-crs", "datetime", "scenario", "stale_after", "token", "f", *FILTER_PARAMS}
)
STALE_HELP = (
    "ISO 8601 duration: a latest reading older than this (at the instant asked about) is "
    "flagged stale"
)


def sensor_filters(
    spec: LayerSpec, pairs: Iterable[tuple[str, str]], cql_filter: SensorFilter
) -> tuple[str, dict[str, Value]]:
    """`?sensor_kind=gas_concentration&status=in_service` (catalog attributes, typed and
    checked against their choices; 400 for any other name) and a CQL2 `filter`, as SQL
    on `t` and binds."""
    wanted = [(k, v) for k, v in pairs if k not in LATEST_PARAMS]
    filters = parse_filters([spec], wanted)[spec.id]
    where = "".join(f" AND t.{name} = :f_{name}" for name in filters)
    binds: dict[str, Value] = {f"f_{name}": value for name, value in filters.items()}
    if cql_filter.text is not None:
        found = Binds()
        crs = cql_filter.crs or parse_crs(None, "filter-crs")
        condition = cql.to_sql(spec, cql_filter.text, cql_filter.lang, crs, found)
        where += f" AND {condition}"
        binds |= found
    return where, binds
