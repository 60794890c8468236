"""Sensor alarms: thresholds per sensor kind or per sensor, and the events readings make.

**Thresholds** come from `alarm_thresholds.csv` beside this module (the defaults, each
with its source) and then from an operator's CSV of the same columns
(`CITYGIS_ALARMS_FILE`). A row names a `sensor_kind` or a `sensor_id`, a bound (`high` or
`low`), a level (1 warning, 2 alarm), a value in a unit, and a deadband. Rows replace by
bound: a kind's rows in the operator's file replace the defaults' rows of that kind and
bound; a sensor's rows replace its kind's on that bound; a row with no value removes them.
A kind's threshold applies only to sensors that read in its unit (a kPa sensor is not
compared with MPa values); a sensor's own rows are in the sensor's unit.

**Events.** A reading at or beyond a threshold (>= a high one, <= a low one) sets its
alarm; the first reading back past the deadband (< high − deadband, > low + deadband)
clears it; readings in between keep the state before them, so a value hovering at the
threshold does not chatter. An event runs from the first reading that set it to the one
that cleared it (`end`), or is active while none has. Each level is its own event: a gas
sensor rising to 22 %LEL has a level-1 event around its level-2 one.

The thresholds in force now are applied to the whole series; they are not versioned.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import LayerSpec
from layers.query import DateTimeInterval, layer_source
from layers.sensors import SENSORS

DEFAULTS = "alarm_thresholds.csv"
COLUMNS = ("sensor_kind", "sensor_id", "bound", "level", "value", "unit", "deadband", "source")
BOUNDS = ("high", "low")
KINDS = SENSORS.attribute("sensor_kind").choices or ()


class ThresholdFileError(RuntimeError):
    """A thresholds file the platform cannot use; raised when it is read, naming the row."""


@dataclass(frozen=True)
class Threshold:
    level: int
    value: float | None  # None: no thresholds on this bound for that subject
    unit: str | None  # None: the sensor's own unit (sensor rows only)
    deadband: float
    source: str


# (subject, bound) → thresholds; subject is ("kind", name) or ("sensor", id).
Subject = tuple[str, str]


@dataclass(frozen=True)
class AlarmRules:
    rows: dict[tuple[Subject, str], tuple[Threshold, ...]]

    def binds(self) -> dict[str, list[Any]]:
        """The thresholds as parallel arrays for THRESHOLDS_CTE."""
        out: dict[str, list[Any]] = {f"th_{c}": [] for c in COLUMNS}
        for ((kind, name), bound), thresholds in sorted(self.rows.items()):
            for t in thresholds:
                out["th_sensor_kind"].append(name if kind == "kind" else None)
                out["th_sensor_id"].append(name if kind == "sensor" else None)
                out["th_bound"].append(bound)
                out["th_level"].append(t.level)
                out["th_value"].append(t.value)
                out["th_unit"].append(t.unit)
                out["th_deadband"].append(t.deadband)
                out["th_source"].append(t.source)
        return out


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ThresholdFileError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ThresholdFileError(f"{where}: {what} {text!r} is not finite")
    return value


def _row(row: dict[str, str], where: str) -> tuple[tuple[Subject, str], Threshold]:
    kind, sensor = row.get("sensor_kind", "").strip(), row.get("sensor_id", "").strip()
    if bool(kind) == bool(sensor):
        raise ThresholdFileError(f"{where}: give a sensor_kind or a sensor_id, not both")
    bound = row.get("bound", "").strip()
    if bound not in BOUNDS:
        raise ThresholdFileError(f"{where}: bound {bound!r} is not high or low")
    unit = row.get("unit", "").strip() or None
    value_text = row.get("value", "").strip()
    value = _number(value_text, "value", where) if value_text else None
    if value is not None and kind and unit is None:
        raise ThresholdFileError(f"{where}: a sensor kind's threshold needs its unit")
    level_text = row.get("level", "").strip() or "1"
    if value is not None and level_text not in ("1", "2"):
        raise ThresholdFileError(f"{where}: level {level_text!r} is not 1 or 2")
    deadband = _number(row.get("deadband", "").strip() or "0", "deadband", where)
    if deadband < 0:
        raise ThresholdFileError(f"{where}: deadband must not be negative")
    if kind and kind not in KINDS:  # a misspelt kind would silently watch nothing
        raise ThresholdFileError(f"{where}: {kind!r} is not a sensor kind: {', '.join(KINDS)}")
    subject: Subject = ("kind", kind) if kind else ("sensor", sensor)
    source = row.get("source", "").strip()
    return (subject, bound), Threshold(int(level_text), value, unit, deadband, source)


def read_rules(texts: Iterable[tuple[str, str]]) -> AlarmRules:
    """(name, CSV text) pairs, later ones replacing earlier ones by subject and bound."""
    rows: dict[tuple[Subject, str], tuple[Threshold, ...]] = {}
    for name, body in texts:
        mine: dict[tuple[Subject, str], list[Threshold]] = {}
        reader = csv.DictReader(io.StringIO(body))
        if missing := {"bound", "value"} - set(reader.fieldnames or ()):
            raise ThresholdFileError(f"{name}: no column {', '.join(sorted(missing))}")
        for number, row in enumerate(reader, start=2):
            key, threshold = _row(row, f"{name} line {number}")
            mine.setdefault(key, []).append(threshold)
        for key, thresholds in mine.items():
            kept = [t for t in thresholds if t.value is not None]
            levels = [t.level for t in kept]
            if len(set(levels)) != len(levels):
                raise ThresholdFileError(f"{name}: {key[0][1]} {key[1]}: a level given twice")
            rows[key] = tuple(kept) or (thresholds[0],)
    return AlarmRules(rows)


def load_rules(extra: Path | None = None) -> AlarmRules:
    """The shipped defaults, then an operator's file over them."""
    texts = [(DEFAULTS, files("spatial_api").joinpath(DEFAULTS).read_text(encoding="utf-8"))]
    if extra is not None:
        try:
            texts.append((str(extra), extra.read_text(encoding="utf-8-sig")))
        except OSError as e:
            raise ThresholdFileError(f"{extra}: {e.strerror}") from None
    return read_rules(texts)


