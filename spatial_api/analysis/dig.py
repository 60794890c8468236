"""A dig report: what is buried under a planned excavation, how deep, whose, whom to call.

The dig is buffered by the tolerance zone (each side) in an azimuthal equidistant plane
centred on it, where every length below is measured (exact to well under a millimetre over
a dig's few hundred metres). For each pipe crossing the zone:

- its depth below ground where it enters and leaves the zone and its minimum and maximum
  inside, from one of these bases (`depth_basis`):
  - `z`: the geometry's Z along the pipe, below a ground line drawn between its ends
    (Z + the recorded cover depth at each end), so a pipe that sags or climbs between
    its ends is seen doing it;
  - `z_as_depth`: Z with no cover depth recorded: −Z is the depth (the layer's convention
    when a source gives only depths);
  - `end_depths`: no Z (every Z is 0): the cover depth interpolated by length between
    depth_start_m and depth_end_m;
  - `unknown`: neither (or a Z above 0 with no depth to refer it to): depths are null.
- at_risk: its top (centreline depth − DN/2) is shallower than the dig's depth_m.
- its owner, joined from the owners layer by name as of the same instant; a name with no
  owners row is reported (`owner_known` false), never dropped.

Pipe nodes (junctions, valves …) inside the zone are assets too, depth from depth_m
(else −Z). Planned assets are not in the ground and are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import shapely
from pyproj import Transformer
from shapely import LineString, Point, Polygon
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, TEXT
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import InvalidParameter, TooLarge
from layers.spec import STORAGE_SRID
from spatial_api import scenarios
from spatial_api.analysis.dig_models import DigRequest
from spatial_api.analysis.dig_section import Section, cross_section, spans
from spatial_api.analysis.geometry import CrsChoice, parse_crs, parse_geometry
from spatial_api.analysis.isolation_network import Plane
from spatial_api.analysis.sources import Selection, parse_when, select_features

MAX_ASSETS = 2_000  # pipes, and nodes
MAX_DIG_M = 10_000.0  # across: the plane stays millimetre-true, the dig a dig
Basis = Literal["z", "z_as_depth", "end_depths", "unknown"]

# Candidates by the GiST index on the zone (grown by 5 cm), exact tests in the plane.
ZONE = f"ST_GeomFromWKB(:zone, {STORAGE_SRID})"
PIPES = f"""
SELECT p.props, ST_AsBinary(p.geom) AS wkb
FROM ({{source}}) p
WHERE p.geom && {ZONE} AND ST_Intersects(p.geom, {ZONE})
  AND p.props ->> 'status' IS DISTINCT FROM 'planned'
ORDER BY p.props ->> 'asset_id'
LIMIT :most + 1
"""
NODES = f"""
SELECT n.props, ST_X(n.geom) AS x, ST_Y(n.geom) AS y, ST_Z(n.geom) AS z
FROM ({{source}}) n
WHERE n.geom && {ZONE} AND ST_Intersects(n.geom, {ZONE})
  AND n.props ->> 'status' IS DISTINCT FROM 'planned'
