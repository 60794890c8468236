"""People covered, per area and operator, from the population layer.

Each population cell's people are spread evenly over it, as the impact analysis does. An
area's people are the cells' people weighted by the share of each cell inside the area
(exact polygon cuts, in the grid's metres). The people covered are the coverage grid's
covered cells inside the area, each holding the density of the population cell under its
centre times its m² inside the area: so a 25 m grid resolves a 250 m population cell that
is only half covered. A hole's people are weighted by area like the area's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from rasterio.features import rasterize
from rasterio.transform import Affine
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.query import DateTimeInterval
from spatial_api.analysis.coverage_grid import Grid
from spatial_api.analysis.sources import select_features

METHOD = (
    "area-weighted: a population cell's people spread evenly over it; covered people are "
    "the covered grid cells' share of them"
)
NOT_READ = "the population layer is not readable with this token: people not counted"
NO_DATA = "the population layer holds no cells there at that time: people not counted"

# The cells that meet the areas' extent, as of the instant (lon/lat envelope, planar test).
CELLS = """
SELECT (p.props ->> 'people')::float8 AS people, ST_AsBinary(ST_Force2D(p.geom)) AS wkb
FROM ({src}) p
WHERE p.geom && ST_MakeEnvelope(:w, :s, :e, :n, 4490) AND (p.props ->> 'people')::float8 > 0
"""


@dataclass(frozen=True)
class Population:
    people: np.ndarray  # per cell
    cells: np.ndarray  # shapely polygons in the grid's metres
    tree: shapely.STRtree

    @classmethod
    def of(cls, people: np.ndarray, cells: np.ndarray) -> Population:
        return cls(people, cells, shapely.STRtree(cells))

    def within(self, area: shapely.Geometry) -> float:
        """People in a polygon (grid metres), each cell weighted by its share inside."""
        hit = self.tree.query(area, predicate="intersects")
        if hit.size == 0:
            return 0.0
        cells = self.cells[hit]
        share = shapely.area(shapely.intersection(cells, area)) / shapely.area(cells)
        return float((self.people[hit] * share).sum())

    def density(self, grid: Grid) -> np.ndarray:
        """People per m² at each grid cell's centre (0 where no population cell lies)."""
        per_m2 = self.people / shapely.area(self.cells)
        top = grid.y0 + grid.rows * grid.cell  # rasterio draws north-up: flip afterwards
        north_up = rasterize(
            zip(self.cells, per_m2, strict=True),
            out_shape=(grid.rows, grid.cols),
            transform=Affine(grid.cell, 0, grid.x0, 0, -grid.cell, top),
            fill=0.0,
            dtype="float64",
        )
        return north_up[::-1]


async def load_population(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    when: DateTimeInterval | None,
    bounds_lonlat: tuple[float, float, float, float],
    to_metric: Callable[[shapely.Geometry], shapely.Geometry],
) -> Population | str:
    """The population cells over the areas, in grid metres; or why there are none."""
    if "population" not in catalog or not principal.may_see(catalog["population"]):
        return NOT_READ
    sel = select_features(principal.layer(catalog, "population"), when, None, "pop")
    w, s, e, n = bounds_lonlat
    rows = (
        await conn.execute(
            text(CELLS.format(src=sel.sql)).bindparams(*sel.binds),
            sel.params | {"w": w, "s": s, "e": e, "n": n},
        )
    ).all()
    if not rows:
        return NO_DATA
    cells = np.array([to_metric(shapely.from_wkb(r.wkb)) for r in rows], dtype=object)
    people = np.array([r.people for r in rows], dtype=float)
    keep = shapely.area(cells) > 0
    return Population.of(people[keep], cells[keep])
