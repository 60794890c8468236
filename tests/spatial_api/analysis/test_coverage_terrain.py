"""Coverage over a loaded DEM: a ridge casts a radio shadow, and the answer says which
terrain it used (ITU-R P.526 knife edge); the same request without a DEM is a disc."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin
from shapely import Point
from shapely.geometry import shape
from sqlalchemy import text

from loaders.dem import load_dem
from spatial_api.analysis.knife_edge import diffraction_v, knife_edge_db
from tests.spatial_api.analysis.test_coverage_model import LONLAT, post, sectors  # noqa: F401

CELL = 10.0
RIDGE_EAST_M, RIDGE_M, RIDGE_WIDE_M = 600.0, 30.0, 60.0
D_REQUEST = {"model": "fspl", "filter": {"operator": "china_unicom"}, "threshold_dbm": -100}


@pytest.fixture
def ridge(db_url, engine, tmp_path):
    """Flat ground at 5 m with a 30 m ridge running north-south 600 m east of sector D."""
    lon, lat = LONLAT["D"]
    x, y = Transformer.from_crs(4490, 4549, always_xy=True).transform(lon, lat)
    west, north = x - 2000.0, y + 2000.0
    z = np.full((400, 400), 5.0, np.float32)
    cols = (x + RIDGE_EAST_M - west) / CELL
    z[:, int(cols) : int(cols + RIDGE_WIDE_M / CELL)] = 5.0 + RIDGE_M
    path = tmp_path / "ridge_synthetic.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=400, height=400, count=1, dtype="float32",
        crs="EPSG:4549", transform=from_origin(west, north, CELL, CELL),
    ) as ds:  # fmt: skip
        ds.write(z, 1)
    load_dem(db_url, path)
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.dem_tiles"))


def east_of_d(metres: float) -> Point:
    lon, lat = LONLAT["D"]
    to_zone = Transformer.from_crs(4490, 4549, always_xy=True)
    x, y = to_zone.transform(lon, lat)
    return Point(*to_zone.transform(x + metres, y, direction="INVERSE"))


def test_a_ridge_shadows_the_coverage_behind_it(client, sectors, ridge):  # noqa: F811
    head, [disc] = post(client, **D_REQUEST, cell_m=10)
    assert "ITU-R P.526" in head["terrain"] and "DEM of load" in head["terrain"]
    covered = shape(disc["geometry"])
    assert covered.contains(east_of_d(300))  # before the ridge
    # The other way nothing rises, but D is 1.5 m high, as the receiver: over 5 m ground
    # the ground grazes the first Fresnel zone (v ≈ −0.45 at 600 m: 2.4 dB, within the
    # 6.0 dB margin left there; at 900 m v ≈ −0.36, 3.0 dB, past the 2.5 dB left).
    assert covered.contains(east_of_d(-600))
    assert not covered.contains(east_of_d(-900))
    assert not covered.contains(east_of_d(900))  # behind it
    # Behind the ridge the knife edge costs more than the free-space margin left (5.5 dB
    # at 630 m of the 1,192.8 m reach): P.526 at the ridge's near face for a cell 900 m out.
    v = diffraction_v(np.float64(RIDGE_M), np.float64(600.0), np.float64(300.0), 2000.0)
    assert float(knife_edge_db(v)) > 20 * np.log10(1192.8 / 900.0)


def test_without_a_dem_the_same_sector_covers_the_disc(client, sectors):  # noqa: F811
    head, [disc] = post(client, **D_REQUEST, cell_m=10)
    assert head["terrain"].startswith("flat earth")
    assert shape(disc["geometry"]).contains(east_of_d(900))


def test_flat_terrain_under_a_tall_mast_changes_nothing_on_any_window_shape():
    """A 30 m mast over level ground clears the first Fresnel zone everywhere in its 6.9 km
    reach: the window with terrain equals the flat one, whatever its shape against the
    terrain lattice (330 columns are not a multiple of the 4-cell step)."""
    from spatial_api.analysis.coverage_grid import Radio, compute_window, with_reach
    from spatial_api.analysis.knife_edge import Terrain

    radio = with_reach(
        Radio(530_000.0, 3_990_000.0, 61.0, -110.0, 1845.0, 30.0, "cost231", 90.0, 65.0, 3.0, 7.0),
        1.5,
        "urban",
    )
    level = Terrain(520_000.0, 3_980_000.0, 30.0, np.full((700, 700), 12.0, np.float32))
    flat, over = (compute_window(radio, 25.0, 1.5, "urban", t) for t in (None, level))
    assert flat.rx_dbm.shape == (332, 330)
    assert np.array_equal(flat.rx_dbm, over.rx_dbm)
    assert (over.shadowed, over.beyond_dem) == (0, 0)
