"""Answers become layers: saved results live in city.results/result_features until they expire.

`result_features(conn, result_id)` is the one read path, so the features and tiles routers
can serve a live result as a collection (its geometries are in storage CRS, EPSG:4490).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers.tables import SCHEMA
from spatial_api.errors import InvalidParameter, NotFound

DEFAULT_TTL_S = 86_400
MAX_TTL_S = 30 * 86_400

_INSERT = f"""
INSERT INTO {SCHEMA}.results (kind, params, restricted, feature_count, expires_at)
VALUES (:kind, CAST(:params AS jsonb), :restricted, :n, now() + make_interval(secs => :ttl))
RETURNING id, created_at, expires_at
"""
_INSERT_FEATURES = f"""
INSERT INTO {SCHEMA}.result_features (result_id, fid, properties, geom)
SELECT :rid, f.ordinality, COALESCE(f.value -> 'properties', '{{}}'::jsonb),
       ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(NULLIF(f.value -> 'geometry', 'null')),
                               4326), 4490)
FROM jsonb_array_elements(CAST(:features AS jsonb)) WITH ORDINALITY AS f
"""
_LIVE = "expires_at > now()"


def check_ttl(ttl_s: int | None) -> int:
    ttl = DEFAULT_TTL_S if ttl_s is None else ttl_s
    if not 0 < ttl <= MAX_TTL_S:
        raise InvalidParameter(f"ttl_s: {ttl} is not between 1 and {MAX_TTL_S} (30 days)")
    return ttl


async def save_result(conn: AsyncConnection, kind: str, params: dict, features: list[dict],
                      restricted: bool, ttl_s: int | None) -> dict[str, Any]:
    """Store CRS84 features; expired results are purged on the way (cascade to features)."""
    ttl = check_ttl(ttl_s)
    await conn.execute(text(f"DELETE FROM {SCHEMA}.results WHERE NOT {_LIVE}"))
    row = (await conn.execute(text(_INSERT), {
        "kind": kind, "params": json.dumps(params, default=str), "restricted": restricted,
        "n": len(features), "ttl": ttl})).one()
    await conn.execute(text(_INSERT_FEATURES), {
        "rid": row.id, "features": json.dumps(features, default=str)})
    await conn.commit()
    return {"id": str(row.id), "created_at": row.created_at, "expires_at": row.expires_at}


async def list_results(conn: AsyncConnection, restricted: bool) -> list[dict[str, Any]]:
    rows = await conn.execute(text(
        f"SELECT id, kind, params, restricted, feature_count, created_at, expires_at "
        f"FROM {SCHEMA}.results WHERE {_LIVE} AND (:r OR NOT restricted) ORDER BY created_at"),
        {"r": restricted})
    return [dict(r._mapping) | {"id": str(r.id)} for r in rows]


async def get_result(conn: AsyncConnection, result_id: UUID, restricted: bool) -> dict:
    """A live result's metadata; expired, unknown and forbidden all look the same (404)."""
    row = (await conn.execute(text(
        f"SELECT id, kind, params, restricted, feature_count, created_at, expires_at "
        f"FROM {SCHEMA}.results WHERE id = :id AND {_LIVE} AND (:r OR NOT restricted)"),
        {"id": result_id, "r": restricted})).one_or_none()
    if row is None:
        raise NotFound(f"no live result {result_id}: unknown, expired or restricted")
    return dict(row._mapping) | {"id": str(row.id)}


async def result_features(conn: AsyncConnection, result_id: UUID | str,
                          out_srid: int = 4326) -> list[dict]:
    """GeoJSON features of a result (no liveness or access check: callers do that)."""
    rows = await conn.execute(text(
        f"SELECT fid, properties, ST_AsGeoJSON(ST_Transform(geom, :srid), 9)::jsonb AS g "
        f"FROM {SCHEMA}.result_features WHERE result_id = :id ORDER BY fid"),
        {"id": str(result_id), "srid": out_srid})
    return [{"type": "Feature", "id": r.fid, "geometry": r.g, "properties": r.properties}
            for r in rows]

