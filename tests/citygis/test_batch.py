"""`citygis batch grid-length`: pipe length per cell on Dask, checked against brute force,
against PostGIS's own lengths, and as of two instants of a layer's valid time."""

from __future__ import annotations

from datetime import UTC, datetime

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import LineString, MultiLineString
from sqlalchemy import text
from typer.testing import CliRunner

from citygis.batch import GridJob, block_ranges, run_grid, run_grid_here
from citygis.cli import app
from citygis.grid_length import cell_lengths
from loaders import load_frames
from loaders.load import LoadOptions

runner = CliRunner()
T1 = datetime(2019, 5, 1, tzinfo=UTC)
T2 = datetime(2024, 9, 1, tzinfo=UTC)
# Gauss-Kruger zone 40 metres near 市南区 (EPSG:4549 has no false easting prefix: x ≈ 5.3e5).
X0, Y0 = 524_000.0, 3_990_000.0


def frame(lines, by=None):
    return gpd.GeoDataFrame({"utility": by or ["water"] * len(lines)}, geometry=lines, crs=4549)


def as_dict(sums):
    return {(r.ix, r.iy, r.utility): r.length_m for r in sums.itertuples()}


def test_lengths_per_cell_are_exact_on_constructed_lines():
    lines = [
        LineString([(50, 50, -1.2), (250, 50, -1.4)]),  # along x, 3D: plan length counts
        LineString([(10, 10), (110, 110)]),  # diagonal through the corner (100, 100)
        MultiLineString([[(120, 120), (180, 120)], [(120, 130), (130, 130)]]),
    ]
    got = as_dict(cell_lengths(frame(lines, ["water", "gas", "gas"]), 100.0, ["utility"]))
    assert got == pytest.approx(
        {
            (0, 0, "water"): 50.0,
            (1, 0, "water"): 100.0,
            (2, 0, "water"): 50.0,
            (0, 0, "gas"): 90 * 2**0.5,
            (1, 1, "gas"): 10 * 2**0.5 + 60 + 10,
        },
        abs=1e-9,
    )


def test_lengths_equal_a_brute_force_over_every_cell():
    rng = np.random.default_rng(20261203)
    starts = rng.uniform(0, 1000, (300, 2))
    ends = starts + rng.normal(0, 120, (300, 2))
    bends = (starts + ends) / 2 + rng.normal(0, 20, (300, 2))
    lines = [LineString(abc) for abc in zip(starts, bends, ends, strict=True)]
    kinds = list(rng.choice(["water", "gas", "power"], 300))
    got = as_dict(cell_lengths(frame(lines, kinds), 50.0, ["utility"]))
    want: dict = {}
    for line, kind in zip(lines, kinds, strict=True):
        x0, y0, x1, y1 = line.bounds
        for ix in range(int(np.floor(x0 / 50)) - 1, int(np.floor(x1 / 50)) + 2):
            for iy in range(int(np.floor(y0 / 50)) - 1, int(np.floor(y1 / 50)) + 2):
                part = line.intersection(shapely.box(ix * 50, iy * 50, ix * 50 + 50, iy * 50 + 50))
                if part.length > 0:
                    want[ix, iy, kind] = want.get((ix, iy, kind), 0.0) + part.length
    assert got.keys() == want.keys()
    assert got == pytest.approx(want, abs=1e-9)
    assert sum(got.values()) == pytest.approx(sum(line.length for line in lines), abs=1e-6)


def pipes(moved_y: float) -> gpd.GeoDataFrame:
    rows = [
        ("bq-w1", "water", [(X0 + 20, Y0 + 30, -1.5), (X0 + 320, Y0 + 30, -1.6)]),
        ("bq-w2", "water", [(X0 + 320, Y0 + 30, -1.6), (X0 + 320, Y0 + 230, -1.7)]),
        ("bq-g1", "gas", [(X0 + 20, Y0 + moved_y, -1.0), (X0 + 170, Y0 + moved_y, -1.0)]),
    ]
    return gpd.GeoDataFrame(
        {"asset_id": [r[0] for r in rows], "utility": [r[1] for r in rows]},
        geometry=[LineString(r[2]) for r in rows],
        crs=4549,
    )


@pytest.fixture
def versioned(clean_db):
    """Three pipes from T1; at T2 the gas pipe is re-surveyed 100 m north."""
    for when, y in ((T1, 60.0), (T2, 160.0)):
        load_frames(
            clean_db,
            {"pipelines": pipes(y)},
            source="test batch",
            options=LoadOptions(valid_from=when),
        )
    return clean_db


def cells_of(result):
    return {(r.ix, r.iy, r.utility): r.length_m for r in result.cells.itertuples()}


