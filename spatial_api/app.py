"""Application factory: settings in, app out; pool and catalog live in the lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from citygis import __version__
from citygis.db import make_async_engine
from citygis.settings import ServerSettings
from layers import Catalog
from layers.roles import load_roles
from layers.tokens import TOKENS_CHANGED
from spatial_api import errors
from spatial_api.admission import Admission
from spatial_api.alarms import load_rules
from spatial_api.analysis.clearance_table import load_project_rules
from spatial_api.audit import TileReads
from spatial_api.rate_limit import RateLimit
from spatial_api.replicas import Reads, ReadYourWrites
from spatial_api.routers import (
    analysis,
    audit,
    docs,
    edits,
    emergency,
    features,
    health,
    layers,
    lbs,
    readings,
    result_collections,
    results,
    scenarios,
    tiles,
    webmap,
)
from spatial_api.tile_lane import TileLane
from spatial_api.tokens import TokenBook
from tiles.listener import tiles_runtime

log = logging.getLogger(__name__)


def create_app(
    database_url: str,
    settings: ServerSettings | None = None,
    pool_size: int = 10,
    replica_urls: tuple[str, ...] = (),
) -> FastAPI:
    """Build the app for a database URL (already migrated to head)."""
    settings = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.catalog = Catalog()
        app.state.roles = load_roles(app.state.catalog.values(), settings.roles_file)
        app.state.clearance_rules = load_project_rules(settings.clearances_file)
        app.state.alarm_rules = load_rules(settings.alarms_file)
        app.state.engine = make_async_engine(
            database_url,
            pool_size=pool_size,
            statement_timeout_s=settings.statement_timeout_s,
            pooler=settings.pgbouncer,
        )
        app.state.reads = Reads(
            app.state.engine,
            [
                make_async_engine(u, pool_size, settings.statement_timeout_s, settings.pgbouncer)
                for u in replica_urls
            ],
        )
        book = app.state.token_book = TokenBook(app.state.engine, app.state.roles, settings.tokens)

        def heard(payload: str | None) -> None:
            if payload in (None, TOKENS_CHANGED):
                book.forget()

        log.info("API ready with %d layers", len(app.state.catalog))
        app.state.tile_reads = TileReads(app.state.engine, settings.audit_flush_s)
        app.state.tile_reads.start()
        # The tile cache and token book, kept fresh by LISTEN.
        async with tiles_runtime(
            app.state,
            database_url,
            also=heard,
            pooler=settings.pgbouncer,
            listen_url=settings.listen_url,
            replica_urls=replica_urls,
        ):
            # What start-up made lives as long as the process: out of the collector's
            # sight, a full collection walks only what requests make (a cold city-wide
            # coverage spent 0.29 s of its 2.5 s in collections walking 390k objects).
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                gc.unfreeze()
        await app.state.tile_reads.stop()
        for replica in app.state.reads.replicas:
            await replica.dispose()
        await app.state.engine.dispose()

    app = FastAPI(
        title="citygis",
        version=__version__,
        description="City spatiotemporal data platform: layers, analysis and tiles over PostGIS",
        openapi_url="/api",
        docs_url=None,  # /api.html is routers/docs.py: Swagger UI from npm, not a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    errors.install(app)
    app.add_middleware(TileLane)  # tiles skip routing (spatial_api/tile_lane.py)
    app.add_middleware(ReadYourWrites)
    # Outermost, so tiles count too: overload is a quick 503, not an unbounded queue.
    app.add_middleware(
        Admission, max_in_flight=settings.max_in_flight, max_waiting=settings.max_waiting
    )
    app.add_middleware(RateLimit, rate_per_s=settings.rate_per_s, burst=settings.rate_burst)
    if origins := [o.strip() for o in settings.cors_origins.split(",") if o.strip()]:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "Content-Crs", "If-Match"],
            expose_headers=[
                "ETag",
                "Location",
                "Content-Crs",
                "Retry-After",
                "Citygis-Warnings",  # siting warnings of a scenario edit (a 204 has no body)
                "Citygis-Warnings-Count",
            ],
        )
    # Routes are matched in order: tiles first, being the most requested by far, after the
    # `result-<uuid>` collections, which the catalog's `{layer_id}` routes would also match.
    app.include_router(result_collections.router)
    app.include_router(tiles.router)
    app.include_router(health.router)
    app.include_router(layers.router)
    app.include_router(readings.router)
    app.include_router(features.router)
    app.include_router(edits.router)
    app.include_router(audit.router)
    app.include_router(scenarios.router)
    app.include_router(analysis.router)
    app.include_router(emergency.router)
    app.include_router(lbs.router)
    app.include_router(results.router)
    app.include_router(webmap.router)
    app.include_router(docs.router)
    return app
