"""Sector coverage: each sector's wedge, azimuth ± beamwidth/2 out to a radius, in metres.

A wedge is drawn in an azimuthal equidistant projection centred on its sector, so its
radius is true in every direction, then moved to the storage CRS. Omnidirectional sectors
(no azimuth, or a beamwidth of 360°) are discs; a missing beamwidth is taken as 65°, the
common panel antenna. Wedges can be dissolved per operator, technology or site, so that
overlapping sectors count once when areas are summed (an overlay with districts then gives
covered area per operator per district, and `difference` gives the gaps).

A radius per technology (model `fixed`) is a planner's first cut: terrain, clutter and
power are not considered. Every other model computes received power on a grid from each
sector's link budget (`coverage_grid`), and the answer's first feature, with no geometry,
says how: the models, thresholds, defaults assumed, sectors skipped and the flat earth.
"""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import TooLarge
from layers.query import DateTimeInterval
from spatial_api.analysis import metric
from spatial_api.analysis.answer import MAX_FEATURES, feature
from spatial_api.analysis.buffer import check_distance
from spatial_api.analysis.coverage_map import coverage_map
from spatial_api.analysis.coverage_models import CoverageRequest
from spatial_api.analysis.models import Coverage
from spatial_api.analysis.sources import (
    MAX_INPUT_FEATURES,
    Selection,
    parse_when,
    select_features,
)

ARC_STEPS = 32  # vertices along a wedge's arc
DEFAULT_BEAMWIDTH = 65.0
MAX_RADIUS_M = 50_000.0

# One wedge in AEQD metres around (0, 0); x east, y north, so a compass bearing b points
# to (r·sin b, r·cos b). Full circles have no centre vertex (it would touch the arc).
_WEDGE = f"""
(SELECT CASE WHEN w.bw >= 360 THEN ST_Buffer(ST_MakePoint(0, 0), w.r, 'quad_segs=32')
        ELSE ST_MakePolygon(ST_MakeLine(ARRAY[ST_MakePoint(0, 0)] || ARRAY(
            SELECT ST_MakePoint(w.r * sin(radians(w.az - w.bw / 2 + w.bw * i / {ARC_STEPS})),
                                w.r * cos(radians(w.az - w.bw / 2 + w.bw * i / {ARC_STEPS})))
            FROM generate_series(0, {ARC_STEPS}) AS i ORDER BY i) || ST_MakePoint(0, 0)))
        END
 FROM (SELECT coalesce((s.props ->> 'azimuth_deg')::float8, 0) AS az,
              CASE WHEN s.props ->> 'azimuth_deg' IS NULL THEN 360
                   ELSE coalesce((s.props ->> 'beamwidth_deg')::float8, {DEFAULT_BEAMWIDTH})
              END AS bw,
              coalesce((CAST(:{{p}}_radii AS jsonb) ->> (s.props ->> 'technology'))::float8,
                       :{{p}}_radius) AS r) AS w)
"""


def _check(cov: Coverage) -> None:
    check_distance("radius_m", cov.radius_m, MAX_RADIUS_M)
    for tech, radius in cov.radius_by_technology.items():
        check_distance(f"radius_by_technology.{tech}", radius, MAX_RADIUS_M)


def select_coverage(
    catalog: Catalog,
    principal: Principal,
    cov: Coverage,
    filters: dict | None,
    when: DateTimeInterval | None,
    prefix: str = "c",
) -> Selection:
    """`SELECT props, geom` of the sectors' wedges (dissolved when asked), as of `when`."""
    _check(cov)
    sectors = select_features(principal.layer(catalog, "sectors"), when, filters, prefix)
    proj = metric.aeqd("s.geom")
    wedge = _WEDGE.replace("{p}", prefix)
    wedges = (
        f"SELECT s.props, ST_Transform({wedge}, {proj}, {sectors.spec.storage_srid}) "
        f"AS geom FROM ({sectors.sql}) s"
    )
    params = sectors.params | {
        f"{prefix}_radius": cov.radius_m,
        f"{prefix}_radii": json.dumps(cov.radius_by_technology),
    }
    if cov.dissolve_by is None:
        sql = wedges
    elif cov.dissolve_by == "all":
        sql = (
            f"SELECT jsonb_build_object('sectors', count(*)) AS props, "
            f"ST_Union(w.geom) AS geom FROM ({wedges}) w"
        )
    else:
        key = cov.dissolve_by
        sql = (
            f"SELECT jsonb_build_object('{key}', w.props -> '{key}', 'sectors', count(*)) "
            f"AS props, ST_Union(w.geom) AS geom FROM ({wedges}) w "
            f"GROUP BY w.props -> '{key}'"
        )
    return Selection(sectors.spec, sql, params, sectors.binds, inputs=sectors.sql)


async def check_inputs(conn: AsyncConnection, sel: Selection) -> None:
    """Refuse (413) more input features than MAX_INPUT_FEATURES, before any work on them."""
    sql = f"SELECT count(*) FROM ({sel.inputs or sel.sql} LIMIT {MAX_INPUT_FEATURES + 1}) s"
    n = (await conn.execute(text(sql).bindparams(*sel.binds), sel.params)).scalar_one()
    if n > MAX_INPUT_FEATURES:
        raise TooLarge(f"more than {MAX_INPUT_FEATURES} sectors: add a filter")


async def coverage(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: CoverageRequest
) -> tuple[list[dict], bool]:
    """Coverage polygons with area_m2, largest first; sectors are public, so never restricted."""
    if req.model != "fixed":
        return await coverage_map(conn, catalog, principal, req), False
    return await fixed_coverage(conn, catalog, principal, req)


async def fixed_coverage(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: CoverageRequest
) -> tuple[list[dict], bool]:
    """Today's wedges, a radius per technology."""
    sel = select_coverage(
        catalog, principal, req, req.filter, parse_when(req.datetime_, req.scenario)
    )
    await check_inputs(conn, sel)
    sql = (
        f"SELECT c.props, {metric.area_m2('c.geom')} AS area_m2, "
        f"{metric.geojson('c.geom')} AS g FROM ({sel.sql}) c "
        f"WHERE c.geom IS NOT NULL ORDER BY area_m2 DESC LIMIT {MAX_FEATURES + 1}"
    )
    rows = (await conn.execute(text(sql).bindparams(*sel.binds), sel.params)).all()
    if len(rows) > MAX_FEATURES:
        raise TooLarge(f"more than {MAX_FEATURES} wedges: filter the sectors or dissolve_by")
    features = [
        feature(i, r.g, dict(r.props) | {"area_m2": r.area_m2}) for i, r in enumerate(rows, 1)
    ]
    return features, sel.spec.access == "restricted"
