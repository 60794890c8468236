"""An asset's lineage: the assets it replaced and those that replaced it (`replaces`).

A renewal is a new asset whose `replaces` names the old one, which is closed in valid
time where the new one begins. The chain follows `replaces` back and forward through every
version ever stored, so a pipe renewed twice, or split into two, shows all its forebears
and heirs with when each was in the ground.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import LayerSpec
from layers.tables import SCHEMA

REPLACES = "replaces"
LIMIT = 1000  # a chain longer than this is a data loop, not a history

# Back along `replaces` and forward to whatever names the asset; UNION (not ALL) stops at a
# cycle. Then one row per asset: its span in valid time and what it replaced.
LINEAGE = """
WITH RECURSIVE back(id) AS (
    SELECT CAST(:id AS text)
    UNION
    SELECT t.replaces FROM {table} t JOIN back b ON t.asset_id = b.id WHERE t.replaces IS NOT NULL
), ahead(id) AS (
    SELECT CAST(:id AS text)
    UNION
    SELECT t.asset_id FROM {table} t JOIN ahead a ON t.replaces = a.id
), related AS (SELECT id FROM back UNION SELECT id FROM ahead)
SELECT t.asset_id, min(lower(t.valid)) AS valid_from,
       CASE WHEN bool_or(upper_inf(t.valid)) THEN NULL ELSE max(upper(t.valid)) END AS valid_to,
       array_remove(array_agg(DISTINCT t.replaces), NULL) AS replaces
FROM {table} t JOIN related r ON t.asset_id = r.id
GROUP BY t.asset_id ORDER BY min(lower(t.valid)), t.asset_id LIMIT {limit}
"""


def has_lineage(spec: LayerSpec) -> bool:
    return REPLACES in {a.name for a in spec.attributes}


async def lineage(conn: AsyncConnection, spec: LayerSpec, asset_id: str) -> dict[str, Any]:
    """`replaces` and `replaced_by` of the asset, and every asset of its chain in time order."""
    sql = LINEAGE.format(table=f"{SCHEMA}.{spec.id}", limit=LIMIT)
    rows = (await conn.execute(text(sql), {"id": asset_id})).all()
    chain = [
        {
            "asset_id": r.asset_id,
            "valid_from": r.valid_from.isoformat(),
            "valid_to": None if r.valid_to is None else r.valid_to.isoformat(),
            "replaces": sorted(r.replaces),
            "replaced_by": sorted(o.asset_id for o in rows if r.asset_id in o.replaces),
        }
        for r in rows
    ]
    this = next((c for c in chain if c["asset_id"] == asset_id), None)
    return {
        "replaces": [] if this is None else this["replaces"],
        "replaced_by": [] if this is None else this["replaced_by"],
        "lineage": chain if len(chain) > 1 else [],
    }
