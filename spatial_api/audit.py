"""The audit log: writes are logged by spatial_api/features/writes.py in their transaction;
reads of restricted layers are logged here, and admins read it all back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Access, LayerSpec
from layers.access import Principal

log = logging.getLogger(__name__)

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


class TileReads:
    """Tile reads of restricted layers, summed per caller, layer and zoom and written every
    `every_s` (and at shutdown): one INSERT per tile would cost more than the tile."""

    def __init__(self, engine: Any, every_s: float = 10.0):
        self.engine, self.every_s = engine, every_s
        self._seen: dict[tuple[str | None, str, str, int], list[float]] = {}
        self._task: asyncio.Task | None = None

    def note(self, who: Principal, specs: list, z: int, bounds: tuple[float, ...]) -> None:
        for spec in specs:
            if spec.access is not Access.restricted:
                continue
            key = (who.name, who.role.name, spec.id, z)
            box = self._seen.get(key)
            if box is None:
                self._seen[key] = [*bounds, 1]
            else:
                box[:4] = [
                    min(box[0], bounds[0]),
                    min(box[1], bounds[1]),
                    max(box[2], bounds[2]),
                    max(box[3], bounds[3]),
                ]
                box[4] += 1

    async def flush(self) -> int:
        seen, self._seen = self._seen, {}
        if not seen:
            return 0
        rows = [
            {
                "name": name,
                "role": role,
                "layer": layer,
                "details": json.dumps(
                    {"tiles": int(box[4]), "z": z, "bbox": [round(v, 6) for v in box[:4]]}
                ),
            }
            for (name, role, layer, z), box in seen.items()
        ]
        async with self.engine.begin() as conn:
            await conn.execute(text(_TILE_INSERT), rows)
        return len(rows)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.flush()
            except Exception:  # the database is away: the next flush tries again
                log.warning("tile-read audit not written; retrying", exc_info=False)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        with contextlib.suppress(Exception):
            await self.flush()


_TILE_INSERT = """
INSERT INTO city.audit (token_name, role, action, layer_id, details)
VALUES (:name, :role, 'read-tiles', :layer, CAST(:details AS jsonb))
"""
