"""The HTTP face of the domain errors (layers/errors.py): one status table, problem+json
(RFC 9457) for every error."""

from __future__ import annotations

import logging

import psycopg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from layers.errors import (
    Conflict,
    FeatureNotFound,
    Forbidden,
    InvalidFeatures,
    InvalidParameter,
    LayerNotFound,
    NotFound,
    PreconditionFailed,
    TileMatrixSetNotFound,
    TileNotFound,
    TooLarge,
    Unauthorized,
)

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
RETRY_AFTER_S = 5
# The database cannot answer now: down, restarting, refusing connections, the pool empty,
# a statement cancelled by its timeout. Clients may retry; the pool heals by itself
# (pre-ping, psycopg_pool's reconnects), so no restart is needed.
UNAVAILABLE = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def _timed_out(exc: Exception) -> bool:
    orig = getattr(exc, "orig", exc)
    return isinstance(orig, psycopg.errors.QueryCanceled)


def unavailable(detail: str = "database unreachable") -> JSONResponse:
    response = problem(503, "Service unavailable", detail)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def problem(status: int, title: str, detail: str, **extra) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


STATUS: dict[type[Exception], tuple[int, str]] = {
    LayerNotFound: (404, "Layer not found"),
    InvalidParameter: (400, "Invalid parameter"),
    Forbidden: (403, "Forbidden"),
    FeatureNotFound: (404, "Feature not found"),
    TooLarge: (413, "Too large"),
    NotFound: (404, "Not found"),
    TileMatrixSetNotFound: (404, "Tile matrix set not found"),
    TileNotFound: (404, "Tile not found"),
}


def install(app: FastAPI) -> None:
    for exc_type, (status, title) in STATUS.items():

        def handler(request: Request, exc: Exception, status=status, title=title):
            return problem(status, title, str(exc))

        app.add_exception_handler(exc_type, handler)

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
        response = problem(401, "Unauthorized", str(exc))
        response.headers["WWW-Authenticate"] = 'Bearer realm="citygis"'
        return response

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict) -> JSONResponse:
        return problem(409, "Conflict", str(exc), assets=exc.assets)

    @app.exception_handler(PreconditionFailed)
    async def stale(request: Request, exc: PreconditionFailed) -> JSONResponse:
        return problem(412, "Precondition failed", str(exc))

    @app.exception_handler(InvalidFeatures)
    async def invalid_features(request: Request, exc: InvalidFeatures) -> JSONResponse:
        return problem(422, "Invalid features", str(exc), errors=exc.problems)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        return problem(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, "HTTP error", str(exc.detail))

    for exc_type in UNAVAILABLE:

        async def database_down(request: Request, exc: Exception) -> JSONResponse:
            if _timed_out(exc):
                limit = request.app.state.settings.statement_timeout_s
                return unavailable(
                    f"the request's query ran past the {limit:g} s statement timeout: "
                    "narrow it (bbox, filter, fewer layers) or retry when the server is quieter"
                )
            why = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
            log.warning(
                "database unavailable on %s: %s: %s", request.url.path, type(exc).__name__, why
            )
            return unavailable()

        app.add_exception_handler(exc_type, database_down)

    @app.exception_handler(sqlalchemy.exc.DataError)
    async def data_error(request: Request, exc: sqlalchemy.exc.DataError) -> JSONResponse:
        # SQLSTATE class 22 (out of range, invalid value …): what the request asked cannot
        # be computed; a net under every analysis's own checks, never the server failing.
        message = str(exc.orig).strip().splitlines()[0]
        log.warning("query refused by the database on %s: %s", request.url.path, message)
        return problem(400, "Invalid parameter", f"the request cannot be evaluated: {message}")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "Internal error", "the server failed; see its log")
