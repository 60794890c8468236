"""An incident as analysis input: its place as of an instant, and its recorded hazard zones.

`POST /analysis/hazard-zone` with `incident` draws the zones about the incident's point (or
its centroid) as valid at `datetime`, in the scenario when one is named. With `record` they
are written to the hazard_zones layer through the Features write path
(`spatial_api/features/writes.py`, or `scenario_writes.py` in a scenario), so they are
validated, versioned in valid time, logged for tiles and audited like any write: one asset
per ring, `{incident}/{ring}`, opened (or its next version) at `valid_from`; the
incident's open rings that the new answer lacks are closed there. The impact, shelter
assignment and responders analyses, and the incident bundle, read those zones back as of
their own instant.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog, LayerSpec
from layers.access import Principal
from layers.errors import FeatureNotFound, InvalidParameter, NotFound
from layers.query import DateTimeInterval, layer_source, parse_instant
from layers.spec import STORAGE_SRID
from spatial_api import scenarios
from spatial_api.analysis import metric
from spatial_api.analysis.answer import feature
from spatial_api.analysis.hazard import hazard_zone
from spatial_api.analysis.hazard_models import HazardRequest, Recorded, RecordedZone
from spatial_api.analysis.impact_models import RespondersRequest, ZoneOrIncident
from spatial_api.analysis.sources import parse_when, select_features
from spatial_api.analysis.zones import Ring, ZoneCollection, zone_rings
from spatial_api.features import scenario_writes, writes
from spatial_api.features.crs import DEFAULT as CRS84

INCIDENTS = "incidents"
LAYER = "hazard_zones"
STORAGE = f"EPSG:{STORAGE_SRID}"
PLACE = """
SELECT ST_X(p.c) AS x, ST_Y(p.c) AS y
FROM (SELECT ST_Centroid(t.geom) AS c FROM {source} WHERE t.asset_id = :incident
      ORDER BY t.version_id DESC LIMIT 1) p
