"""A terrain model (DEM GeoTIFF, any CRS) into `city.dem_tiles`, for radio paths.

The raster is warped (bilinear, rasterio) onto the CGCS2000 3° Gauss-Krüger zone of its
centre (EPSG:4534–4554, EPSG:4549 for Qingdao), which is the coverage grid's CRS, keeping
its resolution, and cut into tiles written as PostGIS rasters with their outlines in lon/lat.
One DEM at a time: a load replaces every tile, in one transaction, and is logged in
`city.load_runs` as layer `dem`, so anything computed from the old one is known stale.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg

from citygis.urls import libpq_url
from loaders import store
from loaders.crs import gauss_kruger_epsg
from loaders.errors import LoadError

TILE = 200  # pixels a side: 40,000 heights a row of city.dem_tiles
NODATA = -32768.0
MAX_PIXELS = 200_000_000  # ~ 14,000² pixels: clip a country DEM to the city first
LOWEST_M, HIGHEST_M = -500.0, 9000.0  # below the Dead Sea shore, above Everest: not heights
LAYER = "dem"

INSERT = """
INSERT INTO city.dem_tiles (rast, epsg, extent, load_id)
SELECT r, %(epsg)s, ST_Transform(ST_SetSRID(ST_Envelope(r), %(epsg)s), 4490), %(load)s
FROM (SELECT ST_SetValues(
          ST_AddBand(
              ST_MakeEmptyRaster(%(w)s, %(h)s, %(ulx)s, %(uly)s, %(cell)s, -%(cell)s, 0, 0,
                                 %(epsg)s),
              '32BF'::text, %(nodata)s, %(nodata)s),
          1, 1, 1, %(z)s::double precision[][]) AS r) t
"""


@dataclass(frozen=True)
class DemReport:
    source: str
    epsg: int
    cell_m: float
    width: int
    height: int
    tiles: int
    lowest_m: float
    highest_m: float
    load_id: int


def read_dem(path: Path) -> tuple[np.ndarray, float, float, float, int]:
    """Heights on the zone's grid: (z with NaN for no data, upper-left x, y, cell, EPSG)."""
    import rasterio
    from rasterio.warp import Resampling, calculate_default_transform, reproject, transform_bounds

    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioError as exc:
        raise LoadError(f"{path.name}: not a readable raster: {exc}") from None
    with src:
        if src.crs is None:
            raise LoadError(f"{path.name}: the raster has no CRS: set one (gdal_edit -a_srs)")
        if src.width * src.height > MAX_PIXELS:
            raise LoadError(
                f"{path.name}: {src.width * src.height:,} pixels, more than {MAX_PIXELS:,}: "
                "clip the DEM to the city first (gdal_translate -projwin)"
            )
        west, south, east, north = transform_bounds(src.crs, "EPSG:4490", *src.bounds)
        epsg = gauss_kruger_epsg((west + east) / 2)
        if epsg is None:
            raise LoadError(
                f"{path.name}: the DEM lies outside China's 3° zones (73.5–136.5°E): "
                f"{(west + east) / 2:.2f}°E"
            )
        transform, width, height = calculate_default_transform(
            src.crs, f"EPSG:{epsg}", src.width, src.height, *src.bounds
        )
        cell = math.sqrt(abs(transform.a * transform.e))  # square pixels of the same area
        transform, width, height = calculate_default_transform(
            src.crs, f"EPSG:{epsg}", src.width, src.height, *src.bounds, resolution=cell
        )
        z = np.full((height, width), np.nan, np.float32)
        reproject(
            rasterio.band(src, 1),
            z,
            dst_transform=transform,
            dst_crs=f"EPSG:{epsg}",
            dst_nodata=np.nan,
            resampling=Resampling.bilinear,
        )
    bad = np.isfinite(z) & ((z < LOWEST_M) | (z > HIGHEST_M))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise LoadError(
            f"{path.name}: {int(bad.sum()):,} heights outside {LOWEST_M:g}…{HIGHEST_M:g} m "
            f"(first at row {r}, column {c}: {z[r, c]:g}): is the band in metres, "
            "and its no-data value set?"
        )
    if not np.isfinite(z).any():
        raise LoadError(f"{path.name}: no heights (every pixel is no-data)")
    return z, transform.c, transform.f, cell, epsg


def load_dem(url: str, path: Path) -> DemReport:
    """Replace the DEM with `path`'s, all or nothing."""
    z, ulx, uly, cell, epsg = read_dem(path)
    height, width = z.shape
    report = {"source": path.name, "epsg": epsg, "cell_m": cell, "width": width}
    report |= {"height": height, "lowest_m": float(np.nanmin(z)), "highest_m": float(np.nanmax(z))}
    try:
        with psycopg.connect(libpq_url(url)) as conn:
            conn.execute("LOCK TABLE city.dem_tiles IN EXCLUSIVE MODE")
            load = conn.execute(
                "INSERT INTO city.load_runs (layer_id, source, mode, finished_at, report) "
                "VALUES (%s, %s, 'replace', clock_timestamp(), %s) RETURNING id",
                (LAYER, path.name, json.dumps(report, ensure_ascii=False)),
            ).fetchone()[0]  # type: ignore[index]
            conn.execute("DELETE FROM city.dem_tiles")
            tiles = 0
            for r0 in range(0, height, TILE):
                for c0 in range(0, width, TILE):
                    block = z[r0 : r0 + TILE, c0 : c0 + TILE]
                    if not np.isfinite(block).any():
                        continue
                    values = np.where(np.isfinite(block), block, NODATA).astype(float).tolist()
                    conn.execute(
                        INSERT,
                        {
                            "w": block.shape[1],
                            "h": block.shape[0],
                            "ulx": ulx + c0 * cell,
                            "uly": uly - r0 * cell,
                            "cell": cell,
                            "epsg": epsg,
                            "nodata": NODATA,
                            "z": values,
                            "load": load,
                        },
                    )
                    tiles += 1
            store.notify_changed(conn, [LAYER])
    except psycopg.OperationalError as exc:
        raise LoadError(f"database connection failed during the load: {exc}") from None
    return DemReport(**report, tiles=tiles, load_id=load)