async def get_alarm_rules(request: Request) -> AlarmRules:
    """Read once, at start-up (CITYGIS_ALARMS_FILE): a bad file stops the start, naming the row."""
    return request.app.state.alarm_rules


# The thresholds, bound as arrays; `st` is every sensor of `t` with the thresholds that
# apply to it: its own rows on a bound, else its kind's in its unit. `sign` turns a low
# bound into a high one, so one comparison serves both.
THRESHOLDS_CTE = """
th AS (
    SELECT * FROM unnest(
        CAST(:th_sensor_kind AS text[]), CAST(:th_sensor_id AS text[]),
        CAST(:th_bound AS text[]), CAST(:th_level AS int[]), CAST(:th_value AS float8[]),
        CAST(:th_unit AS text[]), CAST(:th_deadband AS float8[]), CAST(:th_source AS text[])
    ) AS th(sensor_kind, sensor_id, bound, level, value, unit, deadband, source)
),
st AS (
    SELECT t.asset_id, th.bound, th.level, th.value, t.unit, th.deadband, th.source,
           CASE th.bound WHEN 'high' THEN 1 ELSE -1 END AS sign
    FROM t JOIN th ON th.value IS NOT NULL AND coalesce(th.unit, t.unit) = t.unit AND (
        th.sensor_id = t.asset_id
        OR th.sensor_id IS NULL AND th.sensor_kind = t.sensor_kind AND NOT EXISTS (
            SELECT FROM th AS own WHERE own.sensor_id = t.asset_id AND own.bound = th.bound))
)"""
SETS = "st.sign * (r.value - st.value) >= 0"
CLEARS = "st.sign * (r.value - st.value) < -st.deadband"
ALL_CLEAR = f"coalesce((SELECT bool_and({CLEARS}) FROM st), true)"

