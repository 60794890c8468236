"""Self-contained folium maps of any layer, query answer or area, styled from the catalog.

Folium links Leaflet, jQuery and Bootstrap from CDNs and adds OpenStreetMap tiles; both would
make a map of buried pipelines phone home and break offline. Here Leaflet (from npm, in
web/node_modules at set-up) is inlined instead, nothing else is linked, and there is no tile
layer unless one is asked for, so the HTML opens with no network at all.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from functools import cache
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
from branca.element import Element, Figure
from sqlalchemy import Connection, Engine, text

from layers import LayerSpec
from layers.errors import TooLarge
from layers.query import DateTimeInterval, layer_source
from layers.spec import Style
from spatial_api.features.binds import Binds
from spatial_api.features.crs import storage_geometry
from spatial_api.features.params import BBox

# npm installs here at set-up (`npm ci --prefix web`); a checkout, not a wheel, is assumed.
WEB_ASSETS = Path(__file__).resolve().parents[2] / "web" / "node_modules"
LEAFLET = WEB_ASSETS / "leaflet" / "dist"
TOOLTIP_FIELDS = 8  # more attributes than this make a tooltip taller than the map
ANSWER_COLOR = "#ff6a00"
MAX_FIT_ZOOM = 16  # a single point would otherwise zoom out to the whole world


class MapAssetsMissing(RuntimeError):
    """web/node_modules is not installed: the map would have no Leaflet."""


def _rows(spec: LayerSpec, bbox: BBox | None, when: DateTimeInterval | None) -> tuple[str, dict]:
    """FROM … WHERE of a layer's rows in an area: the items' own bbox test, so counts agree."""
    source, params = layer_source(spec, when)
    if bbox is None:
        return source, params
    binds = Binds()
    box = storage_geometry(bbox.as_geojson(), bbox.crs, binds)
    return f"{source} WHERE ST_Intersects(t.geom, {box})", params | binds


COUNT_SQL = "SELECT count(*) FROM {rows}"


def count_layer(
    conn: Connection,
    spec: LayerSpec,
    *,
    bbox: BBox | None = None,
    when: DateTimeInterval | None = None,
) -> int:
    """How many rows `read_layer` would return with no limit."""
    rows, params = _rows(spec, bbox, when)
    return conn.execute(text(COUNT_SQL.format(rows=rows)), params).scalar_one()


def read_layer(
    conn: Connection | Engine,
    spec: LayerSpec,
    *,
    bbox: BBox | None = None,
    when: DateTimeInterval | None = None,
    limit: int | None = 5000,
    flat: bool = True,
) -> gpd.GeoDataFrame:
    """One layer's versions (valid now, at an instant or during a period), lon/lat.

    A layer is read whole or not at all: a map missing some pipes reads as "no pipe here",
    so more rows than `limit` is `TooLarge` with their count, never the first `limit`.
    `flat` drops Z (folium draws 2D); a GeoPackage keeps it.
    """
    rows, params = _rows(spec, bbox, when)
    cols = ", ".join(f"t.{a.name}" for a in spec.attributes)
    geom = "ST_Force2D(t.geom)" if flat else "t.geom"
    sql = (
        f"SELECT t.asset_id, t.version_id, lower(t.valid) AS valid_from, "
        f"upper(t.valid) AS valid_to, {cols}, {geom} AS geom "
        f"FROM {rows} ORDER BY t.version_id"
    )
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit + 1  # one more tells a cut from a fit
    frame = gpd.read_postgis(text(sql), conn, geom_col="geom", params=params)
    if limit is not None and len(frame) > limit:
        with conn.connect() if isinstance(conn, Engine) else nullcontext(conn) as c:
            n = count_layer(c, spec, bbox=bbox, when=when)
        raise TooLarge(
            f"{spec.id}: {n:,} features in the area, more than the {limit:,} a map is "
            "allowed (`limit`): narrow the area; a layer is never drawn cut short"
        )
    return frame


def feature_collection(frame: gpd.GeoDataFrame) -> dict[str, Any]:
    """GeoJSON with JSON-safe properties (dates as ISO text, NaN as null)."""
    if frame.crs is not None and frame.crs.to_epsg() not in (4326, 4490):
        frame = frame.to_crs(4326)
    return json.loads(frame.to_json(na="null", drop_id=True, default=_iso))


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _color(style: Style, props: Mapping[str, Any]) -> str:
    if style.color_by:
        return style.palette.get(str(props.get(style.color_by)), style.color)
    return style.color


def _style_function(style: Style):
    def style_feature(feature: Mapping[str, Any]) -> dict[str, Any]:
        color = _color(style, feature.get("properties") or {})
        if style.kind == "fill":
            return {
                "fillColor": color,
                "fillOpacity": style.opacity,
                "color": style.outline or color,
                "weight": 1,
                "opacity": 1,
            }
        if style.kind == "line":
            return {"color": color, "weight": style.width, "opacity": style.opacity}
        return {
            "color": style.outline or color,
            "fillColor": color,
            "weight": 1,
            "fill": True,
            "fillOpacity": style.opacity,
            "radius": style.radius,
        }

    return style_feature


def answer_style() -> Style:
    """How query answers stand out over the catalog's layers."""
    return Style(
        kind="circle", color=ANSWER_COLOR, outline="#7a3300", radius=7, width=3, opacity=0.45
    )


