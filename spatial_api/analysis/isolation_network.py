"""One utility's network around a break, read from PostGIS as the segments kernel takes it.

Pipes come in a local azimuthal equidistant projection centred on the break (metres, so
the valve tolerance and split positions are metres; within 20 km it is exact to ~10⁻⁵).
Valves are pipe_nodes of kind valve: one that is a node of the topology (a pipe's
from_node or to_node) is a valve node shutting every pipe meeting there; any other is a
point, snapped to the nearest pipe. Links of kind pump or valve in `pipelines` are EPANET
pumps and control valves: links like any pipe, so they keep the network connected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely import Point, from_wkb
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers.errors import TooLarge
from spatial_api.analysis import metric
from spatial_api.analysis.segments import Pipe, Valve, ValveState, paused_gc
from spatial_api.analysis.sources import Selection

MAX_PIPES = 200_000
SOURCE_KINDS = ("tank", "reservoir", "source")


async def capped_pipes(
    conn: AsyncConnection, sql: str, pipes: Selection, params: dict[str, Any]
) -> list[Any]:
    """A pipe query's rows (it ends `LIMIT :max_pipes + 1`), refused past MAX_PIPES."""
    query = text(sql).bindparams(*pipes.binds)
    # .all() fetches in one call; iterating the result fetches row by row (0.3 s for 10k).
    rows = list((await conn.execute(query, pipes.params | params | {"max_pipes": MAX_PIPES})).all())
    if len(rows) > MAX_PIPES:
        raise TooLarge(f"more than {MAX_PIPES} pipes within max_radius_m: lower it")
    return rows


# The selections' own columns, not their `props` (every attribute's jsonb, built once per
# key read: a third of the read for 10k pipes).
PIPE_COLUMNS = "t.asset_id AS id, t.from_node AS a, t.to_node AS b, t.diameter_mm"
NODE_COLUMNS = "t.asset_id AS id, t.node_kind AS kind, t.valve_state"
PIPES = """
SELECT p.id, p.a, p.b, p.diameter_mm::float8 AS diameter_mm,
       ST_AsBinary(ST_Force2D(p.geom)) AS wkb, ST_Within(p.geom, {box}) AS inside
FROM ({pipes}) p
WHERE p.geom && {box}
LIMIT :max_pipes + 1
"""
NODES = """
SELECT n.id, n.kind, coalesce(n.valve_state, 'open') AS state,
       ST_X(n.geom) AS x, ST_Y(n.geom) AS y
FROM ({nodes}) n
WHERE n.geom && {box}
"""
NINE_PLACES = Decimal("1e-9")


def columns(selection: Selection, names: str) -> str:
    """The selection's rows as `names` (columns of its source `t`) and `geom`."""
    head, sep, rest = selection.sql.partition(" AS props, t.geom FROM ")
    if not sep or not head.startswith("SELECT "):
        raise AssertionError(f"not a select_features selection: {selection.sql[:80]}")
    return f"SELECT {names}, t.geom FROM {rest}"


@dataclass(frozen=True)
class Network:
    """What the kernel needs, and what the answer reports beside it."""

    pipes: list[Pipe]
    valves: list[Valve]
    sources: frozenset[str]
    diameter_mm: dict[str, float | None]
    beyond: frozenset[str]  # pipes reaching past the search box: the network goes on there
    untopological: int  # pipes in reach without from_node/to_node, left out
    valve_geojson: Mapping[str, dict]


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
    sql = PIPES.format(pipes=columns(pipes, PIPE_COLUMNS), box=box)
    rows = await capped_pipes(conn, sql, pipes, params)
    sql = NODES.format(nodes=columns(nodes, NODE_COLUMNS), box=box)
    node_rows = (
        await conn.execute(text(sql).bindparams(*nodes.binds), nodes.params | params)
    ).all()
    with paused_gc():
        return _network(rows, node_rows, plane)


def _network(rows: list[Any], node_rows: Sequence[Any], plane: Plane) -> Network:
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
    lines = _oriented(lines, [at.get(r.a) for r in linked], [at.get(r.b) for r in linked])
    return Network(
        pipes=[Pipe(r.id, r.a, r.b, g) for r, g in zip(linked, lines, strict=True)],
        valves=valves,
        sources=frozenset(r.id for r in node_rows if r.kind in SOURCE_KINDS) & topology,
        diameter_mm={r.id: r.diameter_mm for r in linked},
        beyond=frozenset(r.id for r in linked if not r.inside),
        untopological=len(rows) - len(linked),
        valve_geojson=ValvePoints({r.id: (r.x, r.y) for r in node_rows if r.kind == "valve"}),
    )


class ValvePoints(Mapping[str, dict]):
    """Valves as CRS84 GeoJSON points, made only for the few an answer shows.

    Written in SQL for every valve in reach (`metric.geojson`) it was a third of the
    network read. This writes what `ST_AsGeoJSON(ST_Transform(g, 4326), 9)` writes for
    our storage lon/lat (CGCS2000, which PROJ maps to WGS 84 unchanged): the shortest
    decimal of each coordinate rounded half-even to 9 places; equal on 600k points tried.
    """

    def __init__(self, lonlat: dict[str, tuple[float, float]]):
        self._lonlat = lonlat

    def __getitem__(self, valve: str) -> dict:
        return {"type": "Point", "coordinates": [_nine(v) for v in self._lonlat[valve]]}

    def __iter__(self) -> Iterator[str]:
        return iter(self._lonlat)

    def __len__(self) -> int:
        return len(self._lonlat)


def _nine(value: float) -> float:
    return float(Decimal(repr(value)).quantize(NINE_PLACES, ROUND_HALF_EVEN))


def _oriented(
    lines: np.ndarray, starts: list[Point | None], ends: list[Point | None]
) -> np.ndarray:
    """Each line drawn from its from_node, as the kernel measures along it: some GIS layers
    draw pipes against their from/to (the nodes' points say so; without them, as drawn).
    One vectorised pass: per pipe, four shapely calls cost more than segmenting it."""
    known = np.flatnonzero(
        [s is not None and e is not None for s, e in zip(starts, ends, strict=True)]
    )
    if not len(known):
        return lines
    drawn = lines[known]
    start = np.array([starts[i] for i in known], dtype=object)
    end = np.array([ends[i] for i in known], dtype=object)
    first, last = shapely.get_point(drawn, 0), shapely.get_point(drawn, -1)
    against = shapely.distance(first, end) + shapely.distance(last, start)
    flip = against < shapely.distance(first, start) + shapely.distance(last, end)
    out = lines.copy()
    out[known[flip]] = shapely.reverse(drawn[flip])
    return out


def _state(value: str) -> ValveState:
    return "closed" if value == "closed" else "broken" if value == "broken" else "open"
