"""Saved analysis results: temporary layers that expire."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from spatial_api.analysis import METHOD
from spatial_api.analysis import results as store
from spatial_api.analysis.models import FeatureCollection, ResultInfo
from spatial_api.deps import ConnDep, PrincipalDep
from spatial_api.routing import StrictRoute

router = APIRouter(prefix="/results", tags=["results"], route_class=StrictRoute)


@router.get("", response_model=list[ResultInfo])
async def list_results(conn: ConnDep, principal: PrincipalDep) -> list[ResultInfo]:
    """Live results this caller may see (those from restricted layers need a token)."""
    rows = await store.list_results(conn, principal)
    return [ResultInfo(**r) for r in rows]


@router.get("/{result_id}", response_model=FeatureCollection)
async def get_result(result_id: UUID, conn: ConnDep, principal: PrincipalDep) -> FeatureCollection:
    """A live result's features (CRS84); expired or unknown results are 404."""
    await store.get_result(conn, result_id, principal)
    features = await store.result_features(conn, result_id)
    return FeatureCollection(
        features=features, crs="CRS84", method=METHOD, number_returned=len(features)
    )
