"""Offline bundles: one zip a field team opens with no network at all.

A bundle covers an area (a bbox, or an incident's zone with a margin) as of one instant:

- `map.html`: a folium page with Leaflet inlined and no tile basemap; the districts and
  roads are drawn as vectors instead, under what the bundle is about;
- `layers.gpkg`: every layer the caller may read, each feature the items would return for
  that bbox (`ST_Intersects`, the items' own test), whole: geometry unclipped, Z kept,
  storage CRS (EPSG:4490);
- `summary.html`: a printable page (print CSS) of what is in it;
- `manifest.json`: area, instant, role and each layer's count, for scripts.

Nothing is cut silently: every layer comes whole, or the bundle is refused (413) naming
each layer's count when together they hold more than `max_features`.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import geopandas as gpd
from fastapi import Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.concurrency import run_in_threadpool

from layers import Catalog, LayerSpec
from layers.access import Principal
from layers.errors import InvalidParameter, TooLarge
from layers.query import DateTimeInterval
from layers.spec import Style
from spatial_api.bundle_gpkg import geopackage
from spatial_api.bundle_summary import Summary, summary_html
from spatial_api.features.crs import parse_crs
from spatial_api.features.params import BBox
from spatial_api.maps.folium_map import count_layer, read_layer, render_map, to_html

METRES_PER_DEGREE = 111_320.0  # of latitude; enough for a margin
BASE_LAYERS = ("districts", "roads")  # vectors in place of a tile basemap
ON_MAP = (*BASE_LAYERS, "incidents")


class BundleSettings(BaseSettings):
    """How big a bundle may grow (CITYGIS_BUNDLE_MAX_FEATURES)."""

    model_config = SettingsConfigDict(env_prefix="CITYGIS_BUNDLE_", env_file=".env", extra="ignore")

    max_features: int = Field(
        default=100_000, ge=1, description="Most features one bundle holds, all layers together"
    )


async def get_bundle_settings(request: Request) -> BundleSettings:
    """Read from the environment once per app, on the first bundle asked for."""
    state = request.app.state
    if not hasattr(state, "bundle_settings"):
        state.bundle_settings = BundleSettings()
    return state.bundle_settings


@dataclass
class Bundle:
    """What goes into the zip besides the layers: the map's overlays and the summary."""

    name: str
    title: str
    when: DateTimeInterval | None
    area: BBox | None = None  # an incident's comes from its zone
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    styles: dict[str, Style] = field(default_factory=dict)
    extra_layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    summary: Summary = field(default_factory=Summary)


def instant(text: str | None, scenario: str | None = None) -> DateTimeInterval | None:
    """`datetime` as one instant: a bundle is the city at one moment, not a period (in a
    scenario, e.g. a drill's, when one is named)."""
    when = DateTimeInterval.parse(text, None, scenario)
    if when is not None and when.period:
        raise InvalidParameter("datetime: a bundle is the city at one instant, not an interval")
    return when


def area_around(bounds: Sequence[float], margin_m: float) -> BBox:
    """A lon/lat box `margin_m` beyond `bounds` (west, south, east, north) on every side."""
    west, south, east, north = bounds
    dy = margin_m / METRES_PER_DEGREE
    dx = dy / max(math.cos(math.radians(max(abs(south), abs(north)))), 1e-6)
    return BBox(
        max(west - dx, -180),
        max(south - dy, -90),
        min(east + dx, 180),
        min(north + dy, 90),
        parse_crs(None, "bbox-crs"),
    )


async def layer_counts(
    conn: AsyncConnection, specs: Sequence[LayerSpec], bundle: Bundle
) -> dict[str, int]:
    return {
        s.id: await conn.run_sync(count_layer, s, bbox=bundle.area, when=bundle.when) for s in specs
    }


def check_fits(counts: Mapping[str, int], limit: int) -> None:
    total = sum(counts.values())
    if total <= limit:
        return
    listed = ", ".join(
        f"{layer} {n:,}" for layer, n in sorted(counts.items(), key=lambda kv: -kv[1]) if n
    )
    raise TooLarge(
        f"the area holds {total:,} features, more than the {limit:,} a bundle may "
        f"(CITYGIS_BUNDLE_MAX_FEATURES): {listed}. Narrow the area; no layer is ever cut"
    )


async def build(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    bundle: Bundle,
    settings: BundleSettings,
) -> bytes:
    """The zip: count, refuse or read every visible layer whole, then draw and pack."""
    assert bundle.area is not None, "an incident bundle's area is set from its zone"
    specs = principal.displayed(catalog)  # restricted layers' public views included
    counts = await layer_counts(conn, specs, bundle)
    check_fits(counts, settings.max_features)
    frames = {  # Z kept for the GeoPackage; Leaflet ignores it
        s.id: await conn.run_sync(
            read_layer, s, bbox=bundle.area, when=bundle.when, limit=None, flat=False
        )
        for s in specs
    }
    bundle.summary.counts = counts
    bundle.summary.role = principal.role.name
    bundle.summary.as_of = bundle.when.start if bundle.when else None
    bundle.summary.scenario = bundle.when.scenario if bundle.when else None
    return await run_in_threadpool(_pack, bundle, specs, frames, counts)


def _pack(
    bundle: Bundle,
    specs: Sequence[LayerSpec],
    frames: Mapping[str, gpd.GeoDataFrame],
    counts: Mapping[str, int],
) -> bytes:
    page = render_map(
        [(s, frames[s.id]) for s in specs if s.id in ON_MAP],
        bundle.answers,
        bbox=bundle.area,
        title=bundle.title,
        answer_styles=bundle.styles,
    )
    files = {
        "map.html": to_html(page).encode(),
        "layers.gpkg": geopackage([(s, frames[s.id]) for s in specs], bundle.extra_layers),
        "summary.html": summary_html(bundle.title, bundle.summary).encode(),
        "manifest.json": json.dumps(
            _manifest(bundle, counts), ensure_ascii=False, indent=1, default=str
        ).encode(),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(f"{bundle.name}/{name}", data)
    return buf.getvalue()


def _manifest(bundle: Bundle, counts: Mapping[str, int]) -> dict[str, Any]:
    assert bundle.area is not None
    return {
        "title": bundle.title,
        "bbox": list(bundle.area.lonlat()),
        "bbox_crs": "CRS84",
        "datetime": bundle.when.start if bundle.when else None,
        "scenario": bundle.when.scenario if bundle.when else None,
        "made_at": datetime.now().astimezone(),
        "role": bundle.summary.role,
        "layers": dict(counts),
        "layers_crs": "EPSG:4490",
        "extra_layers": {k: len(v) for k, v in bundle.extra_layers.items()},
        "files": ["map.html", "layers.gpkg", "summary.html", "manifest.json"],
    }


async def primary_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """The primary, though a GET: the analyses build temporary road graphs, and a hot
    standby refuses temporary tables."""
    async with request.app.state.reads.primary.connect() as conn:
        yield conn


def safe_name(text: str) -> str:
    """A file name from an id: a Content-Disposition header must not carry quotes."""
    return re.sub(r"[^\w.-]", "_", text)[:80] or "bundle"
