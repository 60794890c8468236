"""Buffer, overlay and location services whose answers become result layers.

The location-service and result routers are mounted here so the app picks them up through
this router; they can equally be included in `create_app` on their own.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import HTMLResponse

from spatial_api.analysis import buffer as buffer_ops
from spatial_api.analysis import clearance as clearance_ops
from spatial_api.analysis import coverage as coverage_ops
from spatial_api.analysis import coverage_compare as coverage_compare_ops
from spatial_api.analysis import coverage_stats as coverage_stats_ops
from spatial_api.analysis import coverage_tiles as coverage_tiles_ops
from spatial_api.analysis import dig as dig_ops
from spatial_api.analysis import dig_answer, incident_zones, isolation, shutoff_order
from spatial_api.analysis import overlay as overlay_ops
from spatial_api.analysis import site_sharing as site_sharing_ops
from spatial_api.analysis import siting as siting_ops
from spatial_api.analysis import trace as trace_ops
from spatial_api.analysis.answer import answer
from spatial_api.analysis.coverage_models import (
    CoverageRequest,
    CoverageStatsRequest,
    CoverageTileQuery,
)
from spatial_api.analysis.dig_models import DigRequest
from spatial_api.analysis.hazard_models import HazardZoneCollection, HazardZoneRequest
from spatial_api.analysis.models import (
    BufferRequest,
    ClearanceRequest,
    FeatureCollection,
    IsolateRequest,
    OverlayRequest,
)
from spatial_api.analysis.site_sharing_models import SiteSharingRequest
from spatial_api.analysis.siting_models import SitingRequest
from spatial_api.analysis.trace_models import TraceRequest
from spatial_api.deps import CatalogDep, ConnDep, PrincipalDep
from spatial_api.routing import StrictRoute
from spatial_api.tile_http import TileDep

router = APIRouter(tags=["analysis"], route_class=StrictRoute)


@router.post("/analysis/buffer", response_model=FeatureCollection)
async def buffer(
    req: BufferRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """Buffer a geometry or a layer's features by metres; each feature gets area_m2."""
    features, restricted = await buffer_ops.buffer(conn, catalog, principal, req)
    return await answer(conn, "buffer", req, features, restricted, principal)