def _geojson(fc: dict[str, Any], name: str, style: Style, fields: Sequence[str]) -> folium.GeoJson:
    present = (
        set().union(*((f.get("properties") or {}).keys() for f in fc["features"]))
        if fc["features"]
        else set()
    )
    shown = [f for f in fields if f in present][:TOOLTIP_FIELDS]
    # folium refuses a tooltip field the first feature lacks: answers mix feature kinds
    # (a route and its approach), so every feature gets every shown field, null if absent.
    fc = {
        **fc,
        "features": [
            {**f, "properties": {k: None for k in shown} | (f.get("properties") or {})}
            for f in fc["features"]
        ],
    }
    tooltip = folium.GeoJsonTooltip(fields=shown) if shown else None
    marker = folium.CircleMarker(radius=style.radius)
    return folium.GeoJson(
        fc,
        name=name,
        style_function=_style_function(style),
        marker=marker,
        tooltip=tooltip,
        zoom_on_click=False,
    )


def _legend(entries: Iterable[tuple[str, Style]]) -> str:
    rows = []
    for title, style in entries:
        swatches = (
            [(title, style.color)]
            if not style.palette
            else [(f"{title}: {k}", v) for k, v in style.palette.items()]
        )
        for label, color in swatches:
            shape = (
                "border-radius:50%;"
                if style.kind == "circle"
                else "height:3px;margin-top:5px;"
                if style.kind == "line"
                else ""
            )
            rows.append(
                f'<div><span style="display:inline-block;width:12px;height:12px;'
                f'{shape}background:{color};margin-right:4px"></span>{label}</div>'
            )
    return (
        '<div class="citygis-legend" style="position:absolute;bottom:24px;right:8px;'
        "z-index:1000;background:#fffe;padding:6px 8px;font:12px sans-serif;"
        'max-height:40%;overflow:auto;border-radius:4px">' + "".join(rows) + "</div>"
    )


