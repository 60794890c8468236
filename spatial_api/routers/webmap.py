"""The map: the MapLibre page at /map, and self-contained folium pages of layers and answers.

Browser assets come from npm (web/node_modules, installed at set-up) and are served from
here, so the page loads nothing from anyone else; a basemap is only used when configured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import shapely
import shapely.errors
import shapely.geometry
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from geojson_pydantic import Feature, FeatureCollection
from geojson_pydantic.geometries import Geometry
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from layers.errors import InvalidFeatures
from spatial_api.deps import CatalogDep, ConnDep, LayerDep, PrincipalDep
from spatial_api.features.crs import parse_crs
from spatial_api.features.params import BBox
from spatial_api.maps.folium_map import (
    WEB_ASSETS,
    MapAssetsMissing,
    leaflet_assets,
    read_layer,
    render_map,
    to_html,
)
from spatial_api.params import BBoxDep, WhenDep
from spatial_api.routing import StrictRoute

STATIC = Path(__file__).resolve().parents[1] / "static"
MAPLIBRE = WEB_ASSETS / "maplibre-gl" / "dist"
MAX_FEATURES = 20_000  # a folium page carries every feature inline

router = APIRouter(tags=["map"], route_class=StrictRoute)
router.mount("/static/map", StaticFiles(directory=STATIC), name="map-static")
# check_dir=False: a missing npm install is reported by /map, not by an import error.
router.mount(
    "/static/vendor/maplibre-gl",
    StaticFiles(directory=MAPLIBRE, check_dir=False),
    name="maplibre-gl",
)


class MapConfig(BaseModel):
    basemap_url: str | None
    basemap_gcj02: bool
    tile_matrix_set: str = "WebMercatorQuad"


class MapSession(BaseModel):
    """Who the page's token speaks for; `writes` decides whether the editing panel shows."""

    role: str
    name: str | None
    writes: list[str] = Field(description="ids of the layers this caller may see and write")


# Feature[G, P] already allows a null geometry and null properties (`G | None`, `P | None`).
class AnswerCollection(FeatureCollection[Feature[Geometry, dict[str, Any]]]):
    """A GeoJSON FeatureCollection checked feature by feature (RFC 7946, geojson-pydantic),
    so a feature without a type or with a malformed geometry is a 422, not a 500."""

    features: list[Feature[Geometry, dict[str, Any]]] = Field(max_length=MAX_FEATURES)


def _drawable(answer: AnswerCollection) -> None:
    """RFC 7946's shapes can still hold what no geometry is (a line mixing 2D and 3D
    positions): each is read as shapely reads it, and every one that fails is named."""
    problems = []
    for i, f in enumerate(answer.features):
        if f.geometry is None:
            continue
        try:
            shapely.geometry.shape(f.geometry.model_dump(mode="json", exclude_none=True))
        except (ValueError, TypeError, shapely.errors.ShapelyError) as exc:
            why = "positions mix 2D and 3D" if "inhomogeneous" in str(exc) else str(exc)
            problems.append({"feature": i, "reason": f"features[{i}].geometry: {why}"})
    if problems:
        raise InvalidFeatures(problems)


def _need_assets() -> None:
    if not (MAPLIBRE / "maplibre-gl.js").is_file():
        raise HTTPException(503, f"{MAPLIBRE} is missing: run `npm ci --prefix web`")


async def _html(m_args: dict[str, Any]) -> HTMLResponse:
    try:
        leaflet_assets()
    except MapAssetsMissing as exc:
        raise HTTPException(503, str(exc)) from None
    page = await run_in_threadpool(lambda: to_html(render_map(**m_args)))
    return HTMLResponse(page)


@router.get("/map", response_class=FileResponse, include_in_schema=False)
async def web_map(
    scenario: Annotated[
        str | None, Query(max_length=200, description="Open showing this scenario")
    ] = None,
) -> FileResponse:
    """The interactive map; `?token=` unlocks restricted layers in it, and `?scenario=` (which
    the page keeps in its URL) reopens a scenario: the page reads both itself."""
    _need_assets()
    return FileResponse(STATIC / "map.html", media_type="text/html")


@router.get("/map/config.json", response_model=MapConfig)
async def map_config(request: Request) -> MapConfig:
    settings = request.app.state.settings
    return MapConfig(basemap_url=settings.basemap_url, basemap_gcj02=settings.basemap_gcj02)


@router.get("/map/session.json", response_model=MapSession)
async def map_session(catalog: CatalogDep, principal: PrincipalDep) -> MapSession:
    writable = [s.id for s in principal.visible(catalog) if principal.may_write(s)]
    return MapSession(role=principal.role.name, name=principal.name, writes=writable)


LimitQuery = Annotated[int, Query(ge=1, le=MAX_FEATURES, description="features per layer")]


@router.get("/collections/{layer_id}/map.html", response_class=HTMLResponse)
async def layer_map(
    layer: LayerDep, conn: ConnDep, bbox: BBoxDep, when: WhenDep, limit: LimitQuery = 5000
) -> HTMLResponse:
    """One layer as a self-contained HTML map (Leaflet inlined, no tiles, no network)."""
    frame = await conn.run_sync(read_layer, layer, bbox=bbox, when=when, limit=limit)
    return await _html(
        {"layers": [(layer, frame)], "bbox": bbox, "title": f"{layer.title_zh} {layer.title}"}
    )


@router.get("/map/area.html", response_class=HTMLResponse)
async def area_map(
    catalog: CatalogDep,
    principal: PrincipalDep,
    conn: ConnDep,
    bbox: Annotated[str, Query(max_length=200, description="minx,miny,maxx,maxy in bbox-crs")],
    when: WhenDep,
    bbox_crs: Annotated[
        str | None, Query(alias="bbox-crs", max_length=200, description="default CRS84")
    ] = None,
    layers: Annotated[
        str,
        Query(max_length=500, description="comma-separated layer ids; default: every public one"),
    ] = "",
    limit: LimitQuery = 5000,
) -> HTMLResponse:
    """An area: several layers clipped to a bbox, as one self-contained HTML map."""
    area = BBox.parse(bbox, parse_crs(bbox_crs, "bbox-crs"))
    ids = [i.strip() for i in layers.split(",") if i.strip()] or [
        s.id for s in principal.visible(catalog)
    ]
    specs = [catalog[i] for i in ids]  # LayerNotFound → 404
    principal.refuse_hidden(specs)
    frames = [
        (s, await conn.run_sync(read_layer, s, bbox=area, when=when, limit=limit)) for s in specs
    ]
    return await _html({"layers": frames, "bbox": area, "title": f"area {bbox}"})


@router.post("/map/answer.html", response_class=HTMLResponse)
async def answer_map(
    answer: Annotated[AnswerCollection, Body()],
    title: Annotated[str, Query(max_length=200)] = "answer",
) -> HTMLResponse:
    """A query answer (GeoJSON FeatureCollection) as a self-contained HTML map."""
    _drawable(answer)
    # A feature with a null geometry has no place on a map; the others are drawn.
    features = [
        {
            "type": "Feature",
            "id": f.id,
            "geometry": f.geometry.model_dump(mode="json", exclude_none=True),
            "properties": f.properties or {},
        }
        for f in answer.features
        if f.geometry is not None
    ]
    return await _html(
        {"answers": {title: {"type": "FeatureCollection", "features": features}}, "title": title}
    )
