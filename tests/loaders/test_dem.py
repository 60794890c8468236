"""A DEM GeoTIFF in lon/lat → city.dem_tiles in the Gauss-Krüger zone → a Terrain window
whose heights equal the hill it was drawn from (a synthetic Gaussian hill near 崂山)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from citygis.cli import app
from loaders import LoadError
from loaders.dem import load_dem
from spatial_api.analysis.dem import window

PEAK_LON, PEAK_LAT, PEAK_M, SPREAD_DEG = 120.62, 36.20, 1100.0, 0.03
WEST, NORTH, STEP = 120.50, 36.30, 0.0005  # 400 × 400 pixels of ~45 × 55 m


def hill(lon, lat):
    return 20.0 + PEAK_M * np.exp(-((lon - PEAK_LON) ** 2 + (lat - PEAK_LAT) ** 2) / SPREAD_DEG**2)


def write_dem(path, z=None, crs="EPSG:4326"):
    lon = WEST + (np.arange(400) + 0.5) * STEP
    lat = NORTH - (np.arange(400) + 0.5) * STEP
    z = hill(lon[None, :], lat[:, None]).astype("float32") if z is None else z
    with rasterio.open(
        path, "w", driver="GTiff", width=400, height=400, count=1, dtype="float32",
        crs=crs, transform=from_origin(WEST, NORTH, STEP, STEP), nodata=-9999.0,
    ) as ds:  # fmt: skip
        ds.write(z, 1)
    return path


@pytest.fixture
def no_dem(engine):
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.dem_tiles"))


def terrain_at(url, bounds):
    async def read():
        eng = create_async_engine(url)
        async with eng.connect() as c:
            got = await window(c, bounds)
        await eng.dispose()
        return got

    return asyncio.run(read())


def test_a_dem_loads_into_the_zone_and_reads_back_as_the_hill(db_url, engine, tmp_path, no_dem):
    r = load_dem(db_url, write_dem(tmp_path / "laoshan_synthetic.tif"))
    # 0.2° × 0.2° at 36°N: 18.1 km × 22.3 km in EPSG:4549, in 200-cell tiles.
    assert (r.epsg, r.width, r.height, r.tiles) == (4549, 359, 442, 6)
    assert r.cell_m == pytest.approx(50.5, abs=0.1)
    assert r.highest_m == pytest.approx(20 + PEAK_M, abs=5)
    assert r.lowest_m == pytest.approx(20.0, abs=0.01)  # the corners, far from the hill
    dem = terrain_at(db_url, (120.55, 36.15, 120.70, 36.25))
    assert dem is not None and (dem.epsg, dem.load_id) == (4549, r.load_id)
    to_zone = Transformer.from_crs(4490, 4549, always_xy=True)
    lon = np.array([PEAK_LON, 120.60, 120.66, 120.58])
    lat = np.array([PEAK_LAT, 36.21, 36.18, 36.17])
    x, y = to_zone.transform(lon, lat)
    # Two bilinear resamplings of a 50 m grid: within a few metres on a 1,100 m hill.
    assert dem.terrain.height(x, y) == pytest.approx(hill(lon, lat), abs=6.0)
    # Reloading replaces the tiles instead of adding a second DEM.
    again = load_dem(db_url, write_dem(tmp_path / "laoshan_synthetic.tif"))
    with engine.connect() as c:
        tiles, loads = c.execute(
            text("SELECT count(*), count(DISTINCT load_id) FROM city.dem_tiles")
        ).one()
    assert (tiles, loads) == (6, 1) and again.load_id > r.load_id
    assert terrain_at(db_url, (100.0, 20.0, 100.1, 20.1)) is None  # far from the DEM


def test_bad_dems_are_refused_whole(db_url, engine, tmp_path, no_dem):
    with pytest.raises(LoadError, match="has no CRS"):
        load_dem(db_url, write_dem(tmp_path / "nocrs.tif", crs=None))
    feet = np.full((400, 400), 12000.0, "float32")
    with pytest.raises(
        LoadError,
        match=r"156,575 heights outside -500…9000 m \(first at row 0, column 275: 12000\)",
    ):
        load_dem(db_url, write_dem(tmp_path / "feet.tif", z=feet))
    (tmp_path / "notes.tif").write_text("not a raster")
    with pytest.raises(LoadError, match="not a readable raster"):
        load_dem(db_url, tmp_path / "notes.tif")
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM city.dem_tiles")).scalar_one() == 0


def test_the_cli_loads_a_dem_and_names_what_it_loaded(db_url, tmp_path, no_dem):
    path = write_dem(tmp_path / "laoshan_synthetic.tif")
    result = CliRunner().invoke(
        app, ["load-dem", str(path)], env={"CITYGIS_DATABASE_URL": db_url, "COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "in EPSG:4549" in result.output and "6 tiles" in result.output
