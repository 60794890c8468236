"""Reloads: the same file changes nothing; a changed file versions assets in valid time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from loaders import LoadError
from loaders.errors import TooManyRejects
from tests.support.loading import count, load, snapshot


def write_sites(path, sites):
    features = [
        {
            "type": "Feature",
            "properties": {"id": i, "name": n, "capacity": c},
            "geometry": {"type": "Point", "coordinates": xy},
        }
        for i, n, c, xy in sites
    ]
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


V1 = [
    ("S1", "中山公园", 5000, [120.3436, 36.0690]),
    ("S2", "汇泉广场", 3000, [120.3390, 36.0560]),
    ("S3", "五四广场", 8000, [120.3841, 36.0615]),
    ("S4", "八大关", 2000, [120.3550, 36.0530]),
]
T1 = datetime(2025, 1, 1, tzinfo=UTC)
T2 = datetime(2026, 6, 1, tzinfo=UTC)


def test_reloading_the_same_file_changes_nothing(clean_db, engine, tmp_path):
    path = write_sites(tmp_path / "shelters.geojson", V1)
    first = load(clean_db, "shelters", path, valid_from=T1).layers[0]
    assert (first.new, first.unchanged) == (4, 0)
    before = snapshot(engine)
    second = load(clean_db, "shelters", path).layers[0]
    assert (second.new, second.changed, second.unchanged, second.closed) == (0, 0, 4, 0)
    after = snapshot(engine)
    assert after["shelters"] == before["shelters"]
    assert count(engine, "SELECT count(*) FROM city.load_runs") == 2  # the log records both


def test_changed_file_versions_assets(clean_db, engine, tmp_path):
    load(clean_db, "shelters", write_sites(tmp_path / "v1.geojson", V1), valid_from=T1)
    v2 = [
        ("S1", "中山公园", 9000, [120.3436, 36.0690]),  # capacity changed
        ("S2", "汇泉广场", 3000, [120.3400, 36.0560]),  # moved
        ("S3", "五四广场", 8000, [120.3841, 36.0615]),  # unchanged
        ("S5", "石老人海水浴场", 6000, [120.4740, 36.0960]),
    ]  # new; S4 absent
    report = load(
        clean_db, "shelters", write_sites(tmp_path / "v2.geojson", v2), valid_from=T2
    ).layers[0]
    assert (report.new, report.changed, report.unchanged, report.closed) == (1, 2, 1, 0)
    # Upsert keeps S4 (absent from the file) valid.
    assert count(engine, "SELECT count(*) FROM city.shelters_current") == 5
    assert count(engine, "SELECT count(*) FROM city.shelters") == 7  # 5 current + 2 closed
    as_of = "SELECT capacity FROM city.shelters_as_of(CAST(:t AS timestamptz)) WHERE asset_id='S1'"
    assert count(engine, as_of, t="2026-05-31") == 5000
    assert count(engine, as_of, t="2026-06-01") == 9000
    closed = count(
        engine,
        "SELECT upper(valid) FROM city.shelters WHERE asset_id = 'S1' AND NOT upper_inf(valid)",
    )
    assert closed == T2


def test_replace_mode_closes_absent_assets(clean_db, engine, tmp_path):
    load(clean_db, "shelters", write_sites(tmp_path / "v1.geojson", V1), valid_from=T1)
    report = load(
        clean_db,
        "shelters",
        write_sites(tmp_path / "v2.geojson", V1[:2]),
        valid_from=T2,
        mode="replace",
    ).layers[0]
    assert (report.unchanged, report.closed) == (2, 2)
    assert (
        count(
            engine, "SELECT string_agg(asset_id, ',' ORDER BY asset_id) FROM city.shelters_current"
        )
        == "S1,S2"
    )
    assert count(engine, "SELECT count(*) FROM city.shelters_as_of('2025-06-01')") == 4
    # A replaced-away asset that comes back starts a new version.
    again = load(
        clean_db,
        "shelters",
        write_sites(tmp_path / "v3.geojson", V1),
        valid_from=datetime(2026, 9, 1, tzinfo=UTC),
    ).layers[0]
    assert (again.new, again.changed, again.unchanged) == (0, 2, 2)
    assert count(engine, "SELECT count(*) FROM city.shelters WHERE asset_id = 'S3'") == 2


def test_valid_from_before_the_current_version_is_refused(clean_db, engine, tmp_path):
    load(clean_db, "shelters", write_sites(tmp_path / "v1.geojson", V1), valid_from=T2)
    before = snapshot(engine)
    changed = [("S1", "中山公园", 1, [120.3436, 36.0690])]
    with pytest.raises(LoadError, match="not after the current version.*S1"):
        load(clean_db, "shelters", write_sites(tmp_path / "v2.geojson", changed), valid_from=T1)
    assert snapshot(engine) == before


def test_per_row_periods_seed_history(clean_db, engine, tmp_path):
    """Frames may carry valid_from/valid_to: how the demo seeds a network's past."""
    import geopandas as gpd
    from shapely import Point

    from loaders import LoadOptions, load_frames

    frame = gpd.GeoDataFrame(
        {
            "asset_id": ["old", "new"],
            "name": ["旧站", "新站"],
            "capacity": [100, 200],
            "valid_from": [datetime(1990, 1, 1, tzinfo=UTC), datetime(2010, 1, 1, tzinfo=UTC)],
            "valid_to": [datetime(2010, 1, 1, tzinfo=UTC), None],
        },
        geometry=[Point(120.3, 36.1), Point(120.31, 36.1)],
        crs="EPSG:4490",
    )
    for _ in range(2):  # the second time, nothing changes
        report = load_frames(clean_db, {"shelters": frame}, source="history", options=LoadOptions())
    assert report.layers[0].unchanged == 2
    assert count(engine, "SELECT asset_id FROM city.shelters_as_of('2000-01-01')") == "old"
    assert count(engine, "SELECT asset_id FROM city.shelters_as_of('2020-01-01')") == "new"