# Alarms active at :at for every sensor of `t`: walking back on the primary key to the last
# reading that cleared each threshold, then forward to the first that set it since.
ACTIVE_CTE = f"""
active AS (
    SELECT st.asset_id, st.bound, st.level, st.value AS threshold, st.unit, st.source,
           e.start, p.value AS peak, p.observed_at AS peak_at
    FROM st
    CROSS JOIN LATERAL (
        SELECT max(r.observed_at) AS at FROM city.sensor_readings AS r
        WHERE r.sensor_id = st.asset_id AND r.observed_at <= :at AND {CLEARS}) AS c
    CROSS JOIN LATERAL (
        SELECT min(r.observed_at) AS start FROM city.sensor_readings AS r
        WHERE r.sensor_id = st.asset_id AND r.observed_at <= :at
          AND r.observed_at > coalesce(c.at, CAST('-infinity' AS timestamptz)) AND {SETS}
    ) AS e
    CROSS JOIN LATERAL (
        SELECT r.value, r.observed_at FROM city.sensor_readings AS r
        WHERE r.sensor_id = st.asset_id AND r.observed_at >= e.start AND r.observed_at <= :at
        ORDER BY st.sign * r.value DESC, r.observed_at LIMIT 1) AS p
)"""

# The sensors layer as a FROM item aliased t, and its binds: the live rows, or a
# scenario's edits laid over them. Readings are never part of a scenario: they stay live.
Sensors = tuple[str, dict[str, Any]]


def sensor_versions(spec: LayerSpec, scenario: str | None = None) -> Sensors:
    """Every version of every sensor."""
    return layer_source(spec, DateTimeInterval.every_version(scenario))


def sensors_at(spec: LayerSpec, at: datetime, scenario: str | None = None) -> Sensors:
    """The sensors as they were at `at` (bound as :at)."""
    return layer_source(spec, DateTimeInterval(at, at, True, None, scenario))


# The sensors of the live views: in service at :at, in the box, filtered (alias t).
SENSORS_CTE = """
t AS (
    SELECT t.asset_id, t.sensor_kind, t.unit, t.utility, t.node_id, t.status, t.geom
    FROM {sensors}
    WHERE t.geom && ST_MakeEnvelope(:west, :south, :east, :north, 4490){where}
)"""
LATEST_LATERAL = """
LEFT JOIN LATERAL (  -- one backward step on the primary key per sensor
    SELECT observed_at, value FROM city.sensor_readings
    WHERE sensor_id = t.asset_id AND observed_at <= :at
    ORDER BY observed_at DESC LIMIT 1) AS r ON true"""
STALE = "(r.observed_at IS NULL OR r.observed_at < :at - CAST(:stale_after AS interval))"

ACTIVE_SQL = f"""
WITH {SENSORS_CTE}, {THRESHOLDS_CTE}, {ACTIVE_CTE}
SELECT t.asset_id, t.sensor_kind, t.utility, t.node_id, t.status,
       ST_AsGeoJSON(t.geom, 7) AS geometry, a.bound, a.level, a.threshold, a.unit,
       a.source, a.start, a.peak, a.peak_at, r.observed_at, r.value, {STALE} AS stale
FROM active AS a JOIN t USING (asset_id)
{LATEST_LATERAL}
ORDER BY a.level DESC, a.start, t.asset_id, a.bound
"""


async def active_alarms(
    conn: AsyncConnection, rules: AlarmRules, where: str, binds: dict[str, Any], sensors: Sensors
) -> Sequence[Row]:
    """Every alarm active at `binds['at']` on the sensors SENSORS_CTE selects."""
    sql = ACTIVE_SQL.format(where=where, sensors=sensors[0])
    return (await conn.execute(text(sql), binds | sensors[1] | rules.binds())).all()