ORDER BY n.props ->> 'asset_id'
LIMIT :most + 1
"""
OWNERS = "{owners} WHERE t.name = ANY(:names) ORDER BY t.asset_id"


@dataclass(frozen=True)
class Profile:
    """Depth below ground along a pipe, by chainage (metres from its first vertex)."""

    s: np.ndarray  # chainage of each vertex
    z: np.ndarray
    basis: Basis
    a: float = 0.0  # ground (basis z) or depth (end_depths) at the start
    b: float = 0.0  # … and at the end

    def depth(self, at: np.ndarray) -> np.ndarray:
        at = np.asarray(at, dtype=float)
        length = self.s[-1]
        linear = self.a + (self.b - self.a) * (at / length if length > 0 else 0 * at)
        z = np.interp(at, self.s, self.z)
        if self.basis == "z":
            return linear - z
        if self.basis == "z_as_depth":
            return -z
        if self.basis == "end_depths":
            return linear
        return np.full(at.shape, np.nan)


def profile(line: LineString, z: np.ndarray, start: float | None, end: float | None) -> Profile:
    """The depth basis a pipe's data allows (see the module docstring), best first."""
    xy = shapely.get_coordinates(line)
    s = np.r_[0.0, np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]
    has_z = bool(np.isfinite(z).all() and (z != 0).any())
    start = end if start is None else start
    end = start if end is None else end
    if has_z and start is not None and end is not None:
        return Profile(s, z, "z", z[0] + start, z[-1] + end)
    if has_z:
        return Profile(s, z, "z_as_depth" if (z <= 0).all() else "unknown")
    if start is not None and end is not None:
        return Profile(s, np.zeros_like(s), "end_depths", start, end)
    return Profile(s, np.zeros_like(s), "unknown")


@dataclass(frozen=True)
class Dig:
    """The dig and its tolerance zone in the plane, and the plane itself."""

    plane: Plane
    area: Polygon
    zone: Polygon
    to_storage: Transformer | None


@dataclass(frozen=True)
class PipeInDig:
    props: dict[str, Any]
    line: LineString  # plan view in the plane
    profile: Profile
    inside: list[tuple[float, float]]  # chainage intervals inside the zone

    @property
    def basis(self) -> str:
        return self.profile.basis

    def depth(self, at: np.ndarray) -> np.ndarray:
        return self.profile.depth(at)

    def inside_depths(self) -> tuple[np.ndarray, np.ndarray]:
        """Depths at the interval ends (enter … leave) and at the vertices inside."""
        ends = np.array([x for span in self.inside for x in span])
        s = self.profile.s
        within = np.zeros(s.shape, dtype=bool)
        for a, b in self.inside:
            within |= (s > a) & (s < b)
        return self.depth(ends), self.depth(s[within])


@dataclass(frozen=True)
class NodeInDig:
    props: dict[str, Any]
    point: Point  # in the plane
    z: float | None


@dataclass(frozen=True)
class Report:
    """The whole answer, before it becomes GeoJSON, HTML or a drawing."""

    request: DigRequest
    dig: Dig
    pipes: list[PipeInDig]
    nodes: list[NodeInDig]
    owners: dict[str, dict[str, Any]]  # name → owners row, for the names found
    section: Section


async def dig_report(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: DigRequest
) -> Report:
    pipes_spec, nodes_spec, owners_spec = (
        catalog[i] for i in ("pipelines", "pipe_nodes", "owners")
    )
    principal.refuse_hidden([pipes_spec, nodes_spec, owners_spec])
    when = parse_when(req.datetime_, req.scenario)
    if when is not None and when.period:
        raise InvalidParameter("datetime: a dig report needs an instant, not an interval")
    dig = _dig(req)
    zone = shapely.to_wkb(dig.plane.inverse(np.array([dig.zone.buffer(0.05)]))[0])
    async with conn.begin():  # one snapshot: the owners as of the pipes' instant
        if req.scenario is not None:
            await scenarios.get(conn, principal, req.scenario)
        rows = await _under(conn, PIPES, select_features(pipes_spec, when, None, "p"), zone)
        node_rows = await _under(conn, NODES, select_features(nodes_spec, when, None, "n"), zone)
        if len(rows) > MAX_ASSETS or len(node_rows) > MAX_ASSETS:
            raise TooLarge(f"more than {MAX_ASSETS} assets under the dig: draw a smaller one")
        found = _pipes(dig, rows)
        placed = _nodes(dig, node_rows)
        named = [p.props.get("owner") for p in found] + [n.props.get("owner") for n in placed]
        names = sorted({str(o) for o in named if o})
        owners = await _owners(conn, select_features(owners_spec, when, None, "o"), names)
    section = cross_section(dig.area, dig.zone, _section_line(req, dig), found)
    return Report(req, dig, found, placed, owners, section)