def test_a_frame_may_hold_an_assets_versions(clean_db, engine):
    """Several rows of one asset with their own periods are its history (the demo's
    incident timelines): loaded in turn, each from its valid_from, and only once."""
    import geopandas as gpd
    from shapely import Point

    from loaders import LoadOptions, load_frames

    def at(day: int) -> datetime:
        return datetime(2024, 1, day, tzinfo=UTC)

    frame = gpd.GeoDataFrame(
        {
            "asset_id": ["S1", "S1", "S1", "S2"],
            "name": ["一", "一", "一", "二"],
            "capacity": [100, 150, 120, 50],
            "valid_from": [at(1), at(5), at(9), at(2)],
            "valid_to": [at(5), at(9), None, None],
        },
        geometry=[Point(120.3, 36.1)] * 4,
        crs="EPSG:4490",
    )
    first = load_frames(clean_db, {"shelters": frame.iloc[::-1]}, source="h", options=LoadOptions())
    assert (first.layers[0].new, first.layers[0].changed, first.layers[0].rejected) == (2, 2, 0)
    again = load_frames(clean_db, {"shelters": frame}, source="h", options=LoadOptions())
    assert (again.layers[0].unchanged, again.layers[0].new, again.layers[0].changed) == (4, 0, 0)
    as_of = "SELECT capacity FROM city.shelters_as_of(CAST(:t AS timestamptz)) WHERE asset_id='S1'"
    assert [count(engine, as_of, t=f"2024-01-0{d}") for d in (1, 6, 9)] == [100, 150, 120]
    assert count(engine, "SELECT count(*) FROM city.shelters") == 4
    twice = frame.assign(valid_from=[at(1), at(1), at(9), at(2)])
    with pytest.raises(TooManyRejects, match="duplicate asset id S1"):
        load_frames(clean_db, {"shelters": twice}, source="h2", options=LoadOptions())
