"""Valid time lives in the database: overlapping versions are refused; as-of reads work."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

INSERT = text(
    "INSERT INTO city.shelters (asset_id, name, capacity, valid, geom) VALUES "
    "(:a, :name, :cap, tstzrange(:lo, :hi), ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
)


def add(conn, asset, name, cap, lo, hi, x=120.38, y=36.07):
    conn.execute(INSERT, dict(a=asset, name=name, cap=cap, lo=lo, hi=hi, x=x, y=y))


@pytest.fixture
def history(conn):
    """Shelter S1 grew in 2024 and moved in 2025; S2 closed at the end of 2023."""
    add(conn, "S1", "中山公园", 5000, "2020-01-01", "2024-01-01")
    add(conn, "S1", "中山公园", 8000, "2024-01-01", "2025-06-01")
    add(conn, "S1", "中山公园", 8000, "2025-06-01", None, x=120.39)
    add(conn, "S2", "汇泉广场", 3000, "2021-01-01", "2024-01-01")
    return conn


def test_overlapping_version_is_rejected_by_the_database(history):
    with pytest.raises(IntegrityError, match="shelters_no_overlap"):
        add(history, "S1", "中山公园", 9000, "2023-06-01", "2023-07-01")


def test_adjacent_versions_and_other_assets_are_fine(history):
    add(history, "S2", "汇泉广场", 3500, "2024-01-01", "2024-02-01")  # touches, no overlap
    add(history, "S3", "五四广场", 2000, "2023-06-01", None)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        ("2019-12-31", []),
        ("2022-06-01", [("S1", 5000), ("S2", 3000)]),
        ("2024-01-01", [("S1", 8000)]),  # [lo, hi): S2 ended, S1's second version began
        ("2025-07-01", [("S1", 8000)]),
    ],
)
def test_as_of_function(history, instant, expected):
    rows = history.execute(
        text(
            "SELECT asset_id, capacity FROM city.shelters_as_of(CAST(:t AS timestamptz)) "
            "ORDER BY asset_id"
        ),
        {"t": instant},
    ).all()
    assert [tuple(r) for r in rows] == expected


def test_as_of_gives_the_geometry_of_that_time(history):
    xs = history.execute(
        text(
            "SELECT ST_X(geom) FROM city.shelters_as_of(CAST(:t AS timestamptz)) "
            "WHERE asset_id = 'S1'"
        ),
        {"t": "2025-01-01"},
    ).scalar_one()
    assert xs == pytest.approx(120.38)


def test_current_view_shows_versions_valid_now(history):
    rows = history.execute(
        text("SELECT asset_id, capacity, ST_X(geom) FROM city.shelters_current")
    ).all()
    assert [tuple(r) for r in rows] == [("S1", 8000, pytest.approx(120.39))]


def test_as_of_uses_the_valid_time_index(history):
    history.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(
        r[0] for r in history.execute(text("EXPLAIN SELECT * FROM city.shelters_as_of(now())"))
    )
    # Any GiST that holds `valid`: its own, the exclusion constraint's, or a spatial one.
    assert any(f"shelters_{i}" in plan for i in ("valid_idx", "no_overlap", "geom_idx", "geog_idx"))
