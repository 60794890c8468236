"""The readings queries: one sensor's series (raw or binned) and every sensor's latest.

Used by the readings routes and by the notebooks' helpers, so both read the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter, ValidationError

from layers import LayerSpec
from layers.errors import InvalidParameter
from layers.query import Value
from tiles.filters import parse_filters

MIN_BIN, MAX_BIN = timedelta(seconds=1), timedelta(days=366)
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)


def parse_bin(text_: str | None) -> timedelta | None:
    if text_ is None:
        return None
    try:
        step = TypeAdapter(timedelta).validate_python(text_)
    except ValidationError:
        raise InvalidParameter(
            f"bin: {text_!r} is not an ISO 8601 duration such as PT15M or P1D"
        ) from None
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


LATEST_SQL = """
SELECT s.asset_id, s.sensor_kind, s.unit, s.utility, s.node_id, s.status,
       ST_AsGeoJSON(s.geom, 7) AS geometry, r.observed_at, r.value
FROM city.sensors_as_of(:at) AS s
LEFT JOIN LATERAL (  -- one backward step on the primary key per sensor
    SELECT observed_at, value FROM city.sensor_readings
    WHERE sensor_id = s.asset_id AND observed_at <= :at
    ORDER BY observed_at DESC LIMIT 1) AS r ON true
WHERE s.geom && ST_MakeEnvelope(:west, :south, :east, :north, 4490){where}
ORDER BY s.asset_id
"""
# The live view's own parameters; any other is a sensors attribute to filter on.
LATEST_PARAMS = frozenset({"bbox", "bbox-crs", "datetime", "token", "f"})


def latest_filters(
    spec: LayerSpec, pairs: Iterable[tuple[str, str]]
) -> tuple[str, dict[str, Value]]:
    """`?sensor_kind=gas_concentration&status=in_service`: catalog attributes, typed and
    checked against their choices (400 for any other name), as SQL on `s` and binds."""
    wanted = [(k, v) for k, v in pairs if k not in LATEST_PARAMS]
    filters = parse_filters([spec], wanted)[spec.id]
    where = "".join(f" AND s.{name} = :f_{name}" for name in filters)
    return where, {f"f_{name}": value for name, value in filters.items()}
