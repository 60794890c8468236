"""Location services: nearest, within, reverse lookup, route and isochrone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

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

router = APIRouter(prefix="/lbs", tags=["location services"],
                   route_class=StrictRoute)
FC = {"response_model": FeatureCollection}


@router.get("/nearest", **FC)
async def nearest_get(q: Annotated[NearestQuery, Query()], conn: ConnDep, catalog: CatalogDep,
                      principal: PrincipalDep) -> FeatureCollection:
    """The k nearest features by geodesic distance (POST adds attribute filters)."""
    features, restricted = await lbs.nearest(conn, catalog, principal, q)
    return await answer(conn, "nearest", q, features, restricted)


@router.post("/nearest", **FC)
async def nearest_post(q: NearestBody, conn: ConnDep, catalog: CatalogDep,
                       principal: PrincipalDep) -> FeatureCollection:
    features, restricted = await lbs.nearest(conn, catalog, principal, q)
    return await answer(conn, "nearest", q, features, restricted)


@router.get("/within", **FC)
async def within_get(q: Annotated[WithinQuery, Query()], conn: ConnDep, catalog: CatalogDep,
                     principal: PrincipalDep) -> FeatureCollection:
    """Features within distance_m, nearest first; number_matched counts them all."""
    return await _within(q, conn, catalog, principal)


@router.post("/within", **FC)
async def within_post(q: WithinBody, conn: ConnDep, catalog: CatalogDep,
                      principal: PrincipalDep) -> FeatureCollection:
    return await _within(q, conn, catalog, principal)


async def _within(q: WithinQuery, conn, catalog, principal) -> FeatureCollection:
    features, restricted, matched = await lbs.within(conn, catalog, principal, q)
    fc = await answer(conn, "within", q, features, restricted)
    return fc.model_copy(update={"number_matched": matched})


@router.get("/reverse", **FC)
async def reverse(q: Annotated[ReverseQuery, Query()], conn: ConnDep, catalog: CatalogDep,
                  principal: PrincipalDep) -> FeatureCollection:
    """Which district and logistics park, which scenic sites nearby, the nearest road."""
    features = await lbs.reverse(conn, catalog, principal, q)
    return await answer(conn, "reverse", q, features, False)


@router.post("/route", **FC)
async def route(q: RouteQuery, conn: ConnDep, catalog: CatalogDep,
                principal: PrincipalDep) -> FeatureCollection:
    """Fastest route over the roads as of `datetime`, one-way roads respected."""
    features = await routing.route(conn, catalog, principal, q)
    return await answer(conn, "route", q, features, False)


@router.post("/isochrone", **FC)
async def isochrone(q: IsochroneQuery, conn: ConnDep, catalog: CatalogDep,
                    principal: PrincipalDep) -> FeatureCollection:
    """Service area reachable within time_s or distance_m over the roads."""
    features = await routing.isochrone(conn, catalog, principal, q)
    return await answer(conn, "isochrone", q, features, False)