@router.post("/analysis/overlay", response_model=FeatureCollection)
async def overlay(
    req: OverlayRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """Overlay layer a with layer b or a geometry; group_by totals length_m/area_m2."""
    features, restricted = await overlay_ops.overlay(conn, catalog, principal, req)
    return await answer(conn, "overlay", req, features, restricted, principal)


@router.post("/analysis/coverage", response_model=FeatureCollection)
async def coverage(
    req: CoverageRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """Sector coverage from each sector's link budget on a grid, or fixed-radius wedges.

    The first feature (no geometry) says how: models, thresholds, assumed values, sectors
    skipped, the flat earth. Then per sector (or dissolved) coverage, best-server areas or
    overlap (pilot pollution) polygons, with area_m2. Per-district numbers and holes:
    /analysis/coverage/stats.
    """
    features, restricted = await coverage_ops.coverage(conn, catalog, principal, req)
    return await answer(conn, "coverage", req, features, restricted, principal)


@router.post("/analysis/coverage/stats", response_model=FeatureCollection)
async def coverage_stats(
    req: CoverageStatsRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """Covered km² and % per area (districts, any polygon layer, a drawn polygon) and operator.

    After the summary: one feature per area and operator (no geometry; 0 % where nothing
    reaches), then its holes as polygons with area_m2, ranked largest first.
    """
    features, restricted = await coverage_stats_ops.coverage_stats(conn, catalog, principal, req)
    return await answer(conn, "coverage-stats", req, features, restricted, principal)


@router.post("/analysis/coverage/compare", response_model=FeatureCollection)
async def coverage_compare(
    req: coverage_compare_ops.CoverageCompareRequest,
    conn: ConnDep,
    catalog: CatalogDep,
    principal: PrincipalDep,
) -> FeatureCollection:
    """Coverage a scenario gains and loses against the live city, per area and operator.

    Computed only where the sectors the scenario changed reach. After the summary: one
    feature per area and operator (gained_km2, lost_km2, covered_before_pct,
    covered_after_pct), then the gained and lost polygons with geodesic area_m2.
    """
    features, restricted = await coverage_compare_ops.coverage_compare(
        conn, catalog, principal, req
    )
    return await answer(conn, "coverage-compare", req, features, restricted, principal)


@router.get(
    "/analysis/coverage/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def coverage_tile(
    tile: TileDep,
    q: Annotated[CoverageTileQuery, Query()],
    conn: ConnDep,
    catalog: CatalogDep,
    principal: PrincipalDep,
) -> Response:
    """Received power (red at the threshold to green at −60 dBm) or best server, as PNG."""
    png = await coverage_tiles_ops.coverage_tile(conn, catalog, principal, tile, q)
    return Response(png, media_type="image/png")


@router.post("/analysis/isolate", response_model=FeatureCollection)
async def isolate(
    req: IsolateRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """Which valves to close for a pipe break: its valve segment, as WNTR defines it.

    The first feature (no geometry) is the summary (totals, stuck-valve extensions, valves
    beyond the snap tolerance); then valves (role close, already_closed, broken_passed,
    stuck_passed), the stretches of pipe shut off (isolated_pipe) and those left with no
    path to a source (cut_off_pipe, by zone). Restricted: needs a token.
    """
    features, restricted = await isolation.isolate(conn, catalog, principal, req)
    return await answer(conn, "isolate", req, features, restricted, principal)


@router.post("/analysis/isolate/order.html", response_class=HTMLResponse)
async def isolate_order(
    req: IsolateRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> HTMLResponse:
    """The isolation as a printable A4 shut-off order (关阀通知单) for the crew: a map, the
    valves in the order to close them with their nearest road, the pipes and customers out."""
    return HTMLResponse(await shutoff_order.printable(conn, catalog, principal, req))


@router.post("/analysis/trace", response_model=FeatureCollection)
async def trace(
    req: TraceRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """Downstream, upstream or connected trace from a pipe, a node or a point and utility.

    The first feature (no geometry) is the summary (pipes, length_m, nodes, max_depth,
    complete); then the pipes reached in order (depth: pipes from the start, flow_from,
    flow_to), then the nodes they touch. Drainage flows by invert levels, pressurised
    networks away from their sources. Restricted: needs a token.
    """
    features, restricted = await trace_ops.trace(conn, catalog, principal, req)
    return await answer(conn, "trace", req, features, restricted, principal)


@router.post("/analysis/clearance", response_model=FeatureCollection)
async def clearance(
    req: ClearanceRequest,
    conn: ConnDep,
    catalog: CatalogDep,
    principal: PrincipalDep,
    request: Request,
) -> FeatureCollection:
    """Wall-to-wall clearances between pipes in a dig area, or around a planned pipe.

    One feature per close pair (the shortest line between them): horizontal_m, vertical_m,
    crossing, the pair's required_m from GB 50289-2016 with its clause (or the request's
    `clearances`, or the project's CITYGIS_CLEARANCES_FILE), and violation. Restricted.
    """
    project = request.app.state.clearance_rules
    features, restricted = await clearance_ops.clearance(conn, catalog, principal, req, project)
    return await answer(conn, "clearance", req, features, restricted, principal)


@router.post("/analysis/dig", response_model=FeatureCollection)
async def dig(
    req: DigRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """What is buried under a dig: depths entering and leaving it, min and max inside,
    at_risk against depth_m, the owner with contacts, the nodes and valves inside.

    The first feature is the summary (the tolerance zone: owners to call, the section's
    crossings); then each pipe's portion inside, then each node. The same report prints
    at /analysis/dig/report.html, its section at /analysis/dig/section.svg. Restricted.
    """
    report = await dig_ops.dig_report(conn, catalog, principal, req)
    return await answer(conn, "dig", req, dig_answer.features(report), True, principal)


@router.post("/analysis/dig/report.html", response_class=HTMLResponse)
async def dig_report(
    req: DigRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> HTMLResponse:
    """The dig report as a printable A4 page: whom to call, the section, a table per asset."""
    return HTMLResponse(await dig_answer.printable(conn, catalog, principal, req))


@router.post(
    "/analysis/dig/section.{fmt}",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}},
)
async def dig_section(
    fmt: Literal["svg", "png"],
    req: DigRequest,
    conn: ConnDep,
    catalog: CatalogDep,
    principal: PrincipalDep,
) -> Response:
    """The dig's cross-section (along `section`, or the dig's axis most pipes cross) as SVG
    or PNG."""
    image = await dig_answer.drawing(conn, catalog, principal, req, fmt)
    return Response(image, media_type="image/svg+xml" if fmt == "svg" else "image/png")


@router.post("/analysis/hazard-zone", response_model=HazardZoneCollection)
async def hazard_zone(
    req: Annotated[HazardZoneRequest, Body()],
    conn: ConnDep,
    catalog: CatalogDep,
    principal: PrincipalDep,
) -> HazardZoneCollection:
    """Hazard zones about a point, by `preset`: erg, erg115, bomb or custom.

    erg: ERG 2016 initial isolation circle and the downwind protective action square;
    erg115: Guide 115 isolation and BLEVE evacuation; bomb: NCTC mandatory evacuation and
    shelter-in-place; custom: a circle or polygon and a downwind sector. One feature per
    zone (zone, distance_m, geodesic area_m2), each naming its table's edition and source.

    `incident` instead of `point` draws about the incident as of `datetime`; with `record`
    the zones become its versions in the hazard_zones layer (`recorded` says which).
    """
    features, recorded = await incident_zones.hazard_zones(conn, catalog, principal, req)
    out = await answer(conn, "hazard-zone", req, features, False, principal)
    return HazardZoneCollection(**dict(out), recorded=recorded)


@router.post("/analysis/site-sharing", response_model=FeatureCollection)
async def site_sharing(
    req: SiteSharingRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """Sites of different operators within max_distance_m that could share one structure.

    After the summary: per cluster (the host-to-tenant moves as lines) the operators,
    pairwise distances, heights and structures, the host and why, the towers saved, the
    coverage change per tenant operator and the edits that make it (a scenario with
    create_scenario); then today's shared sites and their tenants.
    """
    features, restricted = await site_sharing_ops.site_sharing(conn, catalog, principal, req)
    return await answer(conn, "site-sharing", req, features, restricted, principal)


@router.post("/analysis/siting-check", response_model=FeatureCollection)
async def siting_check(
    req: SitingRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """Siting rules for the chosen sectors: one operator's sites closer than min_spacing_m
    (lines), antenna heights outside the limits (points), and EMF against GB 8702-2014 at
    every school, kindergarten and hospital within emf.radius_m (points, each with its
    sectors' power density, limit and compliance distance). Scenario edits of sectors and
    sites carry the same warnings.
    """
    features, restricted = await siting_ops.siting_check(conn, catalog, principal, req)
    return await answer(conn, "siting-check", req, features, restricted, principal)
