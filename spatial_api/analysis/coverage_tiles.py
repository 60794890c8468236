"""PNG tiles of received power or best server, for the map: the grid resampled per pixel.

A tile's pixels are looked up in the coverage grid (25 m cells by default) of the sectors
that can reach the tile; cells below the threshold are transparent. Received power runs
from red at the threshold to green at RX_TOP_DBM (the legend the map draws); best-server
colours come from a hash of the sector's asset id, so a sector keeps its colour from tile
to tile.
"""

from __future__ import annotations

import struct
import zlib
from hashlib import blake2b

import numpy as np
from fastapi.concurrency import run_in_threadpool
from numpy.typing import NDArray
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import InvalidParameter
from spatial_api import scenarios
from spatial_api.analysis.coverage_budget import Budgets
from spatial_api.analysis.coverage_grid import Grid, Notes, metric_epsg
from spatial_api.analysis.coverage_map import best_by_operator
from spatial_api.analysis.coverage_models import CoverageTileQuery, GridCoverage
from spatial_api.analysis.coverage_sectors import load_sectors, to_metric
from spatial_api.analysis.sources import Scalar, parse_when
from tiles.grid import TileCoords, mercator_to_lonlat

SIZE = 256
MIN_ZOOM = 11  # a z11 tile is ~16 km at Qingdao's latitude: 400 cells of 25 m a side
RX_TOP_DBM = -60.0  # the ramp's green end


def png_rgba(rgba: NDArray[np.uint8]) -> bytes:
    """An RGBA image as PNG (filter 0 on every row); zlib is all a PNG needs."""
    h, w, _ = rgba.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgba.reshape(h, w * 4)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def _pixels(coords: TileCoords, epsg: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Grid metres of each pixel centre, rows from the top."""
    b = coords.xy_bounds()
    step = (b.right - b.left) / SIZE
    mx = b.left + (np.arange(SIZE) + 0.5) * step
    my = b.top - (np.arange(SIZE) + 0.5) * step
    gx, gy = np.meshgrid(mx, my)
    lon, lat = mercator_to_lonlat().transform(gx.ravel(), gy.ravel())
    x, y = to_metric(epsg, lon, lat)
    return x.reshape(SIZE, SIZE), y.reshape(SIZE, SIZE)


def _colour_of(asset_id: str) -> tuple[int, int, int]:
    d = blake2b(asset_id.encode(), digest_size=3).digest()
    return d[0], d[1], d[2]


def render(
    q: CoverageTileQuery, radio: GridCoverage, coords: TileCoords, budgets: Budgets, epsg: int
) -> bytes:
    """CPU-bound: run in a worker thread."""
    x, y = _pixels(coords, epsg)
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    if not budgets.radios:
        return png_rgba(rgba)
    bounds = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
    grid = Grid.around(bounds, radio.cell_m)
    best, _ = best_by_operator(radio, grid, budgets, Notes())
    rows = np.clip(((y - grid.y0) // grid.cell).astype(int), 0, grid.rows - 1)
    cols = np.clip(((x - grid.x0) // grid.cell).astype(int), 0, grid.cols - 1)
    # The strongest covered server over the operators asked for, per pixel.
    rx = np.full((SIZE, SIZE), -np.inf, np.float32)
    server = np.full((SIZE, SIZE), -1, np.int32)
    for b in best.values():
        here = np.where(b.covered[rows, cols], b.rx_dbm[rows, cols], -np.inf)
        better = here > rx
        rx[better] = here[better]
        server[better] = b.server[rows, cols][better]
    shown = server >= 0
    if q.show == "best_server":
        palette = np.array([_colour_of(str(p.get("asset_id"))) for p in budgets.props], np.uint8)
        rgba[shown, :3] = palette[server[shown]]
    else:
        thresholds = np.array([r.threshold_dbm for r in budgets.radios], np.float32)
        low = thresholds[np.maximum(server, 0)]
        t = np.clip((rx - low) / np.maximum(RX_TOP_DBM - low, 1.0), 0.0, 1.0)
        rgba[..., 0] = (255 * np.clip(2 - 2 * t, 0, 1)).astype(np.uint8)
        rgba[..., 1] = (255 * np.clip(2 * t, 0, 1)).astype(np.uint8)
    rgba[shown, 3] = 170
    return png_rgba(rgba)


async def coverage_tile(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    coords: TileCoords,
    q: CoverageTileQuery,
) -> bytes:
    if coords.z < MIN_ZOOM:
        raise InvalidParameter(f"coverage tiles start at tileMatrix {MIN_ZOOM}, got {coords.z}")
    if q.scenario is not None:  # 404 for a scenario this caller may not use, as answers do
        await scenarios.get(conn, principal, q.scenario)
    lon0, lat0, lon1, lat1 = coords.lonlat_bounds()
    epsg = metric_epsg((lon0 + lon1) / 2)
    x, y = _pixels(coords, epsg)
    near = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
    filters: dict[str, Scalar] = {
        k: v for k, v in (("operator", q.operator), ("technology", q.technology)) if v
    }
    grid = q.grid()
    budgets, _ = await load_sectors(
        conn,
        catalog,
        principal,
        grid,
        filters or None,
        parse_when(q.datetime_, q.scenario),
        epsg,
        near,
    )
    return await run_in_threadpool(render, q, grid, coords, budgets, epsg)
