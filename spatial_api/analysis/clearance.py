"""Clearances between buried pipes: side by side and where they cross, wall to wall.

For each pair of pipes whose centrelines come within `search_m` of each other (among the
pipes in a dig area, or between a planned pipe and those in the ground), at the closest
points of their plan-view centrelines:

- horizontal clearance = centreline distance − (d₁ + d₂)/2, measured in an azimuthal
  equidistant projection centred where the pair is closest (millimetre-true at these
  ranges; PostGIS geography returned 0 m for parallel lines 0.3 m apart);
- vertical clearance = |z₁ − z₂| − (d₁ + d₂)/2, with each z interpolated along its own 3D
  line at that point (Z is the layer's vertical reference; depths are negative Z).

Where the plan views cross, the vertical clearance is what counts, else the horizontal one;
a pair below its required value is a violation. The required value is the pair's own
(`clearance_table`: the request's overrides, the project's, GB 50289-2016's), or the
request's fallback where none holds one. A planned pipe may slope: its Z is interpolated
between its ends by length along it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from pyproj import Geod
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import InvalidParameter, TooLarge
from spatial_api.analysis import metric
from spatial_api.analysis.answer import MAX_FEATURES, feature
from spatial_api.analysis.buffer import check_distance
from spatial_api.analysis.clearance_table import (
    ClearanceRule,
    Kind,
    Required,
    gb50289,
    required,
    side,
)
from spatial_api.analysis.geometry import CrsChoice, parse_crs, parse_geometry, sql_geometry
from spatial_api.analysis.models import ClearanceRequest, PlannedPipe
from spatial_api.analysis.sources import parse_when, select_features

MAX_PIPES = 20_000
GEOD = Geod(ellps="GRS80")
# z of a 3D line at the point of its plan view nearest another line.
_Z = (
    "ST_Z(ST_LineInterpolatePoint({g}, ST_LineLocatePoint(ST_Force2D({g}), "
    "ST_ClosestPoint(ST_Force2D({g}), ST_Force2D({o})))))"
)
PAIRS = f"""
WITH p AS MATERIALIZED ({{pipes}}),
pairs AS (
  SELECT a.props AS ap, b.props AS bp, a.geom AS ag, b.geom AS bg,
         COALESCE((a.props ->> 'diameter_mm')::float8, 0) / 1000
           + COALESCE((b.props ->> 'diameter_mm')::float8, 0) / 1000 AS dsum_m
  FROM p a JOIN p b ON a.props ->> 'asset_id' < b.props ->> 'asset_id'
   AND ST_DWithin(a.geom::geography, b.geom::geography, :search)
  WHERE {{only_planned}})
SELECT ap, bp,
       ST_Distance(ST_Transform(ST_Force2D(ag), {{proj}}), ST_Transform(ST_Force2D(bg), {{proj}}))
         - dsum_m / 2 AS horizontal_m,
       abs({_Z.format(g="ag", o="bg")} - {_Z.format(g="bg", o="ag")}) - dsum_m / 2
         AS vertical_m,
       ST_Intersects(ST_Force2D(ag), ST_Force2D(bg)) AS crossing,
       ST_AsGeoJSON(ST_Transform(ST_ShortestLine(ST_Force2D(ag), ST_Force2D(bg)), 4326), 9)::jsonb
         AS g
