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

from layers.errors import InvalidParameter, NotFound
from layers.tables import SCHEMA

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



# -- Results as OGC collections: extent, pages of items, vector tiles ----------------------

async def result_extent(conn: AsyncConnection, result_id: UUID | str
                        ) -> tuple[float, float, float, float] | None:
    row = (await conn.execute(text(
        f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) "
        f"AS e FROM {SCHEMA}.result_features WHERE result_id = :id) s"),
        {"id": str(result_id)})).one()
    return None if row[0] is None else tuple(row)


_PAGE = f"""
SELECT string_agg(CAST(json_build_object(
           'type', 'Feature', 'id', r.fid,
           'geometry', CAST(ST_AsGeoJSON({{geometry}}, 9, 0) AS json),
           'properties', r.properties) AS text), ',' ORDER BY r.fid),
       count(*),
       (SELECT count(*) FROM {SCHEMA}.result_features AS r
        WHERE r.result_id = :id AND {{where}})
FROM (SELECT * FROM {SCHEMA}.result_features AS r WHERE r.result_id = :id AND {{where}}
      ORDER BY r.fid LIMIT :limit OFFSET :offset) AS r
"""


async def result_page(conn: AsyncConnection, result_id: UUID | str, limit: int, offset: int,
                      geometry_sql: str, where_sql: str, params: dict[str, Any]
                      ) -> tuple[str, int, int]:
    """Comma-joined GeoJSON features by fid, how many returned, how many match.

    `geometry_sql` (output CRS) and `where_sql` (bbox) come from the features module's
    CRS helpers, written against `r.geom`; their values are in `params`.
    """
    sql = _PAGE.format(geometry=geometry_sql, where=where_sql)
    features, returned, matched = (await conn.execute(text(sql), params | {
        "id": str(result_id), "limit": limit, "offset": offset})).one()
    return features or "", returned, matched


_TILE = f"""
SELECT coalesce((
    SELECT ST_AsMVT(q, :name, :extent, '_geom', '_fid')
    FROM (
        SELECT r.fid AS _fid, r.properties,
               ST_AsMVTGeom(ST_Affine(ST_Transform(r.geom, 3857), :sa, :sb, :sd, :se, :sx, :sy),
                            ST_TileEnvelope(CAST(:z AS int), CAST(:x AS int), CAST(:y AS int)),
                            :extent, :buffer, true) AS _geom
        FROM {SCHEMA}.result_features AS r
        WHERE r.result_id = :id
          AND r.geom && ST_MakeEnvelope(:west, :south, :east, :north, 4490)
    ) AS q
    WHERE q._geom IS NOT NULL
), ''::bytea)
"""


IDENTITY = {"sa": 1.0, "sb": 0.0, "sd": 0.0, "se": 1.0, "sx": 0.0, "sy": 0.0}


async def result_tile(conn: AsyncConnection, result_id: UUID | str, name: str, z: int,
                      x: int, y: int, bounds: tuple[float, float, float, float],
                      extent: int, buffer: int, affine: dict[str, float] | None = None
                      ) -> bytes:
    """One MVT layer of a result; its jsonb properties become the feature attributes.

    `affine` (tiles/shift.py) moves the features for a GCJ-02 basemap; `bounds` must then
    be where they come from.
    """
    west, south, east, north = bounds
    row = await conn.execute(text(_TILE), (affine or IDENTITY) | {
        "id": str(result_id), "name": name, "z": z, "x": x, "y": y, "west": west,
        "south": south, "east": east, "north": north, "extent": extent, "buffer": buffer})
    return bytes(row.scalar_one())
