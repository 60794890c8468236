"""`POST /analysis/site-sharing` (统建共用): sites of different operators that could share one
structure, the host proposed for each cluster, the towers saved, and today's shared sites.

- **Clusters.** PostGIS clusters the sites that carry sectors (`ST_ClusterDBSCAN`, eps =
  `max_distance_m`, two points make a cluster: single linkage) in the data's CGCS2000 3°
  Gauss-Krüger zone. Its scale is within 4·10⁻⁴ of true there, so eps is widened by 0.1 %
  and every distance the answer uses is the geodesic one (`ST_Distance` on geography).
  Indoor systems, small cells, decommissioned sites and sites without sectors take no part.
- **Host, tenants, towers saved**: `site_sharing_plan` (each tenant site is a structure
  freed).
- **Coverage change and the scenario**: `site_sharing_moves`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import TooLarge
from layers.query import DateTimeInterval
from spatial_api.analysis.answer import MAX_FEATURES, feature
from spatial_api.analysis.coverage_grid import metric_epsg
from spatial_api.analysis.geometry import parse_crs, parse_geometry, sql_geometry
from spatial_api.analysis.models import GeometryInput
from spatial_api.analysis.site_sharing_models import SiteSharingRequest
from spatial_api.analysis.site_sharing_moves import consequences
from spatial_api.analysis.site_sharing_plan import RULE, Group, Site, plan
from spatial_api.analysis.sources import MAX_INPUT_FEATURES, Selection, parse_when, select_features

EPS_MARGIN = 1.001  # Gauss-Krüger scale ≤ 1.0004 in a 3° zone: no pair within d is split


def area_clause(area: GeometryInput | None, column: str) -> tuple[str, dict[str, Any]]:
    """`AND ST_Intersects(column, polygon)` for an optional drawn polygon, and its binds."""
    if area is None:
        return "", {}
    crs = parse_crs(area.crs, "area.crs")
    expr, params = sql_geometry(parse_geometry(area.geometry, crs), crs, "area")
    return f" AND ST_Intersects({column}, {expr})", params


# Per site id: the operators of its sectors and how many sectors each has there.
_OPS = """
SELECT site_id, array_agg(operator ORDER BY operator) AS operators,
       jsonb_object_agg(operator, n) AS sectors
FROM (SELECT s.props ->> 'site_id' AS site_id, s.props ->> 'operator' AS operator, count(*) AS n
      FROM ({sectors}) s GROUP BY 1, 2) o
GROUP BY site_id
"""

# The sites that carry sectors, clustered; per site the distances to the other sites of
# its cluster. {sites}, {sectors}: the layers' selections; {area}: an optional filter.
_CLUSTERS = (
    """
WITH ops AS ("""
    + _OPS
    + """), site AS (
    SELECT b.props ->> 'asset_id' AS id, b.props, b.geom, o.operators, o.sectors
    FROM ({sites}) b JOIN ops o ON o.site_id = b.props ->> 'asset_id'
    WHERE coalesce(b.props ->> 'structure', '') NOT IN ('indoor', 'small_cell')
      AND coalesce(b.props ->> 'status', '') <> 'decommissioned'{area}
), clustered AS (
    SELECT * FROM (
        SELECT site.*, ST_ClusterDBSCAN(ST_Transform(geom, :srid), eps := :eps, minpoints := 2)
                       OVER () AS component
        FROM site) c
    WHERE component IS NOT NULL
)
SELECT a.id, a.props, a.operators, a.sectors, ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat,
       a.component,
       (SELECT jsonb_object_agg(b.id, ST_Distance(a.geom::geography, b.geom::geography))
        FROM clustered b WHERE b.component = a.component AND b.id <> a.id) AS distances
FROM clustered a
ORDER BY a.id
LIMIT {limit}
"""
)

# Sites whose sectors belong to several operators today: the shared sites and tenants.
_SHARED = (
    """
WITH ops AS ("""
    + _OPS
    + """)
