"""The dig report as a printable page: whom to call, the section, a table per asset.

Built from the GeoJSON answer's properties, so the page and the GeoJSON cannot disagree.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from layers.common import UTILITY_COLORS

BASES = {
    "z": "Z along the pipe, below the ground line between its ends",
    "z_as_depth": "−Z (no cover depth recorded)",
    "end_depths": "cover depth interpolated between the ends",
    "unknown": "unknown",
}
CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font: 10pt/1.35 system-ui, sans-serif; color: #111; max-width: 190mm; margin: auto; }
h1 { font-size: 16pt; margin: 0 0 2mm; } h2 { font-size: 12pt; margin: 5mm 0 2mm; }
table { border-collapse: collapse; width: 100%; margin-bottom: 3mm; break-inside: avoid; }
th, td { border: 1px solid #999; padding: 1mm 2mm; text-align: left; vertical-align: top; }
th { background: #eee; width: 32%; } thead th { width: auto; }
.risk { color: #fff; background: #c00000; padding: 0 2mm; font-weight: bold; }
.safe { color: #fff; background: #2a7a2a; padding: 0 2mm; }
.unknown { background: #ffd966; padding: 0 2mm; }
.swatch { display: inline-block; width: 3mm; height: 3mm; margin-right: 1mm; }
figure { margin: 0; break-inside: avoid; } figure svg { width: 100%; height: auto; }
.asset { break-inside: avoid; }
@media print { a { color: inherit; text-decoration: none; } }
"""


def _v(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return escape(", ".join(map(str, value))) or "—"
    return escape(f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}")


def _risk(at_risk: bool | None) -> str:
    if at_risk is None:
        return '<span class="unknown">unknown: locate by hand</span>'
    return '<span class="risk">AT RISK</span>' if at_risk else '<span class="safe">below</span>'


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in pairs)


def _phone(p: dict[str, Any]) -> str:
    phone = p.get("owner_phone_24h") or p.get("phone_24h")
    if not phone:
        return "—"
    dial = re.sub(r"[^\d+]", "", phone)  # "0532-0000-0101 (synthetic)" dials 053200000101
    return f'<a href="tel:{dial}">{escape(phone)}</a>'


def _owners(summary: dict[str, Any]) -> str:
    head = "<tr><th>owner</th><th>utilities</th><th>24-hour phone</th><th>email</th>"
    head += "<th>contact</th><th>address</th></tr>"
    rows = [
        f"<tr><td>{_v(o['name'])}</td><td>{_v(o.get('utility'))}</td><td>{_phone(o)}</td>"
        f"<td>{_v(o.get('email'))}</td><td>{_v(o.get('contact'))}</td>"
        f"<td>{_v(o.get('address'))}</td></tr>"
        for o in summary["owners"]
    ]
    rows += [
        f'<tr><td>{_v(n)}</td><td colspan="5"><span class="unknown">no owners row of this '
        "name: find the owner before digging</span></td></tr>"
        for n in summary["owners_unknown"]
    ]
    if not rows:
        rows = ['<tr><td colspan="6">no owner recorded for any asset here</td></tr>']
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _owner_cell(p: dict[str, Any]) -> str:
    if p["owner"] is None:
        return "not recorded"
    known = "" if p["owner_known"] else ' <span class="unknown">no owners row</span>'
    return f"{_v(p['owner'])}{known} · {_phone(p)}"


def _pipe(p: dict[str, Any]) -> str:
    colour = UTILITY_COLORS.get(p.get("utility") or "", "#666")
    title = (
        f'<span class="swatch" style="background:{colour}"></span>{_v(p["asset_id"])} · '
        f"{_v(p.get('utility'))} DN{_v(p.get('diameter_mm'))} {_v(p.get('material'))}"
    )
    basis = escape(BASES[p["depth_basis"]])
    rows = [
        ("at risk", _risk(p["at_risk"])),
        (
            "depth entering / leaving",
            f"{_v(p['depth_enter_m'], ' m')} / {_v(p['depth_leave_m'], ' m')}",
        ),
        ("depth min / max inside", f"{_v(p['depth_min_m'], ' m')} / {_v(p['depth_max_m'], ' m')}"),
        ("top of pipe, shallowest", _v(p["top_min_m"], " m")),
        ("depth from", basis),
        ("pressure class, status", f"{_v(p.get('pressure_class'))}, {_v(p.get('status'))}"),
        (
            "inside, along the pipe",
            f"{_v(p['chainage_enter_m'], ' m')} to "
            f"{_v(p['chainage_leave_m'], ' m')} ({_v(p['length_inside_m'], ' m')})",
        ),
        ("nodes and valves inside", _v(p["nodes_inside"])),
        ("owner", _owner_cell(p)),
    ]
    return f'<div class="asset"><h3>{title}</h3><table>{_rows(rows)}</table></div>'


def _nodes(nodes: list[dict[str, Any]]) -> str:
    if not nodes:
        return "<p>No pipe node or valve inside the dig.</p>"
    head = "<tr><th>node</th><th>utility</th><th>kind</th><th>valve</th><th>depth</th>"
    head += "<th>at risk</th><th>owner</th></tr>"
    rows = "".join(
        f"<tr><td>{_v(n['asset_id'])}</td><td>{_v(n.get('utility'))}</td>"
        f"<td>{_v(n.get('node_kind'))}</td><td>{_v(n.get('valve_state'))}</td>"
        f"<td>{_v(n['depth_m'], ' m')}</td><td>{_risk(n['at_risk'])}</td>"
        f"<td>{_owner_cell(n)}</td></tr>"
        for n in nodes
    )
    return f"<table><thead>{head}</thead><tbody>{rows}</tbody></table>"


def inline_svg(svg: bytes) -> str:
    """matplotlib's SVG without its XML prologue, to sit inside HTML."""
    text = svg.decode("utf-8")
    return text[re.search(r"<svg[\s>]", text).start() :]  # type: ignore[union-attr]


def html(features: list[dict[str, Any]], svg: bytes) -> str:
    summary = features[0]["properties"]
    props = [f["properties"] for f in features[1:]]
    risk_first = {True: 0, None: 1, False: 2}  # what the crew must watch for, first
    pipes = sorted(
        (p for p in props if p["kind"] == "pipe"),
        key=lambda p: (risk_first[p["at_risk"]], p["asset_id"]),
    )
    nodes = [p for p in props if p["kind"] == "node"]
    when = summary["datetime"] or "now"
    scenario = f" · scenario {_v(summary['scenario'])}" if summary["scenario"] else ""
    facts = [
        ("as of", f"{_v(when)}{scenario}"),
        (
            "dig",
            f"{_v(summary['area_m2'], ' m²')}, tolerance zone "
            f"{_v(summary['tolerance_m'], ' m')} each side",
        ),
        (
            "dig depth",
            _v(summary["depth_m"], " m") if summary["depth_m"] else "not given: at risk unknown",
        ),
        ("assets", f"{len(pipes)} pipes, {len(nodes)} nodes; {summary['at_risk']} at risk"),
    ]
    body = [
        "<h1>Dig report</h1>",
        f"<table>{_rows(facts)}</table>",
        "<h2>Whom to call</h2>",
        _owners(summary),
        "<h2>Cross-section</h2>",
        f"<figure>{inline_svg(svg)}</figure>",
        "<h2>Pipes</h2>",
        "".join(_pipe(p) for p in pipes) or "<p>No pipe crosses the dig.</p>",
        "<h2>Nodes and valves</h2>",
        _nodes(nodes),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Dig report</title>'
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )
