"""The isolation answer as a printable shut-off order (关阀通知单) for the crew on site.

Built from the GeoJSON answer of POST /analysis/isolate, so the page and the JSON cannot
disagree; only the break's point and the nearest road of each valve are read beside it.
Valves come in the order a crew works: those bounding the break's own segment, then each
stuck valve's alternates under it, each group nearest the break first.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from html import escape
from typing import Any

import numpy as np
import shapely
from fastapi.concurrency import run_in_threadpool
from shapely.geometry import shape
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.catalog import LayerNotFound
from layers.errors import Forbidden, InvalidParameter
from spatial_api import scenarios
from spatial_api.analysis import isolation, shutoff_map
from spatial_api.analysis.dig_report import inline_svg
from spatial_api.analysis.geometry import parse_crs, sql_point
from spatial_api.analysis.isolation_network import Plane
from spatial_api.analysis.models import IsolateRequest
from spatial_api.analysis.sources import parse_when, select_features

CRITICAL = ("customer_id", "name", "critical_kind", "pipe", "role", "zone")
ROAD_M = 200.0  # a valve farther than this from any named road gets "—"
LONG_TABLE = 18  # rows past which a table starts on a new page
ACTIONS = {
    "close": "CLOSE",
    "already_closed": "already closed: check",
    "stuck_passed": "stuck – passed",
    "broken_passed": "broken – passed",
}
# The named roads nearest each valve: KNN on the GiST index (planar degrees) for 16
# candidates, re-ranked by geodesic distance, as the break itself is found.
NEAREST_ROADS = """
SELECT v.i, c.name, c.d
FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS v(x, y, i)
CROSS JOIN LATERAL (
  SELECT k.props ->> 'name' AS name,
         ST_Distance(k.geom::geography, ST_SetSRID(ST_MakePoint(v.x, v.y), 4490)::geography) AS d
  FROM ({roads} WHERE t.name <> ''
        ORDER BY t.geom <-> ST_SetSRID(ST_MakePoint(v.x, v.y), 4490) LIMIT 16) k
  ORDER BY d, k.props ->> 'asset_id' LIMIT 1) c
