"""The audit log: writes are logged by spatial_api/features/writes.py in their transaction;
reads of restricted layers are logged here, and admins read it all back."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Access, LayerSpec
from layers.access import Principal

_INSERT = """
INSERT INTO city.audit (token_name, role, action, layer_id, details)
VALUES (:name, :role, 'read', :layer, CAST(:details AS jsonb))
"""


async def log_read(
    conn: AsyncConnection, who: Principal, spec: LayerSpec, details: dict[str, Any]
) -> None:
    """Record who read a restricted layer, and where (bbox), committed at once."""
    if spec.access is not Access.restricted:
        return
    await conn.execute(
        text(_INSERT),
        {
            "name": who.name,
            "role": who.role.name,
            "layer": spec.id,
            "details": json.dumps(details, default=str),
        },
    )
    await conn.commit()


_LIST = """
SELECT id, at, token_name, role, action, layer_id, details FROM city.audit
WHERE (CAST(:action AS text) IS NULL OR action = :action)
  AND (CAST(:layer AS text) IS NULL OR layer_id = :layer)
  AND (CAST(:since AS timestamptz) IS NULL OR at >= :since)
ORDER BY id DESC LIMIT :limit
"""


async def entries(
    conn: AsyncConnection,
    action: str | None,
    layer: str | None,
    since: datetime | None,
    limit: int,
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        text(_LIST), {"action": action, "layer": layer, "since": since, "limit": limit}
    )
    return [dict(r._mapping) for r in rows]