"""
ZONES = """
SELECT s.props, {gj} AS g FROM ({src}) s
ORDER BY (s.props ->> 'ring_index')::int NULLS LAST, s.props ->> 'asset_id'
"""
# The incident's rings open from `valid_from` on (live, or as the scenario has them).
OPEN = "SELECT t.asset_id FROM {source} WHERE t.incident_id = :incident AND upper_inf(t.valid)"
Req = TypeVar("Req", bound=ZoneOrIncident)


def _at(when: DateTimeInterval | None) -> str:
    if when is not None and when.period:
        raise InvalidParameter("datetime: an incident is read at an instant, not over a period")
    start = when.start if when is not None and when.start is not None else datetime.now(UTC)
    return start.isoformat()


async def incident_point(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    incident: str,
    when: DateTimeInterval | None,
) -> tuple[float, float]:
    """The incident's point (a polygon's centroid) in storage CRS, as valid at `when`."""
    spec = principal.layer(catalog, INCIDENTS)
    at = _at(when)
    source, params = layer_source(spec, when)
    row = (
        await conn.execute(text(PLACE.format(source=source)), params | {"incident": incident})
    ).one_or_none()
    if row is None:
        raise FeatureNotFound(f"no incident {incident!r} valid at {at}")
    return row.x, row.y


async def recorded_zones(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    incident: str,
    when: DateTimeInterval | None,
) -> list[dict]:
    """The incident's recorded rings valid at `when`, innermost first, as hazard-zone's
    features (CRS84, `zone` naming the ring); 404 naming the incident and instant if none."""
    at = _at(when)
    sel = select_features(principal.layer(catalog, LAYER), when, {"incident_id": incident})
    sql = ZONES.format(src=sel.sql, gj=metric.geojson("s.geom"))
    rows = (await conn.execute(text(sql).bindparams(*sel.binds), sel.params)).all()
    if not rows:
        raise NotFound(f"incident {incident!r} has no recorded hazard zones at {at}")
    return [feature(r.props["asset_id"], r.g, {"zone": r.props["ring"]} | r.props) for r in rows]


async def zone_of(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    incident: str,
    when: DateTimeInterval | None,
) -> ZoneCollection:
    found = await recorded_zones(conn, catalog, principal, incident, when)
    return ZoneCollection.model_validate(
        {"type": "FeatureCollection", "features": found, "crs": "CRS84"}
    )


async def rings_of(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: ZoneOrIncident
) -> list[Ring]:
    """The request's zone, or its incident's recorded zones as of its `datetime`."""
    if req.incident is None:
        assert req.zone is not None  # ZoneOrIncident validates exactly one of the two
        return zone_rings(req.zone, req.crs)
    was = conn.in_transaction()
    when = parse_when(req.datetime_, req.scenario)
    rings = zone_rings(await zone_of(conn, catalog, principal, req.incident, when), None)
    await _end_read(conn, was)
    return rings


async def _end_read(conn: AsyncConnection, was: bool) -> None:
    """End the read transaction these lookups began: the analyses open their own."""
    if not was and conn.in_transaction():
        await conn.rollback()


async def responders_request(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: RespondersRequest
) -> RespondersRequest:
    """With an incident: its point as the scene and its recorded zones to avoid."""
    if req.incident is None:
        return req
    was = conn.in_transaction()
    when = parse_when(req.datetime_, req.scenario)
    scene = await incident_point(conn, catalog, principal, req.incident, when)
    avoid = await zone_of(conn, catalog, principal, req.incident, when)
    await _end_read(conn, was)
    return req.model_copy(update={"scene": scene, "crs": STORAGE, "avoid": avoid})


def _version(w: writes.Written) -> int:
    assert w.version_id is not None  # a create or replace always makes one
    return w.version_id


def inputs_of(req: HazardRequest) -> str:
    """The request as asked (the incident, not the point it found), for the record."""
    asked = req.model_dump(
        mode="json", by_alias=True, exclude={"save", "ttl_s", "out_crs", "record", "valid_from"}
    )
    return json.dumps({k: v for k, v in asked.items() if v is not None}, ensure_ascii=False)


def zone_feature(incident: str, f: dict, index: int, req: HazardRequest, inputs: str) -> dict:
    """hazard-zone's `index`-th feature as the incident's hazard_zones feature."""
    p = f["properties"]
    props: dict[str, Any] = {
        "incident_id": incident,
        "ring": p["zone"],
        "ring_index": index,
        "preset": p["preset"],
        "material": p.get("material") or p.get("device"),
        "edition": p.get("edition"),
        "wind_from_deg": req.wind_from_deg,
        "distance_m": p.get("distance_m"),
        "inputs": inputs,
    }
    return {"type": "Feature", "id": f"{incident}/{p['zone']}", "geometry": f["geometry"]} | {
        "properties": props
    }


async def _open_rings(
    conn: AsyncConnection,
    spec: LayerSpec,
    incident: str,
    valid_from: datetime,
    scenario: str | None,
) -> set[str]:
    when = DateTimeInterval(valid_from, None, False, scenario=scenario)
    source, params = layer_source(spec, when)
    sql = OPEN.format(source=source)
    return set((await conn.execute(text(sql), params | {"incident": incident})).scalars())


async def record(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    req: HazardRequest,
    features: list[dict],
) -> Recorded:
    """Write the answer's rings as the incident's zones from `valid_from`, in one
    transaction (committed here); close its open rings the answer lacks."""
    assert req.incident is not None  # HazardPoint validates it with record
    spec = catalog[LAYER]
    valid_from = (
        parse_instant(req.valid_from, "valid_from") if req.valid_from else datetime.now(UTC)
    )
    sc = req.scenario
    if sc is not None:
        await scenarios.get(conn, principal, sc, editing=True)
    inputs = inputs_of(req)
    rings = [zone_feature(req.incident, f, i, req, inputs) for i, f in enumerate(features, start=1)]
    open_ = await _open_rings(conn, spec, req.incident, valid_from, sc)
    fresh = [f for f in rings if f["id"] not in open_]
    made: dict[str, int] = {}
    if fresh:
        created = (
            await writes.create(conn, spec, principal, fresh, valid_from, CRS84)
            if sc is None
            else await scenario_writes.create(conn, spec, principal, fresh, valid_from, CRS84, sc)
        )
        made |= {w.asset_id: _version(w) for w in created}
    for f in (f for f in rings if f["id"] in open_):
        args = (conn, spec, principal, f["id"], f, valid_from, CRS84, None)
        done = (
            await writes.replace(*args) if sc is None else await scenario_writes.replace(*args, sc)
        )
        made[done.asset_id] = _version(done)
    gone = sorted(open_ - {f["id"] for f in rings})
    for asset in gone:
        if sc is None:
            await writes.delete(conn, spec, principal, asset, valid_from, None)
        else:
            await scenario_writes.delete(conn, spec, principal, asset, valid_from, None, sc)
    await conn.commit()
    return Recorded(
        incident=req.incident,
        valid_from=valid_from,
        zones=[
            RecordedZone(ring=f["properties"]["ring"], asset_id=f["id"], version_id=made[f["id"]])
            for f in rings
        ],
        closed=gone,
    )


async def hazard_zones(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: HazardRequest
) -> tuple[list[dict], Recorded | None]:
    """hazard-zone's features about the point or the incident, and what `record` wrote."""
    if req.record:  # refused before anything is drawn
        principal.refuse_unwritable(catalog[LAYER])
    drawn = req
    if req.incident is not None:
        when = parse_when(req.datetime_, req.scenario)
        point = await incident_point(conn, catalog, principal, req.incident, when)
        drawn = req.model_copy(update={"point": point, "crs": STORAGE})
    features = await hazard_zone(conn, drawn)
    if not req.record:
        return features, None
    return features, await record(conn, catalog, principal, req, features)
