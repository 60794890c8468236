"""Sensor readings (time series) into city.sensor_readings: validated, all or nothing.

A readings file is a table of (sensor, time, value): CSV or Parquet, columns found by name
or alias. Every row must parse, name a sensor of the sensors layer that was in service at
that time, and appear once; otherwise the load is refused with each bad row's number and
reason, and nothing is written. A reading already stored for the same sensor and instant
is replaced (a corrected series can be loaded again); the load log records the file.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

from loaders.errors import LoadError
from loaders.store import copy_frame, scalar

COLUMNS = {  # our name: the names files use for it
    "sensor_id": ("sensor_id", "sensor", "asset_id", "传感器编号", "监测点编号", "SENSOR_ID"),
    "observed_at": ("observed_at", "time", "timestamp", "datetime", "监测时间", "时间", "TIME"),
    "value": ("value", "reading", "监测值", "值", "VALUE"),
}
SHOWN_ERRORS = 20


@dataclass
class ReadingsReport:
    rows: int
    inserted: int
    replaced: int
    unchanged: int
    sensors: int
    first: str | None
    last: str | None
    seconds: float
    load_id: int


def read_table(path: Path) -> pd.DataFrame:
    """The file's rows as text (parsing is validation's job), CSV or Parquet."""
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path).astype("string")
    if path.suffix.lower() not in (".csv", ".txt"):
        raise LoadError(f"{path.name}: readings come as .csv or .parquet")
    return pd.read_csv(path, dtype="string", keep_default_na=False, encoding="utf-8-sig")


def _pick_columns(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    found = {}
    for ours, names in COLUMNS.items():
        hit = next((c for c in frame.columns if c in names or c.lower() in names), None)
        if hit is None:
            raise LoadError(f"{name}: no {ours} column (looked for {', '.join(names)})")
        found[ours] = frame[hit]
    return pd.DataFrame(found)


def instants(column: pd.Series, timezone: str) -> pd.Series:
    """UTC instants; a time without a zone is read in `timezone`; unreadable → NaT."""
    if pd.api.types.is_datetime64_any_dtype(column):
        local = column if column.dt.tz else column.dt.tz_localize(timezone)
        return local.dt.tz_convert("UTC")
    text = column.str.strip()
    zoned = text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True, na=False)
    aware = pd.to_datetime(text.where(zoned), errors="coerce", utc=True, format="mixed")
    naive = pd.to_datetime(text.where(~zoned), errors="coerce", format="mixed")
    naive = naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
    return aware.where(zoned, naive.dt.tz_convert("UTC"))


def validate(frame: pd.DataFrame, name: str, timezone: str) -> pd.DataFrame:
    """Typed readings; a LoadError naming every bad row (data rows, from 1)."""
    rows = _pick_columns(frame, name)
    line = pd.Series(np.arange(1, len(rows) + 1), index=rows.index)
    errors: list[tuple[int, str]] = []
    sensor = rows["sensor_id"].str.strip()
    errors += [(n, "no sensor id") for n in line[sensor.fillna("") == ""]]
    stamps = instants(rows["observed_at"], timezone)
    errors += [
        (n, f"{t!r} is not a date-time")
        for n, t in zip(line[stamps.isna()], rows["observed_at"][stamps.isna()], strict=True)
    ]
    value = pd.to_numeric(rows["value"], errors="coerce")
    bad = ~np.isfinite(value.astype(float).fillna(np.nan))
    errors += [
        (n, f"value {v!r} is not a finite number")
        for n, v in zip(line[bad], rows["value"][bad], strict=True)
    ]
    typed = pd.DataFrame({"row": line, "sensor_id": sensor, "observed_at": stamps, "value": value})
    twice = typed.duplicated(["sensor_id", "observed_at"], keep="first") & stamps.notna()
    first_row = typed.groupby(["sensor_id", "observed_at"])["row"].transform("min")
    errors += [
        (n, f"a second reading of {s} at {t.isoformat()} (first at row {int(f)})")
        for n, s, t, f in zip(
            typed["row"][twice],
            typed["sensor_id"][twice],
            typed["observed_at"][twice],
            first_row[twice],
            strict=True,
        )
    ]
    if errors:
        raise _refused(name, errors)
    return typed


def _refused(name: str, errors: list[tuple[int, str]]) -> LoadError:
    errors.sort()
    lines = "".join(f"\n  row {n}: {why}" for n, why in errors[:SHOWN_ERRORS])
    more = f"\n  … and {len(errors) - SHOWN_ERRORS} more" if len(errors) > SHOWN_ERRORS else ""
    rows = len({n for n, _ in errors})
    return LoadError(f"{name}: {rows} bad readings; nothing was loaded.{lines}{more}")


# Readings of sensors that have no version in service at that instant.
ORPHANS = """
SELECT s.row, s.sensor_id, s.observed_at,
       EXISTS (SELECT 1 FROM city.sensors k WHERE k.asset_id = s.sensor_id) AS known
