"""Location services: nearest, within, reverse lookup, route and isochrone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from spatial_api.analysis import lbs, routing
from spatial_api.analysis.answer import answer
from spatial_api.analysis.models import (
    FeatureCollection,
    IsochroneQuery,
    NearestBody,
    NearestQuery,
    ReverseQuery,
    RouteQuery,
    WithinBody,
    WithinQuery,
)
from spatial_api.deps import CatalogDep, ConnDep, PrincipalDep
from spatial_api.routing import StrictRoute

router = APIRouter(prefix="/lbs", tags=["location services"], route_class=StrictRoute)


@router.get("/nearest", response_model=FeatureCollection)
async def nearest_get(
    q: Annotated[NearestQuery, Query()], conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """The k nearest features by geodesic distance (POST adds attribute filters)."""
    features, restricted = await lbs.nearest(conn, catalog, principal, q)
    return await answer(conn, "nearest", q, features, restricted, principal)


@router.post("/nearest", response_model=FeatureCollection)
async def nearest_post(
    q: NearestBody, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    features, restricted = await lbs.nearest(conn, catalog, principal, q)
    return await answer(conn, "nearest", q, features, restricted, principal)


@router.get("/within", response_model=FeatureCollection)
async def within_get(
    q: Annotated[WithinQuery, Query()], conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """Features within distance_m, nearest first; number_matched counts them all."""
    return await _within(q, conn, catalog, principal)


@router.post("/within", response_model=FeatureCollection)
async def within_post(
    q: WithinBody, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    return await _within(q, conn, catalog, principal)


async def _within(
    q: WithinQuery, conn: AsyncConnection, catalog: Catalog, principal: Principal
) -> FeatureCollection:
    features, restricted, matched = await lbs.within(conn, catalog, principal, q)
    fc = await answer(conn, "within", q, features, restricted, principal)
    return fc.model_copy(update={"number_matched": matched})


@router.get("/reverse", response_model=FeatureCollection)
async def reverse(
    q: Annotated[ReverseQuery, Query()], conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """Which district and logistics park, which scenic sites nearby, the nearest road."""
    features = await lbs.reverse(conn, catalog, principal, q)
    return await answer(conn, "reverse", q, features, False, principal)


@router.post("/route", response_model=FeatureCollection)
async def route(
    q: RouteQuery, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """Fastest route over the roads as of `datetime`, one-way roads respected."""
    features = await routing.route(conn, catalog, principal, q)
    return await answer(conn, "route", q, features, False, principal)


@router.post("/isochrone", response_model=FeatureCollection)
async def isochrone(
    q: IsochroneQuery, conn: ConnDep, catalog: CatalogDep, principal: PrincipalDep
) -> FeatureCollection:
    """Service area reachable within time_s or distance_m over the roads."""
    features = await routing.isochrone(conn, catalog, principal, q)
    return await answer(conn, "isochrone", q, features, False, principal)
