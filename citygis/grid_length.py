"""Length of lines per square grid cell: the kernel of `citygis batch grid-length`.

Cells are aligned on multiples of the cell size in a projected CRS (metres), so the same
cell has the same id in every run and every partition: a partition's sums add to any
other's. Each line is cut by the boxes of the cells its bounds touch, in one vectorised
shapely pass; lengths are horizontal (Z is dropped), as a pipe's plan length is.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

CELL_COLUMNS = ["ix", "iy"]
MAX_CELLS_PER_LINE = 100_000  # a 10 km line across 100 m cells touches ~200; this is a bad CRS


def cell_lengths(lines: gpd.GeoDataFrame, cell_m: float, by: Sequence[str]) -> pd.DataFrame:
    """Per cell (`ix`, `iy`: its lower-left corner over `cell_m`) and per value of `by`, the
    length in metres of `lines` inside it. `lines` must be in a projected CRS in metres."""
    columns = [*CELL_COLUMNS, *by, "length_m"]
    geoms = shapely.force_2d(np.asarray(lines.geometry.values))
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    geoms, attrs = geoms[keep], lines.loc[keep, list(by)]
    if not len(geoms):
        return pd.DataFrame(columns=columns)
    bounds = shapely.bounds(geoms)
    ix0, iy0 = np.floor(bounds[:, 0] / cell_m), np.floor(bounds[:, 1] / cell_m)
    nx = np.floor(bounds[:, 2] / cell_m) - ix0 + 1
    ny = np.floor(bounds[:, 3] / cell_m) - iy0 + 1
    per_line = (nx * ny).astype(np.int64)
    if per_line.max() > MAX_CELLS_PER_LINE:
        raise ValueError(
            f"a line spans {int(per_line.max()):,} cells of {cell_m:g} m: is the CRS in metres?"
        )
    line = np.repeat(np.arange(len(geoms)), per_line)
    # The k-th candidate cell of a line, row by row over its bounds' cells.
    k = np.arange(len(line)) - np.repeat(np.cumsum(per_line) - per_line, per_line)
    ix = ix0[line] + k % nx[line]
    iy = iy0[line] + k // nx[line]
    # A line inside one cell is all there; only lines across cell edges are cut (most pipes
    # of 100 m cells are the first kind, and GEOS intersections are the kernel's cost).
    length = shapely.length(geoms)[line]
    cut = np.flatnonzero(per_line[line] > 1)
    sub = (ix[cut], iy[cut])
    # Each candidate moved so its cell is [0, cell_m]²: one rectangle clips them all
    # (GEOS's rectangle clipping, several times faster than a general intersection).
    moved = geoms[line[cut]]
    xy, at = shapely.get_coordinates(moved, return_index=True)
    xy -= np.column_stack([sub[0] * cell_m, sub[1] * cell_m])[at]
    moved = shapely.set_coordinates(moved.copy(), xy)
    length[cut] = shapely.length(shapely.clip_by_rect(moved, 0.0, 0.0, cell_m, cell_m))
    inside = length > 0
    out = pd.DataFrame({"ix": ix[inside].astype(np.int64), "iy": iy[inside].astype(np.int64)})
    for name in by:
        out[name] = attrs[name].to_numpy()[line[inside]]
    out["length_m"] = length[inside]
    return summed(out, by)


def summed(parts: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Rows of the same cell and values added up (partials of several partitions too)."""
    keys = [*CELL_COLUMNS, *by]
    return parts.groupby(keys, as_index=False, dropna=False, sort=True)["length_m"].sum()


def cells_frame(sums: pd.DataFrame, cell_m: float, crs: object) -> gpd.GeoDataFrame:
    """The sums with each cell's square, ready to write or map."""
    ix, iy = sums["ix"].to_numpy(), sums["iy"].to_numpy()
    squares = shapely.box(ix * cell_m, iy * cell_m, (ix + 1) * cell_m, (iy + 1) * cell_m)
    return gpd.GeoDataFrame(sums.reset_index(drop=True), geometry=squares, crs=crs)
