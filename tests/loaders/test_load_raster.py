"""A WorldPop-style GeoTIFF loads into population: a cell per pixel with people, any CRS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Geod

from loaders.errors import LoadError
from tests.support.loading import count, load

NODATA = -99999.0
GEOD = Geod(ellps="GRS80")


def from_origin(west: float, north: float, x: float, y: float) -> Affine:
    return Affine(x, 0, west, 0, -y, north)


def write_tif(path: Path, values: list[list[float]], crs: str | None, transform) -> Path:
    data = np.array(values, dtype="float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=data.shape[0],
        width=data.shape[1],
        count=1,
        dtype="float32",
        crs=crs,
        transform=transform,
        nodata=NODATA,
    ) as ds:
        ds.write(data, 1)
    return path


def cells(engine) -> tuple[int, float]:
    return (
        count(engine, "SELECT count(*) FROM city.population_current"),
        count(engine, "SELECT coalesce(sum(people), 0) FROM city.population_current"),
    )


def test_each_pixel_with_people_is_a_cell_in_lon_lat(clean_db, engine, tmp_path):
    tif = write_tif(
        tmp_path / "worldpop_4326.tif",
        [[1.5, 0, NODATA, 2], [3, 4, 0, 5.25], [NODATA, 6, 7, 0]],
        "EPSG:4326",
        from_origin(120.0, 36.03, 0.01, 0.01),
    )
    report = load(clean_db, "population", tif)
    assert [(r.layer, r.new, r.rejected) for r in report.layers] == [("population", 7, 0)]
    assert cells(engine) == (7, pytest.approx(28.75))
    # The pixel at row 0, column 0 is the box 120.00–120.01 E, 36.02–36.03 N.
    area = count(
        engine,
        "SELECT ST_Area(geom::geography) FROM city.population_current WHERE people = 1.5",
    )
    lons, lats = [120.0, 120.01, 120.01, 120.0], [36.03, 36.03, 36.02, 36.02]
    assert area == pytest.approx(abs(GEOD.polygon_area_perimeter(lons, lats)[0]), rel=1e-4)
    assert count(engine, "SELECT count(DISTINCT source_name) FROM city.population") == 1
    assert load(clean_db, "population", tif).layers[0].unchanged == 7


def test_a_projected_raster_keeps_its_crs(clean_db, engine, tmp_path):
    # CGCS2000 Gauss-Krüger, central meridian 120° E: 100 m pixels near Qingdao.
    tif = write_tif(
        tmp_path / "grid_4549.tif",
        [[10, NODATA], [0, 20.5]],
        "EPSG:4549",
        from_origin(500_000, 4_000_200, 100, 100),
    )
    report = load(clean_db, "population", tif)
    assert report.layers[0].new == 2
    assert cells(engine) == (2, pytest.approx(30.5))
    areas = count(engine, "SELECT max(ST_Area(geom::geography)) FROM city.population_current")
    assert areas == pytest.approx(10_000, rel=1e-3)  # scale factor 1 on the central meridian
    lon = count(engine, "SELECT min(ST_XMin(geom)) FROM city.population_current")
    assert lon == pytest.approx(120.0, abs=1e-6)  # the grid starts on the central meridian


def test_a_raster_without_a_crs_is_refused(clean_db, tmp_path):
    tif = write_tif(tmp_path / "bare.tif", [[1.0]], None, from_origin(0, 1, 1, 1))
    with pytest.raises(LoadError, match="has no CRS"):
        load(clean_db, "population", tif)
