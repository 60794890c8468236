"""What moving a cluster's tenants onto its host changes: their sectors' new place and
height, the coverage each tenant operator gains and loses, and the scenario to open.

A tenant's sectors keep their azimuth, tilt and power, move to the host's point and
mount at the platform the plan gives them (never higher than they were). The coverage
change is computed with the grid model (`coverage_grid`) on the box the moved sectors
reach, before and after, with the operator's other sectors that reach the box in both
(so a cell another site of the operator covers is neither gained nor lost). Areas are
planar in the grid's Gauss-Krüger zone (scale within 4·10⁻⁴ of true).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.query import DateTimeInterval
from spatial_api import scenarios
from spatial_api.analysis.coverage_budget import Budgets, link_budgets
from spatial_api.analysis.coverage_grid import Grid, Notes, Radio, received
from spatial_api.analysis.coverage_sectors import load_sectors, to_metric
from spatial_api.analysis.site_sharing_models import SiteSharingRequest
from spatial_api.analysis.site_sharing_plan import Group, Tenant
from spatial_api.analysis.sources import select_features
from spatial_api.features import scenario_writes
from spatial_api.features.crs import DEFAULT


@dataclass(frozen=True)
class Move:
    """One tenant sector: its record, and the antenna height it gets on the host."""

    props: dict[str, Any]
    height_m: float | None


def moved_height(own: float | None, platform: float | None) -> float | None:
    if own is None or platform is None:
        return own if platform is None else platform
    return min(own, platform)


async def tenant_sectors(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    when: DateTimeInterval | None,
    site_ids: list[str],
) -> dict[str, list[dict[str, Any]]]:
    """Every sector of these sites, per site id, in asset id order."""
    sel = select_features(principal.layer(catalog, "sectors"), when, None, "m")
    sql = (
        f"SELECT s.props FROM ({sel.sql}) s WHERE s.props ->> 'site_id' = ANY(:sites) "
        "ORDER BY s.props ->> 'asset_id'"
    )
    rows = await conn.execute(text(sql).bindparams(*sel.binds), sel.params | {"sites": site_ids})
    out: dict[str, list[dict[str, Any]]] = {}
    for (props,) in rows:
        out.setdefault(props["site_id"], []).append(props)
    return out


def moves_of(t: Tenant, sectors: dict[str, list[dict[str, Any]]]) -> list[Move]:
    return [
        Move(p, moved_height(p.get("antenna_height_m"), t.platform_m))
        for p in sectors.get(t.site.asset_id, [])
    ]


def edits(group: Group, moves: list[Move]) -> list[dict[str, Any]]:
    """The writes that make the move, for `?scenario=<id>` on the item routes."""
    host = group.host
    point = {"type": "Point", "coordinates": [host.lon, host.lat]}
    out: list[dict[str, Any]] = [
        {
            "method": "PATCH",
            "path": f"/collections/sectors/items/{m.props['asset_id']}",
            "body": {
                "geometry": point,
                "properties": {"site_id": host.asset_id, "antenna_height_m": m.height_m},
            },
        }
        for m in moves
    ]
    out += [
        {"method": "DELETE", "path": f"/collections/base_stations/items/{t.site.asset_id}"}
        for t in group.tenants
    ]
    out.append(
        {
            "method": "PATCH",
            "path": f"/collections/base_stations/items/{host.asset_id}",
            "body": {"properties": {"shared": True}},
        }
    )
    return out


def _covered(grid: Grid, radios: list[Radio], req: SiteSharingRequest) -> np.ndarray:
    mask = np.zeros((grid.rows, grid.cols), bool)
    for w in received(grid, radios, req.rx_height_m, req.environment, Notes()):
        mask[w.rows, w.cols] |= w.rx_dbm >= radios[w.index].threshold_dbm
    return mask


def coverage_change(
    group: Group, moves: list[Move], context: Budgets, req: SiteSharingRequest, epsg: int
) -> dict[str, Any]:
    """Per tenant operator: km² covered before and after within the box the moved sectors
    reach, gained and lost (CPU-bound: run in a worker thread)."""
    ids = {m.props["asset_id"] for m in moves}
    hx, hy = to_metric(epsg, [group.host.lon], [group.host.lat])
    after = link_budgets(
        [(m.props | {"antenna_height_m": m.height_m}, float(hx[0]), float(hy[0])) for m in moves],
        req,
    )
    ops = [str(p.get("operator")) for p in context.props]
    moved_before = [i for i, p in enumerate(context.props) if p.get("asset_id") in ids]
    boxes = [context.radios[i].bounds for i in moved_before] + [r.bounds for r in after.radios]
    computed = {p["asset_id"] for p in after.props}
    out: dict[str, Any] = {"not_computed": sorted(ids - computed)}
    if not boxes:
        return out | {"operators": {}}
    b = np.array(boxes)
    box = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
    grid = Grid.around(box, req.cell_m)
    near = [
        i
        for i, r in enumerate(context.radios)
        if context.props[i].get("asset_id") not in ids
        and r.bounds[0] < box[2]
        and r.bounds[2] > box[0]
        and r.bounds[1] < box[3]
        and r.bounds[3] > box[1]
    ]
    cell_km2 = req.cell_m**2 / 1e6
    per_op = {}
    for op in sorted({o for t in group.tenants for o in t.site.operators}):
        others = [context.radios[i] for i in near if ops[i] == op]
        before = _covered(
            grid, others + [context.radios[i] for i in moved_before if ops[i] == op], req
        )
        moved = [r for r, p in zip(after.radios, after.props, strict=True) if p["operator"] == op]
        now = _covered(grid, others + moved, req)
        per_op[op] = {
            "before_km2": round(float(before.sum()) * cell_km2, 4),
            "after_km2": round(float(now.sum()) * cell_km2, 4),
            "gained_km2": round(float((now & ~before).sum()) * cell_km2, 4),
            "lost_km2": round(float((before & ~now).sum()) * cell_km2, 4),
        }
    return out | {"box_km2": round(grid.rows * grid.cols * cell_km2, 4), "operators": per_op}


async def open_scenario(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    req: SiteSharingRequest,
    groups: list[Group],
    moves: list[list[Move]],
) -> str:
    """A scenario with every proposed move as scenario versions (committed here)."""
    sectors, sites = (principal.layer(catalog, n) for n in ("sectors", "base_stations"))
    principal.refuse_unwritable(sectors)
    principal.refuse_unwritable(sites)
    title = (
        req.scenario_title or f"统建共用: {len(groups)} clusters within {req.max_distance_m:g} m"
    )
    made = await scenarios.create(conn, principal, title)
    at = datetime.now(UTC)

    async def put(spec: Any, props: dict[str, Any], lon: float, lat: float) -> None:
        feature = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {k: v for k, v in props.items() if k != "asset_id"},
        }
        await scenario_writes.replace(
            conn, spec, principal, props["asset_id"], feature, at, DEFAULT, None, made.id, "update"
        )

    for group, group_moves in zip(groups, moves, strict=True):
        host = group.host
        for m in group_moves:
            props = m.props | {"site_id": host.asset_id, "antenna_height_m": m.height_m}
            await put(sectors, props, host.lon, host.lat)
        for t in group.tenants:
            await scenario_writes.delete(conn, sites, principal, t.site.asset_id, at, None, made.id)
        await put(sites, host.props | {"shared": True}, host.lon, host.lat)
    await conn.commit()
    return made.id


async def consequences(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    req: SiteSharingRequest,
    when: DateTimeInterval | None,
    groups: list[Group],
    epsg: int,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per group: the edits, the coverage change, the scenario; and notes for the summary."""
    if not groups:
        return [], {"scenario": None}
    tenants = [t.site.asset_id for g in groups for t in g.tenants]
    sectors = await tenant_sectors(conn, catalog, principal, when, tenants)
    moves = [[m for t in g.tenants for m in moves_of(t, sectors)] for g in groups]
    extras: list[dict[str, Any]] = [
        {"edits": edits(g, m)} for g, m in zip(groups, moves, strict=True)
    ]
    notes: dict[str, Any] = {}
    if req.coverage:
        x, y = to_metric(
            epsg,
            [s.lon for g in groups for s in g.members],
            [s.lat for g in groups for s in g.members],
        )
        near = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
        context, _ = await load_sectors(conn, catalog, principal, req, None, when, epsg, near)

        def compute() -> list[dict[str, Any]]:
            return [
                coverage_change(g, m, context, req, epsg)
                for g, m in zip(groups, moves, strict=True)
            ]

        for extra, change in zip(extras, await run_in_threadpool(compute), strict=True):
            extra["coverage_change"] = change
        notes["coverage"] = (
            f"grid model, cells of {req.cell_m:g} m, receiver {req.rx_height_m:g} m, "
            f"{req.environment}; per tenant operator within the box its moved sectors "
            "reach, its other sectors included; flat earth"
        )
    sid = None
    if req.create_scenario:
        sid = await open_scenario(conn, catalog, principal, req, groups, moves)
        for extra in extras:
            extra["scenario"] = sid
    return extras, notes | {"scenario": sid}
