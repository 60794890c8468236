"""`POST /analysis/siting-check`: spacing between one operator's sites, antenna heights, and
EMF at sensitive buildings; the same rules warn on every sector or site edit in a scenario.

**EMF** (GB 8702-2014 电磁环境控制限值, Table 1, public exposure): the far-field power density
S = EIRP / (4π d²) of each sector within `emf.radius_m` of a school, kindergarten or
hospital (protected_targets), against 0.4 W/m² for 30–3000 MHz, f/7500 W/m² (f in MHz)
for 3–15 GHz and 2 W/m² for 15–300 GHz, times `emf.limit_fraction`. Sources at several
frequencies add as exposure ratios, Σ Sᵢ/Lᵢ ≤ 1. Each sector's compliance distance is
where its S meets its limit, √(EIRP / (4π L)). The assumptions are all conservative:

- **Power.** EIRP = P_total + antenna_gain_dbi − feeder_loss_db, where P_total is
  power_dbm raised to the carrier's total power (`emf.full_power_offset_db`): the
  catalog's power_dbm is per resource element for LTE and NR (see siting_models), and
  EMF comes from every subcarrier at once. Full load, no time averaging or actual-maximum
  power reduction (IEC 62232 would allow both for massive MIMO).
- **Direction.** Every building is taken in the main beam (boresight gain, whatever the
  azimuth and tilt), at the antenna's own height (d is the horizontal geodesic distance: a
  floor as high as the antenna), and closer than 1 m counts as 1 m. The far-field formula
  overestimates in the near field, so it stays on the safe side there too.
- Missing gain takes coverage_budget's default (15 dBi), missing feeder loss 0 dB; a
  sector without power or frequency, or outside 30 MHz–300 GHz, is listed, not computed.

**Spacing**: two sites of one operator (its sectors' site_id; at the base station's point,
or its sectors' centroid when the site is not in base_stations) closer than
`min_spacing_m`, geodesic. **Height**: antenna_height_m outside the limits.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog, LayerSpec
from layers.access import Principal
from layers.errors import TooLarge
from layers.query import DateTimeInterval
from layers.tables import SCHEMA
from spatial_api.analysis import metric
from spatial_api.analysis.answer import MAX_FEATURES, feature
from spatial_api.analysis.coverage_budget import DEFAULTS
from spatial_api.analysis.site_sharing import EPS_MARGIN, area_clause, metric_zone
from spatial_api.analysis.siting_models import SitingRequest
from spatial_api.analysis.sources import Selection, parse_when, select_features

STANDARD = "GB 8702-2014 Table 1, public exposure, power density"
MIN_DISTANCE_M = 1.0
MAX_WARNINGS_HEADER = 4000  # characters of warnings a 204 carries in its header


def limit_w_m2(f_mhz: float) -> float | None:
    """GB 8702-2014 public power-density limit at f (None outside 30 MHz–300 GHz)."""
    if 30 <= f_mhz < 3000:
        return 0.4
    if 3000 <= f_mhz <= 15000:
        return f_mhz / 7500
    if 15000 < f_mhz <= 300_000:
        return 2.0
    return None


def watts(dbm: float) -> float:
    return 10 ** ((dbm - 30) / 10)


def power_density_w_m2(eirp_w: float, distance_m: float) -> float:
    """Far field, isotropic spreading: S = EIRP / (4π d²)."""
    return eirp_w / (4 * math.pi * distance_m**2)


def compliance_distance_m(eirp_w: float, limit: float) -> float:
    """Where S = EIRP / (4π d²) falls to the limit."""
    return math.sqrt(eirp_w / (4 * math.pi * limit))


def _scope(
    spec: LayerSpec, req: SitingRequest, when: DateTimeInterval | None
) -> tuple[str, dict[str, Any], tuple[Any, ...]]:
    """The sectors the request asks about: its filter, ids, sites and area."""
    sel = select_features(spec, when, req.filter, "q")
    named, params = [], dict(sel.params)
    if req.sectors is not None:
        named.append("q.props ->> 'asset_id' = ANY(:scope_sectors)")
        params["scope_sectors"] = req.sectors
    if req.sites is not None:
        named.append("q.props ->> 'site_id' = ANY(:scope_sites)")
        params["scope_sites"] = req.sites
    where = f" AND ({' OR '.join(named)})" if named else ""
    area_sql, area_params = area_clause(req.area, "q.geom")
    sql = f"SELECT q.props, q.geom FROM ({sel.sql}) q WHERE true{where}{area_sql}"
    return sql, params | area_params, sel.binds


# Pairs of one operator's sites closer than :spacing, one of them in scope: candidates from
# DBSCAN per operator (its tree, not a pairwise scan), then the geodesic test. Each layer's
# selection is read once (MATERIALIZED: a scenario's overlay must not be re-run per row).
REACH_SLACK_DEG = 0.005  # ~500 m: sectors drawn apart from their site's point
_SPACING = """
WITH scope AS MATERIALIZED ({scope}),
mine AS (SELECT DISTINCT props ->> 'operator' AS op, props ->> 'site_id' AS site FROM scope),
-- Only sites that can lie within :spacing of the scope's: an edit checks its street, not
-- the city (0.75 s a scenario edit on 9,207 sectors before).
reach AS (SELECT ST_Expand(ST_Extent(geom), :reach_deg) AS box FROM scope),
sec AS MATERIALIZED (
    SELECT r.props ->> 'operator' AS op, r.props ->> 'site_id' AS site,
           ST_Centroid(ST_Collect(r.geom)) AS g
    FROM ({sectors}) r, reach WHERE r.geom && reach.box GROUP BY 1, 2
),
bs AS MATERIALIZED (
    SELECT b.props ->> 'asset_id' AS site, b.geom FROM ({sites}) b, reach
    WHERE b.geom && reach.box
),
site AS MATERIALIZED (
    SELECT c.*, ST_ClusterDBSCAN(ST_Transform(c.geom, :srid), eps := :eps, minpoints := 2)
                OVER (PARTITION BY c.op) AS component
    FROM (SELECT sec.op, sec.site, coalesce(bs.geom, sec.g) AS geom
          FROM sec LEFT JOIN bs ON bs.site = sec.site) c
),
pair AS (
    SELECT DISTINCT least(a.site, b.site) AS a, greatest(a.site, b.site) AS b, a.op
    FROM site a JOIN mine m ON m.op = a.op AND m.site = a.site
    JOIN site b ON b.op = a.op AND b.component = a.component AND b.site <> a.site
)
SELECT p.op, p.a, p.b, ST_Distance(x.geom::geography, y.geom::geography) AS d,
       {line} AS line