async def _under(conn: AsyncConnection, sql: str, sel: Selection, zone: bytes) -> Sequence[Any]:
    """The rows of a layer selection under the zone (PIPES or NODES), at most MAX_ASSETS + 1."""
    query = text(sql.format(source=sel.sql)).bindparams(*sel.binds)
    return (await conn.execute(query, sel.params | {"zone": zone, "most": MAX_ASSETS})).all()


def _dig(req: DigRequest) -> Dig:
    crs = parse_crs(req.crs)
    area = parse_geometry(req.area.__geo_interface__, crs)
    to_storage = _to_storage(crs)
    lonlat = _transform(area, to_storage)
    centre = lonlat.centroid
    plane = Plane(centre.x, centre.y)
    flat = plane.forward(np.array([lonlat]))[0]
    x0, y0, x1, y1 = flat.bounds
    if not max(x1 - x0, y1 - y0) <= MAX_DIG_M:  # NaN too: a polygon half the Earth across
        raise InvalidParameter(
            f"area: a dig is at most {MAX_DIG_M / 1000:g} km across; this one is larger"
        )
    zone = flat.buffer(req.tolerance_m, quad_segs=32) if req.tolerance_m > 0 else flat
    return Dig(plane, flat, zone, to_storage)


def _to_storage(crs: CrsChoice) -> Transformer | None:
    """Request coordinates → lon/lat (CGCS2000 and WGS 84 are taken alike, as elsewhere)."""
    return None if crs.geographic else _from_projected(crs.srid)


@lru_cache(maxsize=8)
def _from_projected(srid: int) -> Transformer:
    return Transformer.from_crs(srid, STORAGE_SRID, always_xy=True)


def _transform(geom: shapely.Geometry, t: Transformer | None) -> shapely.Geometry:
    if t is None:
        return geom
    return shapely.transform(geom, lambda c: np.column_stack(t.transform(*c.T)))


def _section_line(req: DigRequest, dig: Dig) -> LineString | None:
    if req.section is None:
        return None
    line = _transform(
        parse_geometry(req.section.__geo_interface__, parse_crs(req.crs)), dig.to_storage
    )
    return dig.plane.forward(np.array([line]))[0]


def _pipes(dig: Dig, rows: Sequence[Any]) -> list[PipeInDig]:
    if not rows:
        return []
    lines3d = shapely.from_wkb(np.array([r.wkb for r in rows], dtype=object))
    flat = dig.plane.forward(shapely.force_2d(lines3d))
    out = []
    for r, g3, line in zip(rows, lines3d, flat, strict=True):
        z = shapely.get_coordinates(g3, include_z=True)[:, 2]
        prof = profile(line, z, r.props.get("depth_start_m"), r.props.get("depth_end_m"))
        inside = spans(line, dig.zone)
        if inside:
            out.append(PipeInDig(r.props, line, prof, inside))
    return out


def _nodes(dig: Dig, rows: Sequence[Any]) -> list[NodeInDig]:
    if not rows:
        return []
    pts = dig.plane.forward(shapely.points(np.array([(r.x, r.y) for r in rows])))
    return [
        NodeInDig(r.props, p, r.z) for r, p in zip(rows, pts, strict=True) if dig.zone.covers(p)
    ]


async def _owners(conn: AsyncConnection, owners: Selection, names: list[str]) -> dict[str, dict]:
    if not names:
        return {}
    sql = text(OWNERS.format(owners=owners.sql)).bindparams(
        *owners.binds, bindparam("names", type_=ARRAY(TEXT))
    )
    rows = (await conn.execute(sql, owners.params | {"names": names})).all()
    found: dict[str, dict] = {}
    for r in rows:  # two rows of one name: the first by id, as every read of the answer will
        found.setdefault(r.props["name"], r.props)
    return found
