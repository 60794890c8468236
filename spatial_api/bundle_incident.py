"""An incident's bundle: the incident as of an instant, its zone, and the analyses of it.

The zone is a saved `/analysis/hazard-zone` answer (`zone=<result id>`, as the duty officer
drew it), or a circle of `radius_m` about the incident, or the zones recorded for the
incident (hazard_zones) as of the bundle's instant, or for a gas leak ERG Guide 115's
natural-gas pipeline isolation (at least 100 m). The analyses are the API's own, run as the
caller and as of the bundle's instant: impact per ring, shelter assignment and the
responders' routes around the zone. One that cannot answer (no roads near, no resource
layer) leaves a note in the summary rather than refusing the whole bundle.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import geopandas as gpd
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import FeatureNotFound, InvalidParameter, NotFound
from layers.query import DateTimeInterval, layer_source
from layers.spec import STORAGE_SRID, Style
from spatial_api import incidents
from spatial_api.analysis import impact as impact_ops
from spatial_api.analysis import incident_zones
from spatial_api.analysis import responders as responders_ops
from spatial_api.analysis import shelter_assignment as shelters_ops
from spatial_api.analysis.hazard import hazard_zone
from spatial_api.analysis.hazard_models import CustomRequest, Erg115Request, HazardRequest
from spatial_api.analysis.impact_models import (
    ImpactRequest,
    RespondersRequest,
    ShelterAssignmentRequest,
)
from spatial_api.analysis.results import get_result, result_features
from spatial_api.bundle import Bundle, area_around
from spatial_api.bundle_summary import Summary

RESPONDER_LAYER = "emergency_resources"  # issue 13, item 5: fire stations, hospitals, police
RESPONDERS = 2
INCIDENT = """
SELECT jsonb_build_object({pairs}) AS props, ST_X(t.geom) AS x, ST_Y(t.geom) AS y
FROM {source} WHERE t.asset_id = :id ORDER BY t.version_id DESC LIMIT 1
"""
STYLES = {
    "zones": Style(kind="fill", color="#ff0000", outline="#b00000", opacity=0.15),
    "affected": Style(kind="circle", color="#ff6a00", outline="#7a3300", radius=6, width=3),
    "shelters assigned": Style(kind="circle", color="#00b050", outline="#005a2e", radius=9),
    "assignments": Style(kind="line", color="#00b050", width=2, opacity=0.7),
    "routes": Style(kind="line", color="#1f4fff", width=4, opacity=0.85),
}


async def read_incident(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, asset: str, bundle: Bundle
) -> tuple[dict[str, Any], tuple[float, float]]:
    """The incident's attributes and lon/lat as of the bundle's instant."""
    spec = principal.layer(catalog, incidents.LAYER)
    source, params = layer_source(spec, bundle.when)
    pairs = ", ".join(
        ["'asset_id', t.asset_id", *(f"'{a.name}', t.{a.name}" for a in spec.attributes)]
    )
    row = (
        await conn.execute(
            text(INCIDENT.format(pairs=pairs, source=source)), params | {"id": asset}
        )
    ).one_or_none()
    if row is None:
        at = bundle.when.start.isoformat() if bundle.when and bundle.when.start else "now"
        raise FeatureNotFound(f"no incident {asset!r} valid at {at}")
    return row.props, (row.x, row.y)


async def incident_zone(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    when: DateTimeInterval | None,
    incident: dict[str, Any],
    point: tuple[float, float],
    zone: UUID | None,
    radius_m: float | None,
) -> list[dict]:
    """The zone's rings, innermost first (hazard-zone's features): the saved answer named,
    a circle of `radius_m`, the incident's recorded zones, or its kind's default."""
    if zone is not None:
        meta = await get_result(conn, zone, principal)
        if meta["kind"] != "hazard-zone":
            raise InvalidParameter(f"zone: result {zone} is a {meta['kind']} answer, not a zone")
        return await result_features(conn, zone)
    req: HazardRequest
    common = {"point": point, "crs": f"EPSG:{STORAGE_SRID}"}
    if radius_m is not None:
        req = CustomRequest.model_validate(common | {"preset": "custom", "radius_m": radius_m})
        return await hazard_zone(conn, req)
    try:  # the zones the command centre recorded for it, as of the bundle's instant
        return await incident_zones.recorded_zones(
            conn, catalog, principal, incident["asset_id"], when
        )
    except NotFound:
        pass
    if incident.get("kind") == "gas_leak":
        req = Erg115Request.model_validate(
            common | {"preset": "erg115", "material": "natural_gas_pipeline"}
        )
    else:
        raise InvalidParameter(
            f"zone: incident {incident['asset_id']!r} is a {incident.get('kind')} with no "
            "default zone: pass zone=<id of a saved /analysis/hazard-zone answer> or radius_m"
        )
    return await hazard_zone(conn, req)


async def _fresh(conn: AsyncConnection) -> None:
    """Each analysis opens its own transaction (temporary road graphs)."""
    if conn.in_transaction():
        await conn.rollback()


async def analyse(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    bundle: Bundle,
    asset: str,
    zone: UUID | None,
    radius_m: float | None,
    margin_m: float,
) -> None:
    """Fill the bundle: its area from the zone, the map's overlays and the summary."""
    incident, point = await read_incident(conn, catalog, principal, asset, bundle)
    bundle.title = f"{incident.get('name') or asset} · {incident.get('kind')} · {asset}"
    rings = await incident_zone(
        conn, catalog, principal, bundle.when, incident, point, zone, radius_m
    )
    collection = {"type": "FeatureCollection", "features": rings}
    zones = gpd.GeoDataFrame.from_features(rings, crs=4326)
    bundle.area = area_around(zones.total_bounds, margin_m)
    dt = bundle.when.start.isoformat() if bundle.when and bundle.when.start else None
    scenario = bundle.when.scenario if bundle.when else None
    time = {"datetime": dt, "scenario": scenario}  # every analysis reads the same city
    s = bundle.summary = Summary(incident=incident)
    s.zones = [f["properties"] for f in rings]
    timeline = await incidents.timeline(conn, catalog, principal, asset, scenario)
    until = bundle.when.start if bundle.when else None
    s.timeline = [e.model_dump() for e in timeline.entries if until is None or e.at <= until]
    await _fresh(conn)
    found, _ = await impact_ops.impact(
        conn, catalog, principal, ImpactRequest.model_validate({"zone": collection} | time)
    )
    s.impact = [f["properties"] for f in found if f["properties"]["role"] in ("ring", "total")]
    affected = [f for f in found if f["properties"]["role"] not in ("ring", "total")]
    used, lines = await _shelters(conn, catalog, principal, collection, time, s)
    responders = await _responders(conn, catalog, principal, collection, point, time, s)
    bundle.answers = {
        "zones": collection,
        "affected": {"type": "FeatureCollection", "features": affected},
        "shelters assigned": {"type": "FeatureCollection", "features": used},
        "assignments": {"type": "FeatureCollection", "features": lines},
        "routes": {"type": "FeatureCollection", "features": responders},
    }
    bundle.styles = STYLES
    bundle.extra_layers = {"zones": zones.set_crs(4326, allow_override=True)}


