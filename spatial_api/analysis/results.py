"""Answers become layers: saved results live in city.results/result_features until they expire.

A live result is read as a collection through `ResultSource`, the same protocol as a
catalog layer (layers/source.py), so the items and tiles queries serve it unchanged.
`result_features` gives the whole answer back as it was returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers.access import Principal
from layers.errors import InvalidParameter, NotFound
from layers.spec import Access, LayerSpec
from layers.tables import SCHEMA

DEFAULT_TTL_S = 86_400
MAX_TTL_S = 30 * 86_400

_INSERT = f"""
INSERT INTO {SCHEMA}.results (kind, params, restricted, sources, feature_count, expires_at)
VALUES (:kind, CAST(:params AS jsonb), :restricted, CAST(:sources AS text[]), :n,
        now() + make_interval(secs => :ttl))
RETURNING id, created_at, expires_at
"""
_INSERT_FEATURES = f"""
INSERT INTO {SCHEMA}.result_features (result_id, fid, properties, geom)
SELECT :rid, f.ordinality, COALESCE(f.value -> 'properties', '{{}}'::jsonb),
       -- Saved answers are drawn in 2D (the table's type); a depth stays in the properties.
       ST_Transform(ST_SetSRID(ST_Force2D(
           ST_GeomFromGeoJSON(NULLIF(f.value -> 'geometry', 'null'))), 4326), 4490)
FROM jsonb_array_elements(CAST(:features AS jsonb)) WITH ORDINALITY AS f
"""
_LIVE = "expires_at > now()"
# Whom a result shows to: anyone if public, else a role that reads every layer its maker read.
_VISIBLE = "(NOT restricted OR :admin OR sources <@ CAST(:reads AS text[]))"
_COLUMNS = "id, kind, params, restricted, sources, feature_count, created_at, expires_at"


def _reader(principal: Principal) -> dict[str, Any]:
    return {"admin": principal.role.admin, "reads": sorted(principal.role.reads)}


def sources_of(principal: Principal, restricted: bool) -> list[str]:
    """What a reader of a restricted answer must read: all its maker could (admin: admin)."""
    if not restricted:
        return []
    return ["*"] if principal.role.admin else sorted(principal.role.reads)


def check_ttl(ttl_s: int | None) -> int:
    ttl = DEFAULT_TTL_S if ttl_s is None else ttl_s
    if not 0 < ttl <= MAX_TTL_S:
        raise InvalidParameter(f"ttl_s: {ttl} is not between 1 and {MAX_TTL_S} (30 days)")
    return ttl


async def save_result(
    conn: AsyncConnection,
    kind: str,
    params: dict,
    features: list[dict],
    restricted: bool,
    ttl_s: int | None,
    principal: Principal,
) -> dict[str, Any]:
    """Store CRS84 features; expired results are purged on the way (cascade to features)."""
    ttl = check_ttl(ttl_s)
    await conn.execute(text(f"DELETE FROM {SCHEMA}.results WHERE NOT {_LIVE}"))
    row = (
        await conn.execute(
            text(_INSERT),
            {
                "kind": kind,
                "params": json.dumps(params, default=str),
                "restricted": restricted,
                "sources": sources_of(principal, restricted),
                "n": len(features),
                "ttl": ttl,
            },
        )
    ).one()
    await conn.execute(
        text(_INSERT_FEATURES), {"rid": row.id, "features": json.dumps(features, default=str)}
    )
    await conn.commit()
    return {"id": str(row.id), "created_at": row.created_at, "expires_at": row.expires_at}


async def list_results(conn: AsyncConnection, principal: Principal) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(
            f"SELECT {_COLUMNS} FROM {SCHEMA}.results WHERE {_LIVE} AND {_VISIBLE}"
            " ORDER BY created_at"
        ),
        _reader(principal),
    )
    return [dict(r._mapping) | {"id": str(r.id)} for r in rows]


async def get_result(conn: AsyncConnection, result_id: UUID, principal: Principal) -> dict:
    """A live result's metadata; expired, unknown and forbidden all look the same (404)."""
    row = (
        await conn.execute(
            text(
                f"SELECT {_COLUMNS} FROM {SCHEMA}.results WHERE id = :id AND {_LIVE} AND {_VISIBLE}"
            ),
            {"id": result_id} | _reader(principal),
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no live result {result_id}: unknown, expired or restricted")
    return dict(row._mapping) | {"id": str(row.id)}


async def result_features(
    conn: AsyncConnection, result_id: UUID | str, out_srid: int = 4326
) -> list[dict]:
    """GeoJSON features of a result (no liveness or access check: callers do that)."""
    rows = await conn.execute(
        text(
            f"SELECT fid, properties, ST_AsGeoJSON(ST_Transform(geom, :srid), 9)::jsonb AS g "
            f"FROM {SCHEMA}.result_features WHERE result_id = :id ORDER BY fid"
        ),
        {"id": str(result_id), "srid": out_srid},
    )
    return [
        {"type": "Feature", "id": r.fid, "geometry": r.g, "properties": r.properties} for r in rows
    ]


RESULT_PREFIX = "result-"
_ROWS = f"""(SELECT r.fid AS version_id, r.fid AS asset_id, r.geom, r.properties
    FROM {SCHEMA}.result_features AS r WHERE r.result_id = :result_id) AS t"""
_EXTENT = f"""
SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e), CAST(:created AS timestamptz),
       CAST(:expires AS timestamptz)
FROM (SELECT ST_Extent(geom) AS e FROM {SCHEMA}.result_features WHERE result_id = :result_id) s
"""


@dataclass(frozen=True)
class ResultSource:
    """A live saved result as a collection `result-<uuid>`: a snapshot (no valid time) whose
    features keep whatever properties their analysis wrote (jsonb), ids 1, 2, 3 …"""

    result_id: UUID
    kind: str
    feature_count: int
    restricted: bool
    created_at: datetime
    expires_at: datetime
    sources: tuple[str, ...] = ()
    spec: LayerSpec | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> ResultSource:
        return cls(
            UUID(str(row["id"])),
            row["kind"],
            row["feature_count"],
            row["restricted"],
            row["created_at"],
            row["expires_at"],
            tuple(row["sources"]),
        )

    @property
    def id(self) -> str:
        return RESULT_PREFIX + str(self.result_id)

    @property
    def title(self) -> str:
        return f"Result: {self.kind}"

    @property
    def description(self) -> str:
        return (
            f"Saved {self.kind} answer, {self.feature_count} features; expires "
            f"{self.expires_at.isoformat()}"
        )

    @property
    def access(self) -> Access:
        return Access.restricted if self.restricted else Access.public

    def rows(self, when: Any = None) -> tuple[str, dict[str, Any]]:
        return _ROWS, {"result_id": self.result_id}

    def properties_sql(self, names: Any = None) -> str:
        return "t.properties"

    def tile_columns(self, names: Any = ()) -> list[tuple[str, str]]:
        return [("t.properties", "t.properties")]  # ST_AsMVT makes each jsonb key an attribute

    def extent_sql(self) -> tuple[str, dict[str, Any]]:
        return _EXTENT, {
            "result_id": self.result_id,
            "created": self.created_at,
            "expires": self.expires_at,
        }


async def live_source(conn: AsyncConnection, result_id: UUID, principal: Principal) -> ResultSource:
    """The live result as a collection (404 as `get_result`)."""
    return ResultSource.of(await get_result(conn, result_id, principal))
