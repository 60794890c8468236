"""One utility's network around a break, read from PostGIS as the segments kernel takes it.

Pipes come in a local azimuthal equidistant projection centred on the break (metres, so
the valve tolerance and split positions are metres; within 20 km it is exact to ~10⁻⁵).
Valves are pipe_nodes of kind valve: one that is a node of the topology (a pipe's
from_node or to_node) is a valve node shutting every pipe meeting there; any other is a
point, snapped to the nearest pipe. Links of kind pump or valve in `pipelines` are EPANET
pumps and control valves: links like any pipe, so they keep the network connected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely import LineString, Point, from_wkb
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers.errors import TooLarge
from spatial_api.analysis import metric
from spatial_api.analysis.segments import Pipe, Valve, ValveState
from spatial_api.analysis.sources import Selection

MAX_PIPES = 200_000
SOURCE_KINDS = ("tank", "reservoir", "source")


async def capped_pipes(
    conn: AsyncConnection, sql: str, pipes: Selection, params: dict[str, Any]
) -> list[Any]:
    """A pipe query's rows (it ends `LIMIT :max_pipes + 1`), refused past MAX_PIPES."""
    query = text(sql).bindparams(*pipes.binds)
    rows = list(await conn.execute(query, pipes.params | params | {"max_pipes": MAX_PIPES}))
    if len(rows) > MAX_PIPES:
        raise TooLarge(f"more than {MAX_PIPES} pipes within max_radius_m: lower it")
    return rows


PIPES = """
SELECT p.props ->> 'asset_id' AS id, p.props ->> 'from_node' AS a, p.props ->> 'to_node' AS b,
       (p.props ->> 'diameter_mm')::float8 AS diameter_mm,
       ST_AsBinary(ST_Force2D(p.geom)) AS wkb, ST_Within(p.geom, {box}) AS inside
FROM ({pipes}) p
WHERE p.geom && {box}
LIMIT :max_pipes + 1
"""
NODES = """
SELECT n.props ->> 'asset_id' AS id, n.props ->> 'node_kind' AS kind,
       coalesce(n.props ->> 'valve_state', 'open') AS state,
       ST_X(n.geom) AS x, ST_Y(n.geom) AS y,
       CASE WHEN n.props ->> 'node_kind' = 'valve' THEN {geojson} END AS g
FROM ({nodes}) n
WHERE n.geom && {box}
"""


@dataclass(frozen=True)
class Network:
    """What the kernel needs, and what the answer reports beside it."""

    pipes: list[Pipe]
    valves: list[Valve]
    sources: frozenset[str]
    diameter_mm: dict[str, float | None]
    beyond: frozenset[str]  # pipes reaching past the search box: the network goes on there
    untopological: int  # pipes in reach without from_node/to_node, left out
    valve_geojson: dict[str, dict]


class Plane:
    """Azimuthal equidistant metres about a point, and back to lon/lat.

    Projected here, not by ST_Transform: PostGIS builds a PROJ object per query for a
    PROJ string (20-40 ms), a pipeline here takes 0.1 ms.
    """

    def __init__(self, lon: float, lat: float):
        self._t = Transformer.from_pipeline(
            "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
            f"+step +proj=aeqd +lat_0={lat!r} +lon_0={lon!r} +ellps=GRS80"
        )

    def forward(self, geoms: np.ndarray) -> np.ndarray:
        return shapely.transform(geoms, lambda xy: self._apply(xy, "FORWARD"))

    def inverse(self, geoms: np.ndarray) -> np.ndarray:
        return shapely.transform(geoms, lambda xy: self._apply(xy, "INVERSE"))

    def _apply(self, xy: np.ndarray, direction: str) -> np.ndarray:
        x, y = self._t.transform(xy[:, 0], xy[:, 1], direction=direction)
        return np.column_stack([x, y])


async def read_network(
    conn: AsyncConnection,
    pipes: Selection,
    nodes: Selection,
    plane: Plane,
    centre: tuple[float, float],
    radius_m: float,
) -> Network:
    """The pipes and nodes of one utility (the selections filter it) near `centre`."""
    box = metric.search_box("ST_SetSRID(ST_MakePoint(:cx, :cy), 4490)", ":radius")
    params = {"cx": centre[0], "cy": centre[1], "radius": radius_m}
    rows = await capped_pipes(conn, PIPES.format(pipes=pipes.sql, box=box), pipes, params)
    sql = NODES.format(nodes=nodes.sql, box=box, geojson=metric.geojson("ST_Force2D(n.geom)"))
    node_rows = (
        await conn.execute(text(sql).bindparams(*nodes.binds), nodes.params | params)
    ).all()
    linked = [r for r in rows if r.a and r.b]
    topology = {n for r in linked for n in (r.a, r.b)}
    lines = plane.forward(from_wkb(np.array([r.wkb for r in linked], dtype=object)))
    points = plane.forward(shapely.points(np.array([(r.x, r.y) for r in node_rows]).reshape(-1, 2)))
    at = {r.id: p for r, p in zip(node_rows, points, strict=True)}
    valves = [
        Valve(r.id, r.id if r.id in topology else at[r.id], _state(r.state))
        for r in node_rows
        if r.kind == "valve"
    ]
    return Network(
        pipes=[
            Pipe(r.id, r.a, r.b, _oriented(g, at.get(r.a), at.get(r.b)))
            for r, g in zip(linked, lines, strict=True)
        ],
        valves=valves,
        sources=frozenset(r.id for r in node_rows if r.kind in SOURCE_KINDS) & topology,
        diameter_mm={r.id: r.diameter_mm for r in linked},
        beyond=frozenset(r.id for r in linked if not r.inside),
        untopological=len(rows) - len(linked),
        valve_geojson={r.id: r.g for r in node_rows if r.kind == "valve"},
    )


def _oriented(line: LineString, start: Point | None, end: Point | None) -> LineString:
    """The line drawn from its from_node, as the kernel measures along it: some GIS layers
    draw pipes against their from/to (the nodes' points say so; without them, as drawn)."""
    if start is None or end is None:
        return line
    first, last = shapely.get_point(line, 0), shapely.get_point(line, -1)
    if first.distance(end) + last.distance(start) < first.distance(start) + last.distance(end):
        return shapely.reverse(line)
    return line


def _state(value: str) -> ValveState:
    return "closed" if value == "closed" else "broken" if value == "broken" else "open"
