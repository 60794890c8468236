"""A population raster (a WorldPop GeoTIFF, or any single-band count grid) as cell polygons.

Each pixel holding people (> 0, finite, not nodata) becomes the polygon of its four corners
in the raster's own CRS (rotated grids too), with `people` its value. The frame carries
that CRS, so the load reprojects and checks it as for any file; a raster without one is
refused there, never guessed. The id of a cell is its centre in that CRS, so a newer raster
of the same grid versions each cell instead of adding a second set.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from loaders.errors import LoadError

MAX_CELLS = 5_000_000  # ~ a 2,200 × 2,200 grid of people: clip a country raster to the city


def read_raster(path: Path) -> gpd.GeoDataFrame:
    """Cells with people, each numbered by its pixel (row-major, from 1) for the rejects."""
    import rasterio  # only for rasters: GDAL's start-up is not every load's business

    try:
        with rasterio.open(path) as ds:
            values = ds.read(1, masked=True)
            transform, crs, width = ds.transform, ds.crs, ds.width
    except rasterio.errors.RasterioError as exc:
        raise LoadError(f"{path.name}: not a readable raster: {exc}") from None
    data = np.ma.filled(values.astype("float64"), np.nan)
    rows, cols = np.nonzero(np.isfinite(data) & (data > 0))
    if len(rows) > MAX_CELLS:
        raise LoadError(
            f"{path.name}: {len(rows):,} cells with people, more than {MAX_CELLS:,}: clip the "
            "raster to the area first (e.g. gdal_translate -projwin)"
        )
    corners = [_at(transform, cols + dc, rows + dr) for dc, dr in ((0, 0), (1, 0), (1, 1), (0, 1))]
    rings = np.stack([np.column_stack(xy) for xy in [*corners, corners[0]]], axis=1)
    cx, cy = _at(transform, cols + 0.5, rows + 0.5)
    frame = pd.DataFrame(
        {
            "id": [f"{x:.10g} {y:.10g}" for x, y in zip(cx, cy, strict=True)],
            "people": data[rows, cols],
            "source_name": path.name,
        },
        index=pd.Index(rows * width + cols + 1),
    )
    geoms = shapely.polygons(rings) if len(rows) else np.array([], dtype=object)
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=crs.to_wkt() if crs else None)


def _at(t, col: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel (column, row) positions through the raster's affine transform."""
    return t.a * col + t.b * row + t.c, t.d * col + t.e * row + t.f