SELECT b.props, ST_X(b.geom) AS lon, ST_Y(b.geom) AS lat, o.operators, o.sectors
FROM ({sites}) b JOIN ops o ON o.site_id = b.props ->> 'asset_id'
WHERE cardinality(o.operators) >= 2{area}
ORDER BY b.props ->> 'asset_id'
LIMIT {limit}
"""
)


@dataclass(frozen=True)
class Inputs:
    sites: Selection
    sectors: Selection
    area_sql: str
    params: dict[str, Any]

    @property
    def binds(self) -> tuple[Any, ...]:
        return self.sites.binds + self.sectors.binds


def inputs(
    catalog: Catalog, principal: Principal, req: SiteSharingRequest, when: DateTimeInterval | None
) -> Inputs:
    sites = select_features(principal.layer(catalog, "base_stations"), when, None, "b")
    sectors = select_features(principal.layer(catalog, "sectors"), when, None, "s")
    area_sql, area_params = area_clause(req.area, "b.geom")
    return Inputs(sites, sectors, area_sql, sites.params | sectors.params | area_params)


async def metric_zone(conn: AsyncConnection, sel: Selection) -> int:
    lon = (
        await conn.execute(
            text(f"SELECT avg(ST_X(t.geom)) FROM ({sel.sql}) t").bindparams(*sel.binds),
            sel.params,
        )
    ).scalar_one()
    return metric_epsg(float(lon)) if lon is not None else 4549


async def clustered_sites(
    conn: AsyncConnection, got: Inputs, req: SiteSharingRequest
) -> tuple[list[Site], int]:
    """Every site in a DBSCAN cluster, and the metric CRS the grid will use."""
    epsg = await metric_zone(conn, got.sites)
    sql = _CLUSTERS.format(
        sites=got.sites.sql,
        sectors=got.sectors.sql,
        area=got.area_sql,
        limit=MAX_INPUT_FEATURES + 1,
    )
    params = got.params | {"srid": epsg, "eps": req.max_distance_m * EPS_MARGIN}
    rows = (await conn.execute(text(sql).bindparams(*got.binds), params)).all()
    if len(rows) > MAX_INPUT_FEATURES:
        raise TooLarge(f"more than {MAX_INPUT_FEATURES} sites in clusters: give an area")
    sites = [
        Site(
            r.props["asset_id"],
            r.props,
            tuple(r.operators),
            dict(r.sectors),
            r.lon,
            r.lat,
            r.component,
            {k: float(v) for k, v in (r.distances or {}).items()},
        )
        for r in rows
    ]
    return sites, epsg


async def shared_sites(conn: AsyncConnection, got: Inputs) -> list[dict]:
    """Today's shared sites as features: the operators (tenants) and their sectors."""
    sql = _SHARED.format(
        sites=got.sites.sql, sectors=got.sectors.sql, area=got.area_sql, limit=MAX_FEATURES + 1
    )
    rows = (await conn.execute(text(sql).bindparams(*got.binds), got.params)).all()
    if len(rows) > MAX_FEATURES:
        raise TooLarge(f"more than {MAX_FEATURES} shared sites: give an area")
    out = []
    for r in rows:
        site = Site(r.props["asset_id"], r.props, tuple(r.operators), dict(r.sectors), 0, 0, 0, {})
        props = {"role": "shared_site"} | site.summary() | {"sectors": site.sectors}
        props["tenants"] = len(site.operators)
        out.append(feature(None, {"type": "Point", "coordinates": [r.lon, r.lat]}, props))
    return out


def pairs(group: Group) -> list[dict[str, Any]]:
    """Geodesic distance of every pair of the group's sites, in metres."""
    m = group.members
    return [
        {"a": a.asset_id, "b": b.asset_id, "distance_m": round(a.distances[b.asset_id], 2)}
        for i, a in enumerate(m)
        for b in m[i + 1 :]
    ]


def cluster_feature(group: Group, capacity: int, extra: dict[str, Any]) -> dict:
    """The moves (host to each tenant) as lines, and everything a planner decides on."""
    host = group.host
    freed: dict[str, int] = defaultdict(int)
    for t in group.tenants:
        freed[t.site.structure or "unknown"] += 1
    props = {
        "role": "cluster",
        "host": host.summary() | {"capacity": capacity},
        "tenants": [
            t.site.summary() | {"distance_m": round(t.distance_m, 2), "platform_m": t.platform_m}
            for t in group.tenants
        ],
        "operators": sorted({o for s in group.members for o in s.operators}),
        "distances": pairs(group),
        "towers_saved": len(group.tenants),
        "structures_freed": dict(freed),
    } | extra
    lines = [[[t.site.lon, t.site.lat], [host.lon, host.lat]] for t in group.tenants]
    return feature(None, {"type": "MultiLineString", "coordinates": lines}, props)


async def site_sharing(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: SiteSharingRequest
) -> tuple[list[dict], bool]:
    when = parse_when(req.datetime_, req.scenario)
    got = inputs(catalog, principal, req, when)
    sites, epsg = await clustered_sites(conn, got, req)
    groups = plan(sites, req)
    truncated = len(groups) > req.limit
    groups = groups[: req.limit]
    extras, notes = await consequences(conn, catalog, principal, req, when, groups, epsg)
    features = [
        cluster_feature(g, req.capacity.get(g.host.structure or "", 0), extra)
        for g, extra in zip(groups, extras, strict=True)
    ]
    shared = await shared_sites(conn, got) if req.shared_sites else []
    head = {
        "role": "summary",
        "max_distance_m": req.max_distance_m,
        "sites_in_clusters": len(sites),
        "clusters": len(groups),
        "truncated_at_limit": truncated,
        "towers_saved": sum(len(g.tenants) for g in groups),
        "shared_sites_today": len(shared) if req.shared_sites else None,
        "rule": RULE,
        "capacity": req.capacity,
        "clustering": f"ST_ClusterDBSCAN in EPSG:{epsg}, eps {req.max_distance_m:g} m "
        "(+0.1 %), distances geodesic",
    } | notes
    out = [feature(0, None, head)] + features + shared
    for i, f in enumerate(out[1:], 1):
        f["id"] = i
    return out, False
