"""Sectors out of the catalog into grid metres, and grid polygons back to lon/lat and m²."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import Geod, Transformer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import InvalidParameter, TooLarge
from layers.query import DateTimeInterval
from layers.spec import STORAGE_SRID
from spatial_api.analysis import dem
from spatial_api.analysis.coverage_budget import FLAT_EARTH, Budgets, link_budgets
from spatial_api.analysis.coverage_grid import MAX_REACH_M, metric_epsg
from spatial_api.analysis.coverage_models import GridCoverage
from spatial_api.analysis.sources import MAX_INPUT_FEATURES, Scalar, select_features

GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid


@lru_cache(maxsize=32)
def _transformer(src: int, dst: int) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def to_metric(epsg: int, lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    x, y = _transformer(STORAGE_SRID, epsg).transform(lon, lat)
    return np.asarray(x, float), np.asarray(y, float)


def to_lonlat(epsg: int, geom: shapely.Geometry) -> shapely.Geometry:
    t = _transformer(epsg, STORAGE_SRID)
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def geodesic_area_m2(lonlat: shapely.Geometry) -> float:
    """Area on the ellipsoid, whatever the rings' orientation."""
    if lonlat.is_empty:
        return 0.0
    return abs(GEOD.geometry_area_perimeter(shapely.orient_polygons(lonlat))[0])


def lonlat_bounds(epsg: int, bounds: tuple[float, float, float, float]) -> tuple[float, ...]:
    """A lon/lat box holding the metric box (edges densified: GK grid lines curve)."""
    x0, y0, x1, y1 = bounds
    t = np.linspace(0, 1, 33)
    xs = np.r_[x0 + (x1 - x0) * t, np.full(33, x1), x1 - (x1 - x0) * t, np.full(33, x0)]
    ys = np.r_[np.full(33, y0), y0 + (y1 - y0) * t, np.full(33, y1), y1 - (y1 - y0) * t]
    lon, lat = _transformer(epsg, STORAGE_SRID).transform(xs, ys)
    return float(np.min(lon)), float(np.min(lat)), float(np.max(lon)), float(np.max(lat))


async def load_sectors(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    req: GridCoverage,
    filters: dict[str, Scalar] | None,
    when: DateTimeInterval | None,
    epsg: int | None = None,
    near: tuple[float, float, float, float] | None = None,
) -> tuple[Budgets, int]:
    """The sectors' link budgets in grid metres and the grid's EPSG code.

    `near` (metric bounds, with `epsg`) keeps the sectors whose reach touches the box:
    the database prunes at MAX_REACH_M, the reach then decides.
    """
    sel = select_features(principal.layer(catalog, "sectors"), when, filters, "c")
    # The props as JSON text: the key of their kept link budget (decoded only when new).
    sql = (
        "SELECT s.props::text AS props, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat "
        f"FROM ({sel.sql}) s"
    )
    params = dict(sel.params)
    if near is not None and epsg is not None:
        grown = (
            near[0] - MAX_REACH_M,
            near[1] - MAX_REACH_M,
            near[2] + MAX_REACH_M,
            near[3] + MAX_REACH_M,
        )
        box = lonlat_bounds(epsg, grown)
        sql += f" WHERE s.geom && ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, {STORAGE_SRID})"
        params |= dict(zip(("bx0", "by0", "bx1", "by1"), box, strict=True))
    rows = (await conn.execute(text(sql).bindparams(*sel.binds), params)).all()
    if len(rows) > MAX_INPUT_FEATURES:
        raise TooLarge(f"more than {MAX_INPUT_FEATURES} sectors: add a filter")
    if epsg is None:
        if not rows:
            return Budgets(), 4549
        epsg = metric_epsg(float(np.mean([r.lon for r in rows])))
    x, y = to_metric(epsg, [r.lon for r in rows], [r.lat for r in rows])
    budgets = link_budgets(
        list(zip([r.props for r in rows], x.tolist(), y.tolist(), strict=True)), req, near
    )
    if not budgets.radios and budgets.skipped and near is None:
        reasons = "; ".join(f"{k} ({len(v)} sectors)" for k, v in budgets.skipped.items())
        raise InvalidParameter(f"no sector can be computed: {reasons}")
    if budgets.radios:
        await _with_terrain(conn, budgets, epsg)
    return budgets, epsg


async def _with_terrain(conn: AsyncConnection, budgets: Budgets, epsg: int) -> None:
    """The loaded DEM under every computed sector's whole reach, so that a sector's window
    is the same whatever the area asked about (its cache key holds only the DEM's load)."""
    have = await dem.loaded(conn)
    if have is None:
        return
    load_id, dem_epsg = have
    if dem_epsg != epsg:
        budgets.terrain_note = (
            f"{FLAT_EARTH.split(':')[0]}: the DEM (load {load_id}) is in EPSG:{dem_epsg}, the "
            f"grid in EPSG:{epsg}: reload it for this zone to use it"
        )
        return
    b = np.array([r.bounds for r in budgets.radios])
    reach = (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))
    west, south, east, north = lonlat_bounds(epsg, reach)
    got = await dem.window(conn, (west, south, east, north))
    if got is not None:
        budgets.terrain, budgets.terrain_note = got, got.note()