FROM pair p JOIN site x ON x.op = p.op AND x.site = p.a JOIN site y ON y.op = p.op AND y.site = p.b
WHERE ST_Distance(x.geom::geography, y.geom::geography) < :spacing
ORDER BY d, p.a, p.b
LIMIT {limit}
"""

_HEIGHT = """
SELECT q.props, {point} AS g FROM ({scope}) q
WHERE (q.props ->> 'antenna_height_m')::float8 NOT BETWEEN :hmin AND :hmax
ORDER BY q.props ->> 'asset_id'
LIMIT {limit}
"""

# Sensitive buildings near a sector in scope, each with every sector near it.
_EMF = """
WITH scope AS MATERIALIZED ({scope}),
ids AS (SELECT DISTINCT props ->> 'asset_id' AS id FROM scope),
target AS MATERIALIZED (
    SELECT t.props ->> 'asset_id' AS id, t.props, t.geom FROM ({targets}) t
    WHERE t.props ->> 'kind' = ANY(:kinds) AND EXISTS (
        SELECT 1 FROM scope s WHERE s.geom && {box}
        AND ST_DWithin(s.geom::geography, t.geom::geography, :radius))
),
sector AS MATERIALIZED (SELECT s.props, s.geom FROM ({sectors}) s)
SELECT t.id, t.props, ST_X(t.geom) AS lon, ST_Y(t.geom) AS lat,
       jsonb_agg(jsonb_build_object(
           'props', s.props,
           'distance_m', ST_Distance(s.geom::geography, t.geom::geography),
           'in_scope', ids.id IS NOT NULL) ORDER BY s.props ->> 'asset_id') AS sectors
FROM target t
JOIN sector s ON s.geom && {box} AND ST_DWithin(s.geom::geography, t.geom::geography, :radius)
LEFT JOIN ids ON ids.id = s.props ->> 'asset_id'
GROUP BY t.id, t.props, t.geom
ORDER BY t.id
LIMIT {limit}
"""


def _contribution(c: dict[str, Any], req: SitingRequest) -> dict[str, Any] | str:
    """One sector's exposure at the building, or why it cannot be computed."""
    p = c["props"]
    f, power = p.get("frequency_mhz"), p.get("power_dbm")
    if f is None or power is None:
        return "no power_dbm or frequency_mhz"
    limit = limit_w_m2(float(f))
    if limit is None:
        return "frequency outside GB 8702-2014's 30 MHz–300 GHz power-density rows"
    limit *= req.emf.limit_fraction
    gain = p.get("antenna_gain_dbi")
    gain = DEFAULTS["antenna_gain_dbi"] if gain is None else float(gain)
    feeder = float(p.get("feeder_loss_db") or 0.0)
    total_dbm = float(power) + req.emf.full_power_offset_db.get(p.get("technology"), 0.0)
    eirp = watts(total_dbm + gain - feeder)
    d = max(float(c["distance_m"]), MIN_DISTANCE_M)
    s = power_density_w_m2(eirp, d)
    return {
        "asset_id": p["asset_id"],
        "operator": p.get("operator"),
        "technology": p.get("technology"),
        "frequency_mhz": f,
        "in_scope": c["in_scope"],
        "total_power_dbm": round(total_dbm, 2),
        "eirp_w": round(eirp, 3),
        "distance_m": round(float(c["distance_m"]), 2),
        "power_density_w_m2": s,
        "limit_w_m2": limit,
        "ratio": s / limit,
        "compliance_distance_m": round(compliance_distance_m(eirp, limit), 2),
    }


