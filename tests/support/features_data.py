"""A small versioned city for the OGC API Features tests: rows inserted with SQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, text

from layers import ALL_LAYERS
from tests.support.factories import insert_sql, sample_row

T2020, T2021, T2022, T2024 = (datetime(y, 1, 1, tzinfo=UTC) for y in (2020, 2021, 2022, 2024))
# asset, valid from, valid to, name, capacity, kind, lon, lat
SHELTERS = [
    ("S1", T2020, T2024, "中山公园", 100, "park", 120.3436, 36.0690),
    ("S1", T2024, None, "中山公园", 200, "park", 120.3436, 36.0690),
    ("S2", T2020, None, "汇泉广场", 300, "square", 120.3390, 36.0560),
    ("S3", T2021, None, "五四广场", 800, "square", 120.3841, 36.0615),
    ("S4", T2020, T2022, "旧学校", 50, "school", 120.3550, 36.0530),
    ("S5", T2020, None, "石老人", 600, "park", 120.4740, 36.0960),
]
CURRENT = {"S1", "S2", "S3", "S5"}
INCIDENTS = [  # asset, kind, started, ended, lon, lat
    (
        "I1",
        "fire",
        datetime(2023, 5, 1, tzinfo=UTC),
        datetime(2023, 5, 2, tzinfo=UTC),
        120.35,
        36.07,
    ),
    ("I2", "flood", datetime(2025, 8, 1, tzinfo=UTC), None, 120.40, 36.08),
]
PIPES = [("P1", "gas", 200.0), ("P2", "water", 300.0), ("P3", "gas", 100.0)]


def insert_city(engine: Engine) -> None:
    with engine.begin() as c:
        for a, f, t, name, cap, kind, x, y in SHELTERS:
            c.execute(
                text(
                    "INSERT INTO city.shelters (asset_id, valid, name, capacity, kind, geom) "
                    "VALUES (:a, tstzrange(:f, :t), :name, :cap, :kind, "
                    "ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                dict(a=a, f=f, t=t, name=name, cap=cap, kind=kind, x=x, y=y),
            )
        for a, kind, start, end, x, y in INCIDENTS:
            c.execute(
                text(
                    "INSERT INTO city.incidents (asset_id, valid, name, kind, started_at, "
                    "ended_at, geom) VALUES (:a, tstzrange(:f, NULL), :a, :kind, :s, :e, "
                    "ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                dict(a=a, f=T2020, kind=kind, s=start, e=end, x=x, y=y),
            )
        for i, (a, utility, dn) in enumerate(PIPES):
            c.execute(
                text(
                    "INSERT INTO city.pipelines (asset_id, valid, utility, diameter_mm, geom) "
                    "VALUES (:a, tstzrange(:f, NULL), :u, :dn, ST_GeomFromEWKT(:g))"
                ),
                dict(
                    a=a,
                    f=T2020,
                    u=utility,
                    dn=dn,
                    g=f"SRID=4490;LINESTRING(120.3{i} 36.06 -1.5, 120.3{i} 36.07 -1.5)",
                ),
            )


def insert_samples(
    engine: Engine, skip: tuple[str, ...] = ("shelters", "incidents", "pipelines")
) -> None:
    """One sample row in every other layer, for clients that expect no empty collection."""
    with engine.begin() as c:
        for spec in ALL_LAYERS:
            if spec.id not in skip:
                row = sample_row(spec, f"{spec.id}-1")
                c.execute(text(insert_sql(spec, row)), row)


def truncate_all(engine: Engine) -> None:
    """What the clean_db fixture does after a test, for module-scoped data."""
    tables = ", ".join(f"city.{spec.id}" for spec in ALL_LAYERS)
    with engine.begin() as c:
        c.execute(text(f"TRUNCATE {tables}, city.load_runs"))