FROM pairs
ORDER BY ap ->> 'asset_id', bp ->> 'asset_id'
LIMIT {MAX_FEATURES + 1}
"""


def planned_line(planned: PlannedPipe, crs: CrsChoice) -> shapely.LineString:
    """The planned pipe in 3D: Z per vertex, from the coordinates or between its two ends."""
    line = parse_geometry(planned.geometry, crs)
    if line.geom_type != "LineString":
        raise InvalidParameter("planned.geometry: expected a LineString")
    xy = shapely.get_coordinates(line)
    if planned.z_m is not None:
        z = np.full(len(xy), planned.z_m)
    elif planned.z_start_m is not None and planned.z_end_m is not None:
        z = _along(xy, crs, planned.z_start_m, planned.z_end_m)
    elif planned.depth_start_m is not None and planned.depth_end_m is not None:
        z = _along(xy, crs, -planned.depth_start_m, -planned.depth_end_m)
    else:  # the model checked that every coordinate has Z
        z = np.array([c[2] for c in planned.geometry["coordinates"]], dtype=float)
        if not np.isfinite(z).all():
            raise InvalidParameter("planned.geometry: Z must be finite numbers")
    return shapely.LineString(np.column_stack([xy, z]))


def _along(xy: np.ndarray, crs: CrsChoice, z0: float, z1: float) -> np.ndarray:
    """Z at each vertex, linear in the length along the line (geodesic on lon/lat)."""
    if crs.geographic:
        steps = np.array([GEOD.inv(*a, *b)[2] for a, b in zip(xy[:-1], xy[1:], strict=True)])
    else:
        steps = np.hypot(*np.diff(xy, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(steps)])
    return z0 + (z1 - z0) * s / s[-1]


async def clearance(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    req: ClearanceRequest,
    project: Sequence[ClearanceRule] = (),
) -> tuple[list[dict], bool]:
    """Close pairs, each judged against its own required value (`project`: a project's
    overrides, below the request's and above GB 50289-2016's)."""
    check_distance("search_m", req.search_m, 50)
    crs = parse_crs(req.crs)
    pipes = select_features(
        principal.layer(catalog, "pipelines"), parse_when(req.datetime_, req.scenario), None, "p"
    )
    params = pipes.params | {"search": req.search_m}
    if req.area is not None:
        area = parse_geometry(req.area, crs)
        if area.geom_type not in ("Polygon", "MultiPolygon"):
            raise InvalidParameter("area: expected a Polygon or MultiPolygon (the dig)")
        expr, gp = sql_geometry(area, crs, "area")
        source = f"SELECT * FROM ({pipes.sql}) s WHERE ST_Intersects(s.geom, {expr})"
        only_planned = "TRUE"
    else:
        assert req.planned is not None
        expr, gp = sql_geometry(planned_line(req.planned, crs), crs, "plan")
        planned = (
            "SELECT jsonb_build_object('asset_id', '(planned)', 'utility', "
            "CAST(:plan_utility AS text), 'diameter_mm', CAST(:plan_d AS float8), "
            "'pressure_class', CAST(:plan_pc AS text)) AS props, "
            f"{expr} AS geom"
        )
        # Candidates by box first (the GiST index), then the exact geodesic test in PAIRS.
        lat = f"least(89.0, greatest(abs(ST_YMin({expr})), abs(ST_YMax({expr}))) + 0.01)"
        box = (
            f"ST_Expand({expr}, :search * 1.01 / (111320.0 * cos(radians({lat}))), "
            f":search * 1.01 / 110574.0)"
        )
        source = f"SELECT * FROM ({pipes.sql}) s WHERE s.geom && {box} UNION ALL {planned}"
        only_planned = "'(planned)' IN (a.props ->> 'asset_id', b.props ->> 'asset_id')"
        gp |= {
            "plan_utility": req.planned.utility,
            "plan_d": req.planned.diameter_mm,
            "plan_pc": req.planned.pressure_class,
        }
    params |= gp
    n = (
        await conn.execute(
            text(f"SELECT count(*) FROM ({source} LIMIT {MAX_PIPES + 1}) x").bindparams(
                *pipes.binds
            ),
            params,
        )
    ).scalar_one()
    if n > MAX_PIPES:
        raise TooLarge(f"more than {MAX_PIPES} pipes in the area: draw a smaller one")
    proj = metric.aeqd("ST_ClosestPoint(ST_Force2D(ag), ST_Force2D(bg))")
    rows = (
        await conn.execute(
            text(PAIRS.format(pipes=source, only_planned=only_planned, proj=proj)).bindparams(
                *pipes.binds
            ),
            params,
        )
    ).all()
    if len(rows) > MAX_FEATURES:
        raise TooLarge(f"more than {MAX_FEATURES} close pairs: draw a smaller area")
    sources = (tuple(req.clearances), tuple(project), gb50289())
    memo: dict[tuple, Required] = {}
    features = []
    for i, r in enumerate(rows, 1):
        kind: Kind = "vertical" if r.crossing else "horizontal"
        measured = r.vertical_m if r.crossing else r.horizontal_m
        a, b = side(r.ap), side(r.bp)
        if (key := (kind, a, b)) not in memo:
            fallback = f"fallback_{kind}_m"
            memo[key] = required(kind, a, b, sources, getattr(req, fallback), fallback)
        need = memo[key]
        features.append(
            feature(
                i,
                r.g,
                {
                    "a": r.ap["asset_id"],
                    "b": r.bp["asset_id"],
                    "a_utility": a.utility,
                    "b_utility": b.utility,
                    "a_case": need.a_case,
                    "b_case": need.b_case,
                    "crossing": r.crossing,
                    "kind": kind,
                    "horizontal_m": r.horizontal_m,
                    "vertical_m": r.vertical_m,
                    "measured_m": measured,
                    "required_m": need.min_m,
                    "source": need.source,
                    "clause": need.clause,
                    "edition": need.edition,
                    "note": need.note,
                    "violation": measured is not None and measured < need.min_m,
                },
            )
        )
    return features, True