def test_dask_job_equals_one_process_and_postgis_as_of_each_instant(versioned, engine):
    ix0, iy0 = int(X0 // 100), int(Y0 // 100)
    before = GridJob(versioned, "pipelines", ("utility",), 100.0, "EPSG:4549", T1)
    after = GridJob(versioned, "pipelines", ("utility",), 100.0, "EPSG:4549", T2)
    on_dask = run_grid(before, workers=2)
    assert (on_dask.rows, on_dask.tasks) == (3, 1)
    assert cells_of(on_dask) == pytest.approx(cells_of(run_grid_here(before)), abs=1e-9)
    assert cells_of(on_dask) == pytest.approx(
        {
            (ix0, iy0, "water"): 80.0,
            (ix0 + 1, iy0, "water"): 100.0,
            (ix0 + 2, iy0, "water"): 100.0,
            (ix0 + 3, iy0, "water"): 20.0 + 70.0,
            (ix0 + 3, iy0 + 1, "water"): 100.0,
            (ix0 + 3, iy0 + 2, "water"): 30.0,
            (ix0, iy0, "gas"): 80.0,
            (ix0 + 1, iy0, "gas"): 70.0,
        },
        abs=1e-6,
    )
    moved = cells_of(run_grid(after, workers=1))
    assert moved[ix0, iy0 + 1, "gas"] == pytest.approx(80.0, abs=1e-6)
    assert (ix0, iy0, "gas") not in moved
    with engine.connect() as c:
        postgis = dict(
            c.execute(
                text(
                    "SELECT utility, sum(ST_Length(ST_Transform(ST_Force2D(geom), 4549))) "
                    "FROM city.pipelines WHERE valid @> CAST(:at AS timestamptz) GROUP BY 1"
                ),
                {"at": T2},
            ).all()
        )
    totals = {u: sum(v for (_, _, k), v in moved.items() if k == u) for u in postgis}
    assert totals == pytest.approx(postgis, abs=1e-6)


def test_block_ranges_read_every_row_once(clean_db, engine):
    """400 pipes over several pages, two pages a task: each row in exactly one task."""
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 3000, (400, 2)) + (X0, Y0)
    lines = gpd.GeoDataFrame(
        {"asset_id": [f"bq-{i}" for i in range(400)], "utility": ["water", "gas"] * 200},
        geometry=[LineString([p, p + rng.normal(0, 80, 2)]) for p in xy],
        crs=4549,
    )
    options = LoadOptions(valid_from=T1)
    load_frames(clean_db, {"pipelines": lines}, source="test batch", options=options)
    job = GridJob(clean_db, "pipelines", ("utility",), 100.0, "EPSG:4549", T2, pages_per_task=2)
    ranges = block_ranges(clean_db, "pipelines", 2)
    assert len(ranges) >= 3
    assert [r.start for r in ranges[1:]] == [r.stop for r in ranges[:-1]]
    on_dask = run_grid(job, workers=2)
    assert (on_dask.rows, on_dask.tasks) == (400, len(ranges))
    totals = on_dask.cells.groupby("utility").length_m.sum().to_dict()
    assert totals == pytest.approx(
        {u: lines[lines.utility == u].length.sum() for u in ("water", "gas")}, abs=1e-6
    )


def test_cli_writes_the_cells_and_prints_totals(versioned, tmp_path):
    out = tmp_path / "cells.gpkg"
    env = {"CITYGIS_DATABASE_URL": versioned, "COLUMNS": "120"}
    args = ["batch", "grid-length", "--out", str(out), "--workers", "1", "--at", T1.isoformat()]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "3 features in 1 tasks" in result.stdout
    assert "0.500" in result.stdout and "0.150" in result.stdout  # water 500 m, gas 150 m
    cells = gpd.read_file(out)
    assert len(cells) == 8
    assert cells.crs.to_epsg() == 4549
    assert cells.geometry.area.round(6).unique().tolist() == [10_000.0]
    assert cells.groupby("utility").length_m.sum().round(6).to_dict() == {
        "gas": 150.0,
        "water": 500.0,
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layer", "roadz"], "no layer 'roadz'"),
        (["--layer", "shelters"], "holds Points, not lines"),
        (["--by", "colour"], "--by colour: not an attribute of 'pipelines'"),
        (["--crs", "EPSG:4490"], "not a projected CRS in metres"),
        (["--crs", "EPSG:99999"], "--crs 'EPSG:99999'"),
        (["--at", "2024-09-01T08:00"], "give a zone"),
        (["--at", "yesterday"], "not an ISO 8601 instant"),
    ],
)
def test_cli_refuses_bad_input_with_a_reason(db_url, tmp_path, args, message):
    env = {"CITYGIS_DATABASE_URL": db_url, "COLUMNS": "200"}
    out = tmp_path / "cells.gpkg"
    result = runner.invoke(app, ["batch", "grid-length", "--out", str(out), *args], env=env)
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert not out.exists()


def test_cli_refuses_an_unknown_format(db_url, tmp_path):
    env = {"CITYGIS_DATABASE_URL": db_url, "COLUMNS": "200"}
    result = runner.invoke(app, ["batch", "grid-length", "--out", str(tmp_path / "c.shp")], env=env)
    assert result.exit_code == 1
    assert "write .gpkg, .geojson or .parquet" in result.output
