"""Tile requests answered ahead of routing: the fast lane.

A cached tile spent about two thirds of its server time in FastAPI's route matching and
dependency solving (profiled); a rendered one paid that too, and read the layer versions
twice. This middleware answers a well-formed tile request before the router runs: it parses
the request with the same typed parsers as the routes and calls the same `cached_tile`.

It answers only what it fully understands: a GET of a tile path whose parameters parse, for
layers the caller may see. Everything else goes on to the tile routes in
spatial_api/routers/tiles.py, which document the API and give the 4xx answers: bad input,
restricted layers without a token (403), and `result-…` collections (their own routes).
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from layers.errors import Unauthorized
from layers.query import DATETIME_MAX_LENGTH, DateTimeInterval
from layers.source import LayerSource
from spatial_api.deps import principal_of
from spatial_api.errors import STATUS, UNAVAILABLE
from spatial_api.tile_http import (
    COLLECTIONS_MAX_LENGTH,
    filters_for,
    layers_named,
    tile_response,
)
from tiles.cache import TileCache, cached_tile
from tiles.grid import TileCoords
from tiles.shift import SHIFTS

_LAYER_TILE = re.compile(
    r"/collections/([a-z][a-z0-9_]{0,40})/tiles/([^/]+)/([^/]+)/([^/]+)"
    r"/([^/]+)"
)
_MULTI_TILE = re.compile(r"/tiles/([^/]+)/([^/]+)/([^/]+)/([^/]+)")
_DOMAIN_ERRORS: tuple[type[Exception], ...] = (*STATUS, Unauthorized)


class TileLane:
    """ASGI middleware: serve well-formed tile requests, pass everything else on."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            request = Request(scope)
            try:
                response = await _tile(request)
            except UNAVAILABLE:  # the route answers it (503), through the error handlers
                response = None
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _tile(request: Request) -> Response | None:
    path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))
    layer, multi = _LAYER_TILE.fullmatch(path), _MULTI_TILE.fullmatch(path)
    if layer is None and multi is None:
        return None
    state = request.app.state
    cache: TileCache | None = getattr(state, "tile_cache", None)
    query = request.query_params
    when_text, shift = query.get("datetime"), query.get("shift")
    recorded_text, scenario = query.get("recorded"), query.get("scenario")
    if (
        cache is None
        or (shift is not None and shift not in SHIFTS)
        or len(when_text or "") > DATETIME_MAX_LENGTH
        or len(recorded_text or "") > DATETIME_MAX_LENGTH
        or scenario is not None  # checked against the database on the route
        or len(query.get("collections") or "") > COLLECTIONS_MAX_LENGTH
    ):
        return None  # the route's own validation answers these
    try:
        principal = await principal_of(request)
        if layer is not None:
            layer_id, tms, z, y, x = layer.groups()
            specs = [principal.shown_layer(state.catalog, layer_id)]
        else:
            assert multi is not None  # one of the two matched (checked above)
            tms, z, y, x = multi.groups()
            specs = layers_named(state.catalog, principal, query.get("collections"))
        if not all(principal.may_see(s) for s in specs):
            return None
        coords = TileCoords.parse(tms, z, y, x)
        when = DateTimeInterval.parse(when_text, recorded_text)
        filters = filters_for(specs, request)
        sources = [LayerSource(s) for s in specs]
        replica = await state.reads.replica_for(request)
        entry = await cached_tile(cache, principal, sources, coords, when, filters, shift, replica)
    except _DOMAIN_ERRORS:
        return None
    return tile_response(entry, request, sources, when, principal, coords)
