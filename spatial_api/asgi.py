"""The app for process managers (uvicorn's workers): settings and the database from the
environment. `citygis serve --workers N` sets CITYGIS_DATABASE_URL for its workers."""

from __future__ import annotations

from fastapi import FastAPI

from citygis.settings import DatabaseSettings, ServerSettings
from spatial_api.app import create_app


def from_environment() -> FastAPI:
    db = DatabaseSettings()
    if not db.database_url:
        raise RuntimeError("CITYGIS_DATABASE_URL is not set: run workers through citygis serve")
    replicas = tuple(u.strip() for u in db.replica_urls.split(",") if u.strip())
    return create_app(
        db.database_url, ServerSettings(), pool_size=db.pool_size, replica_urls=replicas
    )