FROM stage s
WHERE NOT EXISTS (SELECT 1 FROM city.sensors k
                  WHERE k.asset_id = s.sensor_id AND k.valid @> s.observed_at)
ORDER BY s.row
"""

# Insert, or replace a stored reading of the same sensor and instant when it differs.
MERGE = """
INSERT INTO city.sensor_readings (sensor_id, observed_at, value, load_id)
SELECT sensor_id, observed_at, value, %(load_id)s FROM stage
ON CONFLICT (sensor_id, observed_at) DO UPDATE
    SET value = EXCLUDED.value, load_id = EXCLUDED.load_id
    WHERE city.sensor_readings.value IS DISTINCT FROM EXCLUDED.value
RETURNING (xmax = 0) AS inserted
"""


def write(conninfo: str, typed: pd.DataFrame, name: str, source: str) -> ReadingsReport:
    """One transaction: stage, check sensors in service, merge, log. Refused → unchanged."""
    started = time.perf_counter()
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute(
            "CREATE TEMP TABLE stage (row integer, sensor_id text, "
            "observed_at timestamptz, value double precision) ON COMMIT DROP"
        )
        copy_frame(conn, "COPY stage FROM STDIN (FORMAT csv)", typed)
        orphans = conn.execute(ORPHANS).fetchall()
        if orphans:
            raise _refused(
                name,
                [
                    (
                        n,
                        f"sensor {s!r} was not in service at {t.isoformat()}"
                        if known
                        else f"no sensor {s!r} in the sensors layer",
                    )
                    for n, s, t, known in orphans
                ],
            )
        load_id = scalar(
            conn.execute(
                "INSERT INTO city.load_runs (layer_id, source, mode, finished_at, report) "
                "VALUES ('sensor_readings', %s, 'upsert', now(), '{}') RETURNING id",
                (source,),
            )
        )
        flags = [r[0] for r in conn.execute(MERGE, {"load_id": load_id}).fetchall()]
        inserted = sum(flags)
        report = ReadingsReport(
            rows=len(typed),
            inserted=inserted,
            replaced=len(flags) - inserted,
            unchanged=len(typed) - len(flags),
            sensors=int(typed["sensor_id"].nunique()),
            first=typed["observed_at"].min().isoformat() if len(typed) else None,
            last=typed["observed_at"].max().isoformat() if len(typed) else None,
            seconds=0.0,
            load_id=load_id,
        )
        report.seconds = round(time.perf_counter() - started, 3)
        conn.execute(
            "UPDATE city.load_runs SET report = %s WHERE id = %s",
            (json.dumps(report.__dict__), load_id),
        )
    return report


def load_readings(
    conninfo: str, frame: pd.DataFrame, *, name: str, source: str, timezone: str = "Asia/Shanghai"
) -> ReadingsReport:
    """Validate then write; raises LoadError (database unchanged) on any bad row."""
    return write(conninfo, validate(frame, name, timezone), name, source)
