"""Scenarios (what-if): create, list, read, diff, commit and discard.

Edits go in with `scenario=` on the write routes, and every read route takes the same
parameter to see the city with them applied.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from spatial_api import scenarios
from spatial_api.deps import CatalogDep, ConnDep, PrincipalDep
from spatial_api.features.links import base_url
from spatial_api.routing import StrictRoute

router = APIRouter(tags=["Scenarios (what-if)"], route_class=StrictRoute)


class NewScenario(BaseModel):
    model_config = {"extra": "forbid"}
    title: str = Field(min_length=1, max_length=200)


@router.post("/scenarios", status_code=201)
async def create_scenario(
    request: Request,
    conn: ConnDep,
    principal: PrincipalDep,
    body: Annotated[NewScenario, Body()],
) -> JSONResponse:
    """A new scenario branched from the city as it is now; only its role sees it."""
    made = await scenarios.create(conn, principal, body.title)
    await conn.commit()
    return JSONResponse(
        made.json(),
        status_code=201,
        headers={"Location": f"{base_url(request)}/scenarios/{made.id}"},
    )


@router.get("/scenarios")
async def list_scenarios(conn: ConnDep, principal: PrincipalDep) -> JSONResponse:
    """The scenarios of the caller's role (all of them for an admin)."""
    found = await scenarios.listed(conn, principal)
    return JSONResponse({"scenarios": [s.json() for s in found]})


@router.get("/scenarios/{scenario_id}")
async def get_scenario(conn: ConnDep, principal: PrincipalDep, scenario_id: str) -> JSONResponse:
    return JSONResponse((await scenarios.get(conn, principal, scenario_id)).json())


@router.get("/scenarios/{scenario_id}/changes")
async def scenario_changes(
    conn: ConnDep, principal: PrincipalDep, catalog: CatalogDep, scenario_id: str
) -> JSONResponse:
    """Added, changed and deleted assets per layer, with before and after."""
    return JSONResponse(await scenarios.changes(conn, principal, catalog, scenario_id))


@router.post("/scenarios/{scenario_id}/commit")
async def commit_scenario(
    conn: ConnDep, principal: PrincipalDep, catalog: CatalogDep, scenario_id: str
) -> JSONResponse:
    """Apply every edit as live versions in one transaction; 409 listing the assets when
    a live asset the scenario changed has changed since."""
    done = await scenarios.commit(conn, principal, catalog, scenario_id)
    await conn.commit()
    return JSONResponse(done)


@router.delete("/scenarios/{scenario_id}", status_code=204)
async def discard_scenario(conn: ConnDep, principal: PrincipalDep, scenario_id: str) -> Response:
    await scenarios.discard(conn, principal, scenario_id)
    await conn.commit()
    return Response(status_code=204)