# One sensor: its latest version decides its kind and unit.
SENSOR_CTE = """
t AS (
    SELECT t.asset_id, t.sensor_kind, t.unit FROM {sensors}
    WHERE t.asset_id = :id ORDER BY upper(t.valid) DESC NULLS FIRST LIMIT 1
)"""
THRESHOLDS_SQL = f"""
WITH {SENSOR_CTE}, {THRESHOLDS_CTE}
SELECT bound, level, value, unit, deadband, source FROM st ORDER BY bound, level
"""


async def sensor_thresholds(
    conn: AsyncConnection, rules: AlarmRules, sensor_id: str, sensors: Sensors
) -> list[Row]:
    sql = THRESHOLDS_SQL.format(sensors=sensors[0])
    return list(await conn.execute(text(sql), {"id": sensor_id} | sensors[1] | rules.binds()))


# Gaps and islands: each reading takes the state of the last reading that set or cleared
# the threshold (`run` counts those), consecutive alarmed readings share an island, and an
# event ends at the reading after its island's last (NULL: still active).
EVENTS_SQL = f"""
WITH {SENSOR_CTE}, {THRESHOLDS_CTE},
calm AS (  -- the readings all clear around the period: no event spans them
    SELECT coalesce(max(r.observed_at), '-infinity') AS since FROM city.sensor_readings AS r
    WHERE r.sensor_id = :id AND r.observed_at < :start AND {ALL_CLEAR}
), calm_after AS (
    SELECT coalesce(min(r.observed_at), 'infinity') AS until FROM city.sensor_readings AS r
    WHERE r.sensor_id = :id AND r.observed_at > :end AND {ALL_CLEAR}
),
marked AS (
    SELECT st.bound, st.level, st.value AS threshold, st.unit, st.sign, r.observed_at, r.value,
           CASE WHEN {SETS} THEN 1 WHEN {CLEARS} THEN 0 END AS mark
    FROM st JOIN city.sensor_readings AS r ON r.sensor_id = st.asset_id
    WHERE r.observed_at >= (SELECT since FROM calm)
      AND r.observed_at <= (SELECT until FROM calm_after)
),
runs AS (
    SELECT *, count(mark) OVER w AS run, lead(observed_at) OVER w AS next_at
    FROM marked WINDOW w AS (PARTITION BY bound, level ORDER BY observed_at)
),
states AS (
    SELECT *, coalesce(first_value(mark) OVER (
        PARTITION BY bound, level, run ORDER BY observed_at), 0) AS alarmed
    FROM runs
),
islands AS (
    SELECT *, row_number() OVER (PARTITION BY bound, level ORDER BY observed_at)
            - row_number() OVER (PARTITION BY bound, level, alarmed ORDER BY observed_at)
            AS island
    FROM states
),
events AS (
    SELECT bound, level, min(threshold) AS threshold, min(unit) AS unit,
           min(observed_at) AS start,
           (array_agg(next_at ORDER BY observed_at DESC))[1] AS "end",
           (array_agg(value ORDER BY sign * value DESC, observed_at))[1] AS peak,
           (array_agg(observed_at ORDER BY sign * value DESC, observed_at))[1] AS peak_at
    FROM islands WHERE alarmed = 1 GROUP BY bound, level, island
)
SELECT * FROM events
WHERE start <= :end AND ("end" IS NULL OR "end" > :start)
ORDER BY start {{direction}}, level, bound LIMIT :limit OFFSET :offset
"""


async def sensor_events(
    conn: AsyncConnection,
    rules: AlarmRules,
    sensor_id: str,
    period: tuple[datetime, datetime],
    page: tuple[int, int],
    sensors: Sensors,
    newest_first: bool = False,
) -> Sequence[Row]:
    """One sensor's alarm events that overlap `period`; `page` is (limit, offset)."""
    sql = EVENTS_SQL.format(direction="DESC" if newest_first else "ASC", sensors=sensors[0])
    binds: dict[str, Any] = {"id": sensor_id, "start": period[0], "end": period[1]}
    binds |= {"limit": page[0], "offset": page[1]} | sensors[1] | rules.binds()
    return (await conn.execute(text(sql), binds)).all()