def render_map(
    layers: Sequence[tuple[LayerSpec, gpd.GeoDataFrame]] = (),
    answers: Mapping[str, dict[str, Any]] | None = None,
    *,
    bbox: BBox | None = None,
    title: str | None = None,
    tiles: str | None = None,
    attribution: str | None = None,
    answer_styles: Mapping[str, Style] | None = None,
) -> folium.Map:
    """A folium map whose HTML (`to_html`, `save`, notebook display) needs no network.

    Args:
        layers: catalog layers with their rows (`read_layer`), drawn in the given order.
        answers: named GeoJSON FeatureCollections (analysis results), drawn on top.
        bbox: the area to show (outlined); default: everything drawn.
        title: shown top-left.
        tiles: an optional XYZ basemap URL (then the page does use the network).
        answer_styles: a style per answer name (default: `answer_style()` for each).

    Examples:
        >>> from sqlalchemy import create_engine
        >>> from layers import Catalog
        >>> spec = Catalog()["shelters"]
        >>> rows = read_layer(create_engine(url), spec)  # url: a database with shelters
        >>> rows[["asset_id", "name", "capacity"]].values.tolist()
        [['S1', '中山公园', 5000]]
        >>> html = to_html(render_map([(spec, rows)], title="应急避难场所"))
        >>> '"asset_id": "S1"' in html, "<script src=" in html  # all inline: no fetch
        (True, False)
    """
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=True)
    _inline_leaflet(m)
    if tiles:
        folium.TileLayer(tiles, attr=attribution or "basemap", name="basemap").add_to(m)
    bounds: list[list[float]] = []
    legend: list[tuple[str, Style]] = []
    for spec, frame in layers:
        fc = feature_collection(frame)
        fields = ["asset_id", *(a.name for a in spec.attributes), "valid_from", "valid_to"]
        _geojson(fc, f"{spec.title} · {spec.title_zh}", spec.style, fields).add_to(m)
        legend.append((spec.title_zh, spec.style))
        if len(frame):
            minx, miny, maxx, maxy = frame.total_bounds
            bounds += [[miny, minx], [maxy, maxx]]
    for name, fc in (answers or {}).items():
        fields = sorted(
            set().union(*((f.get("properties") or {}).keys() for f in fc.get("features", []))) or []
        )
        style = (answer_styles or {}).get(name) or answer_style()
        _geojson(
            {"type": "FeatureCollection", "features": fc.get("features", [])},
            name,
            style,
            fields,
        ).add_to(m)
        legend.append((name, style))
        bounds += _fc_bounds(fc)
    if bbox is not None:
        west, south, east, north = bbox.lonlat()
        area = [[south, west], [north, east]]  # Leaflet order
        folium.Rectangle(
            area, color="#333", weight=1, dash_array="6 4", fill=False, name="area"
        ).add_to(m)
        m.fit_bounds(area, max_zoom=MAX_FIT_ZOOM)
    elif bounds:
        m.fit_bounds(
            [
                [min(b[0] for b in bounds), min(b[1] for b in bounds)],
                [max(b[0] for b in bounds), max(b[1] for b in bounds)],
            ],
            max_zoom=MAX_FIT_ZOOM,
        )
    folium.LayerControl(collapsed=False).add_to(m)
    html = _page(m).html
    if legend:
        html.add_child(Element(_legend(legend)), name="legend")
    if title:
        html.add_child(
            Element(
                '<div style="position:absolute;top:8px;left:50px;z-index:1000;background:#fffe;'
                f'padding:4px 8px;font:bold 14px sans-serif;border-radius:4px">{_escape(title)}'
                "</div>"
            ),
            name="title",
        )
    return m


def _page(m: folium.Map) -> Figure:
    """The page a map is drawn into (branca types `get_root()` as any Element)."""
    root = m.get_root()
    assert isinstance(root, Figure), "folium.Map puts itself in a Figure when created"
    return root


def to_html(m: folium.Map) -> str:
    """The whole page, Leaflet included."""
    return m.get_root().render()


def _fc_bounds(fc: Mapping[str, Any]) -> list[list[float]]:
    frame = gpd.GeoDataFrame.from_features(fc.get("features", []))
    if frame.empty or frame.geometry.is_empty.all():
        return []
    minx, miny, maxx, maxy = frame.total_bounds
    return [[miny, minx], [maxy, maxx]]


def _escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _inline_leaflet(m: folium.Map) -> None:
    js, css = leaflet_assets()
    m.default_js = []
    m.default_css = []
    header = _page(m).header
    header.add_child(Element(f"<style>{css}</style>"), name="leaflet_css")
    header.add_child(Element(f"<script>{js}</script>"), name="leaflet")


@cache
def leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS, the CSS's images turned into data: URIs."""
    if not (LEAFLET / "leaflet.js").is_file():
        raise MapAssetsMissing(
            f"{LEAFLET} is missing: run `npm ci --prefix web` (./dev does it at set-up)"
        )
    js = (LEAFLET / "leaflet.js").read_text(encoding="utf-8")
    css = (LEAFLET / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode((LEAFLET / match.group(1)).read_bytes()).decode()
        return f"url(data:image/png;base64,{data})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", inline, css)
    return js.replace("</script", "<\\/script"), css
