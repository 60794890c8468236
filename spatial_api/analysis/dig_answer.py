"""The dig report as GeoJSON (what the HTML page and the drawing are made from).

The first feature is the summary, drawn as the tolerance zone: counts, the depth bases
used, the owners to call (and the names with no owners row), the section's crossings.
Then each pipe's portion inside the zone and each pipe node inside, with depths, at_risk
and the owner's contacts.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import shapely
from fastapi.concurrency import run_in_threadpool
from shapely import LineString, Point
from shapely.geometry import mapping
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import InvalidParameter
from spatial_api.analysis import dig_report as page
from spatial_api.analysis.answer import feature
from spatial_api.analysis.dig import NodeInDig, PipeInDig, Report, dig_report
from spatial_api.analysis.dig_models import DigRequest
from spatial_api.analysis.dig_section import render
from spatial_api.analysis.isolation_network import Plane

NODE_ON_PIPE_M = 1.0  # a node this close to a pipe (plan) is listed with it
OWNER_FIELDS = ("phone_24h", "email", "contact", "address", "utility")


def _r(v: float | None, nd: int = 3) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


def owner_properties(name: str | None, owners: dict[str, dict]) -> dict[str, Any]:
    row = owners.get(name) if name else None
    props: dict[str, Any] = {
        "owner": name,
        "owner_known": None if name is None else row is not None,
    }
    for f in OWNER_FIELDS:
        props[f"owner_{f}"] = row.get(f) if row else None
    return props


def pipe_properties(p: PipeInDig, report: Report) -> dict[str, Any]:
    ends, between = p.inside_depths()
    depth = np.r_[ends, between]
    known = p.profile.basis != "unknown"
    radius = (p.props.get("diameter_mm") or 0) / 2000
    top = float(np.min(depth)) - radius if known else None
    first, last = p.inside[0][0], p.inside[-1][1]
    return {
        "kind": "pipe",
        "asset_id": p.props["asset_id"],
        **{k: p.props.get(k) for k in ("utility", "link_kind", "diameter_mm", "material")},
        **{k: p.props.get(k) for k in ("pressure_class", "status", "install_date")},
        "depth_basis": p.profile.basis,
        "depth_enter_m": _r(ends[0]) if known else None,
        "depth_leave_m": _r(ends[-1]) if known else None,
        "depth_min_m": _r(np.min(depth)) if known else None,
        "depth_max_m": _r(np.max(depth)) if known else None,
        "top_min_m": _r(top),
        "at_risk": _at_risk(top, report.request.depth_m),
        "chainage_enter_m": _r(first),
        "chainage_leave_m": _r(last),
        "length_inside_m": _r(sum(b - a for a, b in p.inside)),
        "starts_inside": bool(first == 0),
        "ends_inside": bool(np.isclose(last, p.profile.s[-1])),
        "nodes_inside": _nodes_on(p, report.nodes),
        **owner_properties(p.props.get("owner"), report.owners),
    }


def _at_risk(top: float | None, dig_depth: float | None) -> bool | None:
    return None if top is None or dig_depth is None else bool(top < dig_depth)


def _nodes_on(p: PipeInDig, nodes: list[NodeInDig]) -> list[str]:
    ends = {p.props.get("from_node"), p.props.get("to_node")}
    utility = p.props.get("utility")
    return [
        n.props["asset_id"]
        for n in nodes
        if n.props["asset_id"] in ends
        or (n.props.get("utility") == utility and p.line.distance(n.point) <= NODE_ON_PIPE_M)
    ]


def node_properties(node: NodeInDig, report: Report) -> dict[str, Any]:
    n, z = node.props, node.z
    if n.get("depth_m") is not None:
        basis, depth = "depth_m", float(n["depth_m"])
    elif z is not None and z < 0:
        basis, depth = "z_as_depth", -float(z)
    else:
        basis, depth = "unknown", None
    return {
        "kind": "node",
        "asset_id": n["asset_id"],
        **{k: n.get(k) for k in ("utility", "node_kind", "valve_state", "status")},
        "depth_basis": basis,
        "depth_m": _r(depth),
        "at_risk": _at_risk(depth, report.request.depth_m),
        **owner_properties(n.get("owner"), report.owners),
    }


def _part_geometry(p: PipeInDig, plane: Plane) -> dict:
    """The portions inside, in plan: saved results (and other output CRSs) are 2D, so the
    depths live in the properties."""
    lines = []
    for a, b in p.inside:
        s = np.r_[a, p.profile.s[(p.profile.s > a) & (p.profile.s < b)], b]
        points = shapely.line_interpolate_point(p.line, s)
        lines.append(LineString(shapely.get_coordinates(plane.inverse(points))))
    return mapping(lines[0] if len(lines) == 1 else shapely.MultiLineString(lines))


def features(report: Report) -> list[dict]:
    """The summary (the tolerance zone), then each pipe's portion inside, then the nodes."""
    pipes = [pipe_properties(p, report) for p in report.pipes]
    nodes = [node_properties(n, report) for n in report.nodes]
    plane = report.dig.plane
    zone = mapping(plane.inverse(np.array([report.dig.zone]))[0])
    out = [feature(0, zone, summary(report, pipes + nodes))]
    for p, props in zip(report.pipes, pipes, strict=True):
        out.append(feature(len(out), _part_geometry(p, plane), props))
    for n, props in zip(report.nodes, nodes, strict=True):
        at = plane.inverse(np.array([n.point]))[0]
        out.append(feature(len(out), mapping(Point(at.x, at.y)), props))
    return out


def summary(report: Report, assets: list[dict]) -> dict[str, Any]:
    req = report.request
    names = sorted({a["owner"] for a in assets if a["owner"]})
    bases = [a["depth_basis"] for a in assets if a["kind"] == "pipe"]
    return {
        "kind": "dig",
        "area_m2": _r(report.dig.area.area, 2),
        "tolerance_m": req.tolerance_m,
        "depth_m": req.depth_m,
        "datetime": req.datetime_,
        "scenario": req.scenario,
        "pipes": len(report.pipes),
        "nodes": len(report.nodes),
        "at_risk": sum(1 for a in assets if a["at_risk"]),
        "depth_bases": {b: bases.count(b) for b in sorted(set(bases))},
        "owners": [report.owners[n] | {"name": n} for n in names if n in report.owners],
        "owners_unknown": [n for n in names if n not in report.owners],
        "section": report.section.json(),
    }


async def drawing(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    req: DigRequest,
    fmt: Literal["svg", "png"],
) -> bytes:
    """The cross-section alone, as SVG or PNG."""
    _refuse_save(req)
    report = await dig_report(conn, catalog, principal, req)
    return await run_in_threadpool(render, report.section, req.depth_m, fmt)


async def printable(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: DigRequest
) -> str:
    """The report as a printable page, with the section inline."""
    _refuse_save(req)
    report = await dig_report(conn, catalog, principal, req)
    svg = await run_in_threadpool(render, report.section, req.depth_m, "svg")
    return page.html(features(report), svg)


def _refuse_save(req: DigRequest) -> None:
    if req.save:
        raise InvalidParameter("save: only the GeoJSON answer (POST /analysis/dig) is saved")