async def _shelters(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    zone: dict,
    time: dict[str, str | None],
    s: Summary,
) -> tuple[list[dict], list[dict]]:
    """The shelters used and the assignments (straight lines: the road is /lbs/route's)."""
    await _fresh(conn)
    req = ShelterAssignmentRequest.model_validate({"zone": zone} | time)
    try:
        found = await shelters_ops.assign_shelters(conn, catalog, principal, req)
    except (InvalidParameter, NotFound) as exc:
        s.notes.append(f"shelter assignment: {exc}")
        return [], []
    used = [
        f for f in found if f["properties"]["role"] == "shelter" and f["properties"]["assigned"]
    ]
    lines = [f for f in found if f["properties"]["role"] == "assignment"]
    s.shelters = [f["properties"] for f in used]
    summary = next(f["properties"] for f in found if f["properties"]["role"] == "summary")
    if summary["unassigned"]:
        s.notes.append(f"{summary['unassigned']:,} of {summary['people']:,} people unassigned")
    return used, lines


async def _responders(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    zone: dict,
    point: tuple[float, float],
    time: dict[str, str | None],
    s: Summary,
) -> list[dict]:
    """The nearest resources and their routes around the zone, if the catalog has them."""
    if RESPONDER_LAYER not in catalog or not principal.may_see(catalog[RESPONDER_LAYER]):
        s.notes.append(f"responders: no {RESPONDER_LAYER} layer readable here")
        return []
    await _fresh(conn)
    req = RespondersRequest.model_validate(
        {
            "scene": point,
            "crs": f"EPSG:{STORAGE_SRID}",
            "layer": RESPONDER_LAYER,
            "k": RESPONDERS,
            "avoid": zone,
        }
        | time
    )
    try:
        found, _ = await responders_ops.responders(conn, catalog, principal, req)
    except (InvalidParameter, NotFound) as exc:
        s.notes.append(f"responders: {exc}")
        return []
    s.responders = [f["properties"] for f in found if f["properties"]["role"] == "responder"]
    return found