def emf_feature(row: Any, req: SitingRequest) -> dict:
    found = [_contribution(c, req) for c in row.sectors]
    parts = sorted((c for c in found if isinstance(c, dict)), key=lambda c: -c["ratio"])
    skipped = sorted({c for c in found if isinstance(c, str)})
    ratio = sum(c["ratio"] for c in parts)
    top = parts[0] if parts else None
    name = row.props.get("name") or row.id
    message = f"{name} ({row.props.get('kind')}): {ratio:.0%} of the limit"
    if top is not None:
        message += (
            f"; sector {top['asset_id']} {top['distance_m']:.1f} m away meets it from "
            f"{top['compliance_distance_m']:.1f} m"
        )
    props = {
        "rule": "emf",
        "violation": ratio > 1,
        "target": row.id,
        "name": row.props.get("name"),
        "kind": row.props.get("kind"),
        "exposure_ratio": ratio,
        "power_density_w_m2": sum(c["power_density_w_m2"] for c in parts),
        "compliance_distance_m": top["compliance_distance_m"] if top else None,
        "sectors": parts,
        "not_computed": skipped,
        "message": message,
    }
    return feature(None, {"type": "Point", "coordinates": [row.lon, row.lat]}, props)


async def _rows(conn: AsyncConnection, sql: str, params: dict, binds: tuple) -> list[Any]:
    rows = list((await conn.execute(text(sql).bindparams(*binds), params)).all())
    if len(rows) > MAX_FEATURES:
        raise TooLarge(f"more than {MAX_FEATURES} findings: narrow the sectors or the area")
    return rows


@dataclass(frozen=True)
class Inputs:
    """The scope's SQL and the layers' selections, with every bind they need."""

    scope: str
    sectors: Selection
    sites: Selection
    targets: Selection
    params: dict[str, Any]
    binds: tuple[Any, ...]


async def _spacing(conn: AsyncConnection, got: Inputs, req: SitingRequest) -> list[dict]:
    if req.min_spacing_m <= 0:
        return []
    sql = _SPACING.format(
        scope=got.scope,
        sectors=got.sectors.sql,
        sites=got.sites.sql,
        line=metric.geojson("ST_MakeLine(x.geom, y.geom)"),
        limit=MAX_FEATURES + 1,
    )
    srid = await metric_zone(conn, got.sites)
    params = got.params | {
        "spacing": req.min_spacing_m,
        "srid": srid,
        "eps": req.min_spacing_m * EPS_MARGIN,
        # Degrees of longitude at 60° latitude, plus a site's sectors' spread around it.
        "reach_deg": 2 * req.min_spacing_m * EPS_MARGIN / 111_320 + REACH_SLACK_DEG,
    }
    out = []
    for r in await _rows(conn, sql, params, got.binds):
        props = {"rule": "spacing", "violation": True, "operator": r.op, "site_a": r.a}
        props |= {"site_b": r.b, "distance_m": round(r.d, 2), "min_spacing_m": req.min_spacing_m}
        props["message"] = (
            f"{r.op} sites {r.a} and {r.b} are {r.d:.1f} m apart, less than {req.min_spacing_m:g} m"
        )
        out.append(feature(None, r.line, props))
    return out


async def _heights(conn: AsyncConnection, got: Inputs, req: SitingRequest) -> list[dict]:
    sql = _HEIGHT.format(scope=got.scope, point=metric.geojson("q.geom"), limit=MAX_FEATURES + 1)
    lo, hi = req.min_antenna_height_m, req.max_antenna_height_m
    out = []
    for r in await _rows(conn, sql, got.params | {"hmin": lo, "hmax": hi}, got.binds):
        sector, h = r.props["asset_id"], r.props["antenna_height_m"]
        props = {"rule": "height", "violation": True, "sector": sector}
        props |= {k: r.props.get(k) for k in ("site_id", "operator", "antenna_height_m")}
        props["limits_m"] = [lo, hi]
        props["message"] = f"sector {sector}: antenna at {h:g} m, outside {lo:g}–{hi:g} m"
        out.append(feature(None, r.g, props))
    return out


