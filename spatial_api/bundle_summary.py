"""A bundle's printable summary: one HTML page with print CSS, no script, no network."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

CSS = """
body { font: 13px/1.4 "Noto Sans CJK SC", sans-serif; margin: 16px; color: #111 }
h1 { font-size: 20px } h2 { font-size: 15px; margin-top: 18px; border-bottom: 1px solid #999 }
table { border-collapse: collapse; margin: 6px 0 } td, th { border: 1px solid #bbb;
  padding: 2px 6px; text-align: left; vertical-align: top } th { background: #eee }
td.n { text-align: right; font-variant-numeric: tabular-nums } .note { color: #a33 }
@media print { body { margin: 0 } h2 { break-after: avoid } tr { break-inside: avoid }
  @page { size: A4; margin: 12mm } }
"""
Row = Mapping[str, Any]
BASIS = ("visit_h", "open_h")  # the visitors' assumptions, the same in every ring


@dataclass
class Summary:
    """What the page says; every section is optional but the layer counts."""

    role: str = ""
    as_of: datetime | None = None
    scenario: str | None = None  # a what-if (a drill's), not the live city
    counts: dict[str, int] = field(default_factory=dict)
    incident: dict[str, Any] | None = None
    timeline: list[Row] = field(default_factory=list)
    zones: list[Row] = field(default_factory=list)
    impact: list[Row] = field(default_factory=list)
    shelters: list[Row] = field(default_factory=list)
    responders: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _cell(value: Any) -> str:
    if value is None:
        return "<td>–</td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, int | float):
        text = f"{value:,.0f}" if isinstance(value, int) or abs(value) >= 100 else f"{value:,.1f}"
        return f'<td class="n">{text}</td>'
    if isinstance(value, datetime):
        return f"<td>{escape(value.isoformat(timespec='minutes'))}</td>"
    return f"<td>{escape(str(value))}</td>"


def table(rows: Sequence[Row], columns: Sequence[str]) -> str:
    """Rows as a table of the named columns (missing ones shown as –)."""
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(r.get(c)) for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _section(title: str, content: str) -> str:
    return f"<h2>{escape(title)}</h2>{content}"


def summary_html(title: str, s: Summary) -> str:
    as_of = s.as_of.isoformat(timespec="minutes") if s.as_of else "now (when made)"
    parts = [
        f"<h1>{escape(title)}</h1>",
        f"<p>As of {escape(as_of)} · made for role <b>{escape(s.role)}</b> · "
        "layers hold only what this role may read</p>",
    ]
    if s.scenario is not None:
        parts.append(
            f"<p><b>Scenario {escape(s.scenario)}</b>: the city with this scenario's edits, "
            "not the live city</p>"
        )
    if s.incident is not None:
        rows = [{"attribute": k, "value": v} for k, v in s.incident.items()]
        parts.append(_section("Incident", table(rows, ["attribute", "value"])))
        parts.append(
            _section("Status timeline", table(s.timeline, ["at", "status", "text", "role"]))
        )
        parts.append(_section("Zones", table(s.zones, ["zone", "area_m2", "edition", "source"])))
        parts.append(_section("Impact, ring by ring", _impact(s.impact)))
        parts.append(
            _section(
                "Shelters assigned",
                table(s.shelters, ["asset_id", "name", "capacity_used", "assigned", "remaining"]),
            )
        )
        parts.append(
            _section(
                "Responders",
                table(s.responders, ["rank", "asset_id", "name", "kind", "duration_s"]),
            )
        )
    counts = [{"layer": k, "features": v} for k, v in s.counts.items()]
    parts.append(_section("Layers in the GeoPackage", table(counts, ["layer", "features"])))
    if s.notes:
        items = "".join(f'<li class="note">{escape(n)}</li>' for n in s.notes)
        parts.append(_section("Notes", f"<ul>{items}</ul>"))
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        + "".join(parts)
        + "</body></html>"
    )


def _impact(rings: Sequence[Row]) -> str:
    """Ring summaries transposed: one row per count, one column per ring (and the total)."""
    if not rings:
        return "<p>none</p>"
    names = [str(r.get("ring") or "total") for r in rings]
    keys = [k for k in rings[0] if k not in ("role", "ring", "ring_index", "withheld", *BASIS)]
    keys = [k for k in keys if any(r.get(k) not in (None, 0, 0.0) for r in rings)]
    rows = [{"count": k} | {n: r.get(k) for n, r in zip(names, rings, strict=True)} for k in keys]
    withheld = rings[0].get("withheld") or []
    note = f"<p class='note'>withheld from this role: {escape(', '.join(withheld))}</p>"
    return table(rows, ["count", *names]) + (note if withheld else "")