WHERE c.d <= :road_m
"""
BREAK_AT = "SELECT ST_X(g) AS x, ST_Y(g) AS y FROM (SELECT {pt} AS g) s"
CSS = """
@page { size: A4; margin: 12mm 11mm 14mm; }
body { font: 9.5pt/1.35 system-ui, sans-serif; color: #111; max-width: 190mm; margin: auto; }
h1 { font-size: 16pt; margin: 0 0 2mm; } h2 { font-size: 12pt; margin: 5mm 0 2mm; }
table { border-collapse: collapse; width: 100%; margin-bottom: 3mm; } tr { break-inside: avoid; }
th, td { border: 1px solid #999; padding: 0.8mm 1.6mm; text-align: left; vertical-align: top; }
thead { display: table-header-group; } tfoot { display: table-footer-group; }
thead th, tfoot th, table.facts th { background: #eee; } table.facts th { width: 30%; }
tr.group th { background: #f6f0d8; } td.num, th.num { text-align: right; }
td.tick { width: 6mm; font-size: 13pt; text-align: center; } table.long { break-before: page; }
tr.close td.action { font-weight: bold; } tr.stuck td { color: #7a0080; }
.warn { background: #ffe3b3; border-left: 3mm solid #e67e00; padding: 1.5mm 3mm;
        print-color-adjust: exact; -webkit-print-color-adjust: exact; }
figure { margin: 0; break-inside: avoid; } figure svg { width: 100%; height: auto; }
.signatures td { height: 14mm; width: 25%; }
"""


def _t(value: Any, unit: str = "", fmt: str = "") -> str:
    """A value as escaped text; missing is —."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return escape(", ".join(map(str, value)))
    if isinstance(value, float):
        return escape(f"{value:{fmt or 'g'}}{unit}")
    return escape(f"{value}{unit}")


def _lonlat(f: dict) -> tuple[float, float] | None:
    g = f.get("geometry")
    return None if not g else (float(g["coordinates"][0]), float(g["coordinates"][1]))


async def printable(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: IsolateRequest
) -> str:
    if req.save:
        raise InvalidParameter("save: only the GeoJSON answer (POST /analysis/isolate) is saved")
    found, _ = await isolation.isolate(conn, catalog, principal, req)
    if req.scenario is not None:  # as answer() does: the page is withheld too
        await scenarios.get(conn, principal, req.scenario)
    summary, rest = found[0]["properties"], found[1:]
    valves = {
        f["properties"]["asset_id"]: f["properties"] | {"lonlat": _lonlat(f)}
        for f in rest
        if f["properties"].get("role") in ACTIONS
    }
    plane = Plane(*await _break_at(conn, req, rest))
    roads = await nearest_roads(conn, catalog, principal, req, valves)
    groups = ordered(summary, {k: v | {"road": roads.get(k)} for k, v in valves.items()}, plane)
    pipes = [f for f in rest if f["properties"].get("role") in ("isolated_pipe", "cut_off_pipe")]
    marks = [
        shutoff_map.MapValve(v["asset_id"], v["lonlat"], v["number"], v["role"])
        for _, vs in groups
        for v in vs
        if v["lonlat"] is not None
    ]
    svg = await run_in_threadpool(
        shutoff_map.draw,
        [(f["properties"]["role"], f["geometry"]) for f in pipes if f.get("geometry")],
        marks,
        [f for f in rest if f["properties"].get("role") == "customer"],
        plane,
    )
    return page(req, summary, groups, pipes, svg)


async def _break_at(
    conn: AsyncConnection, req: IsolateRequest, rest: list[dict]
) -> tuple[float, float]:
    """The clicked point (in storage lon/lat), or the broken pipe's stretches' centroid."""
    if req.point is not None:
        pt, params = sql_point(*req.point, parse_crs(req.crs))
        row = (await conn.execute(text(BREAK_AT.format(pt=pt)), params)).one()
        return float(row.x), float(row.y)
    c = shapely.union_all([shape(f["geometry"]) for f in rest if f["properties"].get("broken")])
    if c.is_empty:  # never for an answer; a valve will do as the centre
        return next(at for f in rest if (at := _lonlat(f)) is not None)
    return float(c.centroid.x), float(c.centroid.y)


async def nearest_roads(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    req: IsolateRequest,
    valves: dict[str, dict],
) -> dict[str, tuple[str, float]]:
    """Each valve's nearest named road within ROAD_M, as of the request's time and scenario."""
    try:
        spec = principal.layer(catalog, "roads")
    except (Forbidden, LayerNotFound):
        return {}
    at = [(k, v["lonlat"]) for k, v in valves.items() if v["lonlat"] is not None]
    if not at:
        return {}
    roads = select_features(spec, parse_when(req.datetime_, req.scenario), None, "r")
    xs, ys = ([ll[i] for _, ll in at] for i in (0, 1))
    sql = text(NEAREST_ROADS.format(roads=roads.sql)).bindparams(*roads.binds)
    rows = await conn.execute(sql, roads.params | {"xs": xs, "ys": ys, "road_m": ROAD_M})
    return {at[r.i - 1][0]: (r.name, float(r.d)) for r in rows}


def ordered(
    summary: dict[str, Any], valves: dict[str, dict], plane: Plane
) -> list[tuple[str, list[dict]]]:
    """(heading, valves) groups: the break's own segment, then one per valve passed, each
    nearest the break first; the valves to close are numbered in that order."""

    def away(v: str) -> tuple[float, str]:
        ll = valves[v]["lonlat"]
        if ll is None:
            return (math.inf, v)
        p = plane.forward(np.array([shapely.Point(ll)], dtype=object))[0]
        return (round(math.hypot(p.x, p.y), 2), v)  # to the cm: ties go by id

    taken: set[str] = set()
    later = []
    for e in sorted(summary.get("extensions") or [], key=lambda e: away(e["valve"])):
        ids = [*e.get("next_valves", []), *e.get("already_closed", [])]
        members = sorted((v for v in ids if v in valves and v not in taken), key=away)
        taken |= {e["valve"], *members}
        why = "stuck" if e.get("cause") == "inoperable" else "recorded broken"
        added = f"{len(e.get('pipes', []))} pipes, {e.get('length_m', 0):.1f} m more out"
        head = [e["valve"]] if e["valve"] in valves else []
        later.append((f"Because {e['valve']} is {why} ({added}): close instead", head + members))
    first = sorted((v for v in valves if v not in taken), key=away)
    groups = [("Bounding the break's own segment", first), *later] if first else later
    close = [v for _, vs in groups for v in vs if valves[v]["role"] == "close"]
    numbers = {v: i for i, v in enumerate(close, 1)}
    return [(h, [valves[v] | {"number": numbers.get(v)} for v in vs]) for h, vs in groups]


def _location(v: dict) -> str:
    if v.get("placed") == "node":
        return f"on node {_t(v.get('node'))}"
    at = f"along pipe {_t(v.get('pipe'))} at {_t(v.get('position_m'), ' m', '.1f')}"
    return at + (f" (node {_t(v['node'])})" if v.get("node") else "")


def _valve_row(v: dict) -> str:
    role, ll, road = v["role"], v["lonlat"], v["road"]
    kind = "close" if role == "close" else "stuck" if role.endswith("_passed") else "other"
    action = ACTIONS[role] + (" · supply beyond is cut" if v.get("leads_to_cut_off") else "")
    where = "—" if ll is None else f"{ll[0]:.6f}, {ll[1]:.6f}"
    near = "—" if road is None else f"{escape(road[0])} ({road[1]:.0f} m)"
    return (
        f'<tr class="valve {kind}"><td class="tick">{"" if kind == "stuck" else "☐"}</td>'
        f'<td class="num">{v["number"] or ""}</td><td class="id">{_t(v["asset_id"])}</td>'
        f'<td>{_t(v.get("valve_state"))}</td><td class="action">{escape(action)}</td>'
        f'<td>{_location(v)}</td><td>{where}</td><td class="road">{near}</td></tr>'
    )


def _table(cls: str, head: list[str], rows: list[str], foot: str = "") -> str:
    long = " long" if len(rows) > LONG_TABLE else ""
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    return (
        f'<table class="{cls}{long}"><thead><tr>{th}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody>{foot}</table>"
    )


def _valves(groups: list[tuple[str, list[dict]]]) -> str:
    rows = []
    for heading, vs in groups:
        rows.append(f'<tr class="group"><th colspan="8">{escape(heading)}</th></tr>')
        rows += [_valve_row(v) for v in vs]
    head = ["✓", "№", "valve", "state now", "action", "location", "lon, lat", "nearest road"]
    return _table("valves", head, rows)


def _pipes(pipes: list[dict], s: dict[str, Any]) -> str:
    rows = []
    for f in pipes:
        p = f["properties"]
        status = "isolated" if p["role"] == "isolated_pipe" else f"cut off, zone {p['zone']}"
        rows.append(
            f'<tr class="pipe"><td class="id">{_t(p["asset_id"])}</td><td>{escape(status)}</td>'
            f'<td class="num">{_t(p["from_m"], "", ".1f")}–{_t(p["to_m"], "", ".1f")}</td>'
            f'<td class="num">{_t(p["length_m"], "", ".1f")}</td>'
            f'<td class="num">{_t(p.get("diameter_mm"))}</td>'
            f'<td class="num">{_t(p.get("volume_m3"), "", ".2f")}</td>'
            f"<td>{_t(p.get('added_by'))}</td></tr>"
        )
    foot = "".join(
        f'<tr class="total {k}"><th colspan="3">{label}</th>'
        f'<th class="num length">{_t(s.get(f"{k}_length_m"), "", ".1f")}</th><th></th>'
        f'<th class="num volume">{_t(s.get(f"{k}_volume_m3"), "", ".2f")}</th><th></th></tr>'
        for k, label in (("isolated", "isolated"), ("cut_off", "cut off"), ("total", "total"))
    )
    head = ["pipe", "out", "from–to (m)", "length (m)", "DN (mm)", "volume (m³)", "added by"]
    return _table("pipes", head, rows, f"<tfoot>{foot}</tfoot>")


def _zones(pipes: list[dict], s: dict[str, Any]) -> str:
    if not s.get("cut_off_checked", True):
        return '<p class="warn">No tank, reservoir or source within reach: cut-off not checked.</p>'
    zones: dict[int, list[dict]] = {}
    for f in pipes:
        if f["properties"]["role"] == "cut_off_pipe":
            zones.setdefault(f["properties"]["zone"], []).append(f["properties"])
    if not zones:
        return "<p>No part of the network loses its path to a source.</p>"
    rows = [
        f'<tr class="zone"><td>{z}</td><td>{_t(sorted({p["asset_id"] for p in ps}))}</td>'
        f'<td class="num">{sum(p["length_m"] for p in ps):.1f}</td></tr>'
        for z, ps in sorted(zones.items())
    ]
    warn = (
        '<p class="warn">These zones lose supply when the valves close: no path is left to a '
        "tank, reservoir or source. Warn the customers there as well.</p>"
    )
    return warn + _table("zones", ["zone", "pipes", "length (m)"], rows)


def customers_section(s: dict[str, Any]) -> str:
    if s.get("customers_out") is None:
        return f"<p>Customers {_t(s.get('customers_method') or s.get('customers'))}.</p>"
    kinds = s.get("customers_out_by_kind") or {}
    facts = [("customers out", _t(s["customers_out"])), ("people out", _t(s.get("people_out")))]
    facts += [(f"· {k}", _t(n)) for k, n in sorted(kinds.items())]
    out = _facts(facts) + (
        f"<p>{_t(s['customers_method'])}</p>" if s.get("customers_method") else ""
    )
    crit = s.get("critical_customers") or []
    rows = [
        '<tr class="critical">' + "".join(f"<td>{_t(c.get(k))}</td>" for k in CRITICAL) + "</tr>"
        for c in crit
    ]
    if not rows:
        return out + "<p>No critical customer is out.</p>"
    head = ["customer", "name", "critical", "pipe", "out", "zone"]
    return out + "<h3>Critical customers: call them first</h3>" + _table("critical", head, rows)


def _facts(pairs: list[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in pairs)
    return f'<table class="facts">{rows}</table>'


def page(
    req: IsolateRequest,
    s: dict[str, Any],
    groups: list[tuple[str, list[dict]]],
    pipes: list[dict],
    svg: bytes,
) -> str:
    made = datetime.now(UTC).isoformat(timespec="seconds")
    scenario = f" · scenario {_t(req.scenario)}" if req.scenario else ""
    facts = [
        ("broken pipe", f'<span class="broken">{_t(s["broken_pipe"])}</span>'),
        ("utility", _t(s.get("utility"))),
        ("data as of", (_t(req.datetime_) if req.datetime_ else f"now ({made})") + scenario),
        ("generated at", made),
        (
            "stuck valves reported",
            _t(list(req.inoperable_valves)) if req.inoperable_valves else "none",
        ),
        ("valves to close", _t(s.get("valves_to_close"))),
    ]
    warn = ""
    if not s.get("complete", True):
        warn = '<p class="warn">The network goes on past the search radius: check beyond it.</p>'
    if s.get("valves_beyond_tolerance"):
        far = [u.get("valve") for u in s["valves_beyond_tolerance"]]
        warn += f'<p class="warn">Valves too far from any pipe to be used: {_t(far)}.</p>'
    body = [
        "<h1>Shut-off order · 关阀通知单</h1>",
        _facts(facts),
        warn,
        f"<figure>{inline_svg(svg)}</figure>",
        "<h2>Valves, in order</h2>",
        _valves(groups),
        "<h2>Pipes out</h2>",
        _pipes(pipes, s),
        "<h2>Cut-off zones</h2>",
        _zones(pipes, s),
        "<h2>Customers out</h2>",
        customers_section(s),
        "<h2>Signatures</h2>",
        '<table class="signatures"><tr><th>issued by</th><td></td><th>closed by</th><td></td>'
        "</tr><tr><th>closed at</th><td></td><th>restored at</th><td></td></tr></table>",
    ]
    title = f"Shut-off order {escape(str(s['broken_pipe']))}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )
