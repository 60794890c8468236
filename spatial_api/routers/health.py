from __future__ import annotations

import os

from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import text

from citygis import __version__
from spatial_api.deps import ConnDep
from spatial_api.routing import StrictRoute

router = APIRouter(tags=["health"], route_class=StrictRoute)


class Health(BaseModel):
    status: str
    version: str
    postgres: str
    postgis: str
    pgrouting: str
    schema_revision: str | None


class Alive(BaseModel):
    status: str
    version: str
    process: int  # which API process answered, when several serve one port


@router.get("/health/live", response_model=Alive)
async def live() -> Alive:
    """The process answers (no database involved): restart it only when this fails."""
    return Alive(status="alive", version=__version__, process=os.getpid())


@router.get("/health/ready", response_model=Alive, responses={503: {"description": "not ready"}})
async def ready(request: Request) -> Alive:
    """Ready to serve: the database answers. 503 "database unreachable" when it does not."""
    async with request.app.state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return Alive(status="ready", version=__version__, process=os.getpid())


@router.get("/health", response_model=Health, responses={503: {"description": "not ready"}})
async def health(conn: ConnDep) -> Health:
    """Readiness plus what the database runs, so operators see mismatches at a glance;
    503 "database unreachable" when it does not answer."""
    row = (
        await conn.execute(
            text(
                "SELECT current_setting('server_version'), postgis_lib_version(), pgr_version(),"
                " (SELECT version_num FROM city.alembic_version LIMIT 1)"
            )
        )
    ).one()
    return Health(
        status="ok",
        version=__version__,
        postgres=row[0],
        postgis=row[1],
        pgrouting=row[2],
        schema_revision=row[3],
    )