async def _emf(conn: AsyncConnection, got: Inputs, req: SitingRequest) -> list[dict]:
    sql = _EMF.format(
        scope=got.scope,
        sectors=got.sectors.sql,
        targets=got.targets.sql,
        box=metric.search_box("t.geom", ":radius"),
        limit=MAX_FEATURES + 1,
    )
    params = got.params | {"kinds": req.emf.kinds, "radius": req.emf.radius_m}
    buildings = [emf_feature(r, req) for r in await _rows(conn, sql, params, got.binds)]
    return sorted(buildings, key=lambda f: -f["properties"]["exposure_ratio"])


def inputs(catalog: Catalog, principal: Principal, req: SitingRequest) -> Inputs:
    when = parse_when(req.datetime_, req.scenario)
    sectors_spec = principal.layer(catalog, "sectors")
    scope, params, binds = _scope(sectors_spec, req, when)
    sectors = select_features(sectors_spec, when, None, "r")
    sites = select_features(principal.layer(catalog, "base_stations"), when, None, "b")
    targets = select_features(principal.layer(catalog, "protected_targets"), when, None, "t")
    params |= sectors.params | sites.params | targets.params
    binds += sectors.binds + sites.binds + targets.binds
    return Inputs(scope, sectors, sites, targets, params, binds)


async def siting_check(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: SitingRequest
) -> tuple[list[dict], bool]:
    """Summary, then spacing pairs (lines), heights (points), EMF per sensitive building."""
    got = inputs(catalog, principal, req)
    found = await _spacing(conn, got, req) + await _heights(conn, got, req)
    buildings = await _emf(conn, got, req)
    found += buildings
    count_sql = f"SELECT count(*) FROM ({got.scope}) s"
    count = (await conn.execute(text(count_sql).bindparams(*got.binds), got.params)).scalar_one()
    rules = ("min_spacing_m", "min_antenna_height_m", "max_antenna_height_m", "emf")
    head = {
        "role": "summary",
        "sectors_checked": count,
        "violations": {
            rule: sum(
                1 for f in found if f["properties"]["rule"] == rule and f["properties"]["violation"]
            )
            for rule in ("spacing", "height", "emf")
        },
        "sensitive_buildings": len(buildings),
        "rules": req.model_dump(include=set(rules)),
        "emf_standard": STANDARD,
        "emf_method": "far field S = EIRP/(4π d²), boresight gain toward every building, "
        "horizontal distance (a floor at antenna height), carrier total power at full load "
        "(power_dbm + full_power_offset_db), exposure ratios summed over frequencies",
    }
    out = [feature(0, None, head)] + found
    for i, f in enumerate(out[1:], 1):
        f["id"] = i
    return out, False


async def edit_warnings(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    spec: LayerSpec,
    asset_ids: list[str],
    scenario: str,
) -> list[dict[str, Any]]:
    """The default rules' violations that these edited sectors or sites are part of, as
    the scenario sees them once the edit takes effect (inside the write's transaction,
    whose now() is before the edit's valid_from)."""
    if spec.id not in ("sectors", "base_stations"):
        return []
    at = (
        await conn.execute(
            text(
                f"SELECT max(lower(valid)) FROM {SCHEMA}.{spec.scenario_table}"
                " WHERE scenario_id = :s AND asset_id = ANY(:ids)"
            ),
            {"s": scenario, "ids": asset_ids},
        )
    ).scalar_one()
    scope = {"sectors": asset_ids} if spec.id == "sectors" else {"sites": asset_ids}
    when = at.isoformat() if at is not None else None
    req = SitingRequest.model_validate({"scenario": scenario, "datetime": when} | scope)
    features, _ = await siting_check(conn, catalog, principal, req)
    keep = ("rule", "message", "operator", "site_a", "site_b", "sector", "target")
    return [
        {k: f["properties"][k] for k in keep if k in f["properties"]}
        for f in features[1:]
        if f["properties"]["violation"]
    ]


def warning_headers(warnings: list[dict[str, Any]]) -> dict[str, str]:
    """For a 204, which has no body: the warnings as JSON (ASCII) in `Citygis-Warnings`,
    as many as fit in MAX_WARNINGS_HEADER characters, and their count."""
    if not warnings:
        return {}
    shown = list(warnings)
    value = json.dumps(shown)
    while len(value) > MAX_WARNINGS_HEADER and len(shown) > 1:
        shown.pop()
        value = json.dumps(shown)
    return {"Citygis-Warnings": value, "Citygis-Warnings-Count": str(len(warnings))}
