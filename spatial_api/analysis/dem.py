"""The loaded DEM (`city.dem_tiles`, written by loaders/dem.py) around an area, as one
`Terrain` grid for the knife-edge paths, and which load it came from (for cache keys)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers.errors import TooLarge
from spatial_api.analysis.knife_edge import Terrain

MAX_CELLS = 50_000_000  # heights in one window: 200 MB of float32

# Tiles whose outline meets the area, with their grid and heights (nodata as NULL).
TILES = """
SELECT ST_UpperLeftX(rast) AS ulx, ST_UpperLeftY(rast) AS uly, ST_ScaleX(rast) AS cell,
       ST_Width(rast) AS w, ST_Height(rast) AS h, epsg, load_id,
       ST_DumpValues(rast, 1, true) AS z
FROM city.dem_tiles
WHERE extent && ST_MakeEnvelope(:west, :south, :east, :north, 4490)
"""
LOADED = "SELECT max(load_id) AS load_id, max(epsg) AS epsg FROM city.dem_tiles"


@dataclass(frozen=True)
class Dem:
    terrain: Terrain
    epsg: int
    load_id: int

    def note(self) -> str:
        return (
            f"terrain: DEM of load {self.load_id} ({self.terrain.cell:.0f} m cells, "
            f"EPSG:{self.epsg}); line of sight and single knife-edge diffraction per path "
            "(ITU-R P.526-15, eq. 31), earth radius ×4/3; for empirical models only where "
            "the terrain blocks the ray (they already hold the ground's own clearance loss)"
        )


async def loaded(conn: AsyncConnection) -> tuple[int, int] | None:
    """(load id, EPSG) of the DEM in the database, or None without one."""
    row = (await conn.execute(text(LOADED))).one()
    return None if row.load_id is None else (int(row.load_id), int(row.epsg))


async def window(
    conn: AsyncConnection, lonlat_bounds: tuple[float, float, float, float]
) -> Dem | None:
    """The DEM's heights over the area (lon/lat bounds), mosaicked from its tiles."""
    west, south, east, north = lonlat_bounds
    rows = (
        await conn.execute(
            text(TILES), {"west": west, "south": south, "east": east, "north": north}
        )
    ).all()
    if not rows:
        return None
    cell = float(rows[0].cell)
    left = min(r.ulx for r in rows)
    top = max(r.uly for r in rows)
    cols = round((max(r.ulx + r.w * cell for r in rows) - left) / cell)
    lines = round((top - min(r.uly - r.h * cell for r in rows)) / cell)
    if cols * lines > MAX_CELLS:
        raise TooLarge(f"the area needs {cols * lines:,} DEM cells, more than {MAX_CELLS:,}")
    z = np.full((lines, cols), np.nan, np.float32)
    for r in rows:
        r0, c0 = round((top - r.uly) / cell), round((r.ulx - left) / cell)
        block = np.array(r.z, dtype=np.float64)  # None (nodata) → nan
        z[r0 : r0 + r.h, c0 : c0 + r.w] = block
    # Terrain counts rows upwards (y0 at the bottom); rasters count them down from the top.
    terrain = Terrain(left, top - lines * cell, cell, np.ascontiguousarray(z[::-1]))
    return Dem(terrain, int(rows[0].epsg), int(max(r.load_id for r in rows)))
