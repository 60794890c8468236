"""Emergency command: what a hazard zone holds, where its people go, incident timelines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from spatial_api import incidents
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
from spatial_api.routing import StrictRoute

router = APIRouter(tags=["emergency"], route_class=StrictRoute)


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
) -> incidents.Timeline:
    """An incident's versions in order (its steps reported → … → closed), each with what
    changed, its text, and who recorded it when (the log of updates)."""
    return await incidents.timeline(conn, catalog, principal, feature_id)


@router.post("/analysis/responders", response_model=FeatureCollection)
async def responders(
    req: RespondersRequest, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """The k nearest resources of a point layer to a scene by road time, keeping out of
    the `avoid` zone but for the last approach. Per responder, fastest first: its point
    (rank, duration_s), its route to the zone's edge and its approach."""
    features, restricted = await responders_ops.responders(conn, catalog, principal, req)
    return await answer(conn, "responders", req, features, restricted, principal)
