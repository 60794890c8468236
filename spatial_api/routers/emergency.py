"""Emergency command: what a hazard zone holds, where its people go, incident timelines,
and offline bundles for the field."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from layers.errors import InvalidParameter
from layers.query import DATETIME_MAX_LENGTH
from spatial_api import bundle as bundle_ops
from spatial_api import bundle_incident, incidents
from spatial_api.analysis import impact as impact_ops
from spatial_api.analysis import responders as responders_ops
from spatial_api.analysis import shelter_assignment as shelters_ops
from spatial_api.analysis.answer import answer
from spatial_api.analysis.impact_models import (
    ImpactRequest,
    RespondersRequest,
    ShelterAssignmentRequest,
)
from spatial_api.analysis.models import FeatureCollection
from spatial_api.deps import CatalogDep, ConnDep, PrincipalDep
from spatial_api.params import BBoxDep, ScenarioDep
from spatial_api.routing import StrictRoute

router = APIRouter(tags=["emergency"], route_class=StrictRoute)

PrimaryDep = Annotated[AsyncConnection, Depends(bundle_ops.primary_connection)]
BundleSettingsDep = Annotated[bundle_ops.BundleSettings, Depends(bundle_ops.get_bundle_settings)]
InstantQuery = Annotated[
    str | None,
    Query(alias="datetime", max_length=DATETIME_MAX_LENGTH, description="As of (default: now)"),
]
ZIP: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/zip": {}},
        "description": "map.html, layers.gpkg, summary.html and manifest.json in one folder",
    }
}


def _zip(name: str, data: bytes) -> Response:
    disposition = f'attachment; filename="{name}.zip"'
    return Response(
        data, media_type="application/zip", headers={"Content-Disposition": disposition}
    )


@router.post("/analysis/impact", response_model=FeatureCollection)
async def impact(
    req: ImpactRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """Per ring of a zone (hazard-zone's answer, or a polygon): people, targets, sites,
    shelters lost, hazard sources, pipelines by utility, base stations and closed roads.

    Features: one `ring` summary each (exclusive, innermost first), the `total`, then the
    items. Restricted layers are read only for roles that may; others are `withheld`.
    """
    features, restricted = await impact_ops.impact(conn, catalog, principal, req)
    return await answer(conn, "impact", req, features, restricted, principal)


@router.post("/analysis/shelter-assignment", response_model=FeatureCollection)
async def shelter_assignment(
    req: ShelterAssignmentRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """The zone's people to open shelters outside it, by road time, within capacity.

    An optimal min-cost flow: as many people housed as capacity and roads allow, then the
    least total driving time. Features: the `summary`, each `shelter` (usable or why not),
    each `origin` (with who is left unassigned and why) and each `assignment`.
    """
    features = await shelters_ops.assign_shelters(conn, catalog, principal, req)
    return await answer(conn, "shelter-assignment", req, features, False, principal)


@router.get("/incidents/{feature_id}/timeline", response_model=incidents.Timeline)
async def incident_timeline(
    feature_id: Annotated[str, Path(max_length=200)],
    conn: ConnDep,
    catalog: CatalogDep,
    principal: PrincipalDep,
    scenario: ScenarioDep,
) -> incidents.Timeline:
    """An incident's versions in order (its steps reported → … → closed), each with what
    changed, its text, and who recorded it when (the log of updates); with `scenario` (a
    drill's), that scenario's steps over the live ones."""
    return await incidents.timeline(conn, catalog, principal, feature_id, scenario)


@router.post("/analysis/responders", response_model=FeatureCollection)
async def responders(
    req: RespondersRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """The k nearest resources of a point layer to a scene by road time, keeping out of
    the `avoid` zone but for the last approach. Per responder, fastest first: its point
    (rank, duration_s), its route to the zone's edge and its approach."""
    features, restricted = await responders_ops.responders(conn, catalog, principal, req)
    return await answer(conn, "responders", req, features, restricted, principal)


@router.get("/incidents/{feature_id}/bundle", response_class=Response, responses=ZIP)
async def incident_bundle(
    feature_id: Annotated[str, Path(max_length=200)],
    conn: PrimaryDep,
    catalog: CatalogDep,
    principal: PrincipalDep,
    settings: BundleSettingsDep,
    scenario: ScenarioDep,
    datetime_: InstantQuery = None,
    zone: Annotated[
        UUID | None, Query(description="A saved /analysis/hazard-zone answer (its result id)")
    ] = None,
    radius_m: Annotated[
        float | None, Query(gt=0, le=50_000, description="Else a circle about the incident")
    ] = None,
    margin_m: Annotated[float, Query(ge=0, le=20_000, description="Area beyond the zone")] = 1000,
) -> Response:
    """An incident for the field, as a zip that opens with no network: a map of its zone,
    the affected assets, the assigned shelters and the responders' routes; a GeoPackage of
    every layer this role reads over the zone's box and margin; a printable summary.

    Zone: `zone`, else `radius_m`, else a gas leak's Guide 115 isolation. Each layer comes
    whole or the bundle is refused (413, with the counts)."""
    bundle = bundle_ops.Bundle(
        name=bundle_ops.safe_name(f"incident-{feature_id}"),
        title=f"incident {feature_id}",
        when=bundle_ops.instant(datetime_, scenario),
    )
    await bundle_incident.analyse(
        conn, catalog, principal, bundle, feature_id, zone, radius_m, margin_m
    )
    return _zip(bundle.name, await bundle_ops.build(conn, catalog, principal, bundle, settings))


@router.get("/bundle", response_class=Response, responses=ZIP)
async def area_bundle(
    conn: ConnDep,
    catalog: CatalogDep,
    principal: PrincipalDep,
    settings: BundleSettingsDep,
    bbox: BBoxDep,
    scenario: ScenarioDep,
    datetime_: InstantQuery = None,
) -> Response:
    """An area for the field, as a zip that opens with no network: a map (districts and
    roads as vectors, the incidents), a GeoPackage of every layer this role reads over the
    bbox, whole (else 413, with the counts), and a printable summary."""
    if bbox is None:
        raise InvalidParameter("bbox: a bundle needs its area, minx,miny,maxx,maxy")
    corners = ",".join(f"{v:g}" for v in (bbox.minx, bbox.miny, bbox.maxx, bbox.maxy))
    bundle = bundle_ops.Bundle(
        name="area",
        title=f"area {corners}",
        when=bundle_ops.instant(datetime_, scenario),
        area=bbox,
    )
    return _zip(bundle.name, await bundle_ops.build(conn, catalog, principal, bundle, settings))
