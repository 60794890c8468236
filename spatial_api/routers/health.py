from __future__ import annotations

from fastapi import APIRouter
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


@router.get("/health", response_model=Health)
async def health(conn: ConnDep) -> Health:
    """Liveness plus what the database runs, so operators see mismatches at a glance."""
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
