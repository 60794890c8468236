"""People from the population layer in a zone's rings: each cell counts its share by area.

A cell's share in a ring is the geodesic area of its part in the ring over the geodesic
area of the whole cell (PostGIS geography, on the spheroid), so the count does not depend
on the CRS the cells came in nor on the cell size; a cell wholly inside a ring counts
whole, without being cut. The people are spread evenly over a cell: that is all a grid
or a polygon count says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.query import DateTimeInterval
from spatial_api.analysis.sources import select_features
from spatial_api.analysis.zones import Ring, rings_cte

METHOD = (
    "area-weighted: a population cell counts people × geodesic area inside ÷ geodesic "
    "area of the cell"
)
NO_DATA = "the population layer holds no cells at that time: people not counted (load one)"

# One row per (ring, cell) with a part inside; the cut only for cells on a ring's edge.
CELLS = """
WITH {rings}
SELECT r.i, s.props ->> 'asset_id' AS id, (s.props ->> 'people')::float8 AS people,
       s.props ->> 'basis' AS basis, s.props ->> 'source_name' AS source,
       w.share, ST_X(w.pt) AS x, ST_Y(w.pt) AS y
FROM ({src}) s JOIN r ON ST_Intersects(s.geom, r.geom),
     LATERAL (SELECT ST_CoveredBy(s.geom, r.geom) AS whole) c,
     LATERAL (SELECT CASE WHEN c.whole THEN s.geom
                          ELSE ST_CollectionExtract(ST_Intersection(s.geom, r.geom), 3)
                     END AS part) x,
     LATERAL (SELECT CASE WHEN c.whole THEN 1.0
                          ELSE ST_Area(x.part::geography)
                               / NULLIF(ST_Area(s.geom::geography), 0)
                     END AS share,
                     ST_PointOnSurface(x.part) AS pt) w
WHERE w.share > 0
ORDER BY r.i, s.props ->> 'asset_id'
"""
ANY = "SELECT EXISTS ({src})"


@dataclass(frozen=True)
class CellPart:
    """The part of one population cell in one ring (0-based), and a point inside it."""

    ring: int
    id: str
    people: float  # the whole cell's
    share: float
    basis: str | None
    source: str | None
    lonlat: tuple[float, float]

    @property
    def inside(self) -> float:
        return self.people * self.share


@dataclass
class RingPeople:
    """A ring's (or the zone's) people from the population layer, and what they rest on."""

    people: float = 0.0
    cells: int = 0
    basis: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)

    def add(self, part: CellPart) -> None:
        self.people += part.inside
        self.cells += 1
        self.basis |= {part.basis} if part.basis else set()
        self.sources |= {part.source} if part.source else set()

    def counts(self) -> dict[str, object]:
        return {
            "population": self.people,
            "population_cells": self.cells,
            "population_basis": sorted(self.basis),
            "population_sources": sorted(self.sources),
        }


NONE = {
    "population": None,
    "population_cells": None,
    "population_basis": None,
    "population_sources": None,
}


async def cell_parts(
    conn: AsyncConnection, catalog: Catalog, rings: list[Ring], when: DateTimeInterval | None
) -> list[CellPart] | None:
    """Every cell part in the rings; None when the layer holds no cell at all then
    (nothing loaded: unknown, which a count of 0 would hide)."""
    sel = select_features(catalog["population"], when, None)
    cte, params = rings_cte(rings)
    rows = (
        await conn.execute(
            text(CELLS.format(rings=cte, src=sel.sql)).bindparams(*sel.binds),
            sel.params | params,
        )
    ).all()
    if not rows:
        loaded = ANY.format(src=sel.sql)
        if not (await conn.execute(text(loaded).bindparams(*sel.binds), sel.params)).scalar():
            return None
    return [
        CellPart(r.i - 1, r.id, r.people, float(r.share), r.basis, r.source, (r.x, r.y))
        for r in rows
    ]


def by_ring(parts: list[CellPart], n: int) -> tuple[list[RingPeople], RingPeople]:
    """Each ring's people and the zone's (rings are exclusive, so they add up)."""
    rings = [RingPeople() for _ in range(n)]
    total = RingPeople()
    for p in parts:
        rings[p.ring].add(p)
        total.add(p)
    total.cells = len({p.id for p in parts})  # a cell across two rings is one cell
    return rings, total
