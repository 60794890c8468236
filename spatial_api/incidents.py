"""An incident's timeline: its versions in valid time, each with who wrote it and when.

Incidents are written through the Features write API (spatial_api/features/writes.py), one
version per step at its `valid_from`: reported → active → contained → closed. The timeline
reads those versions back in order with what changed from the one before, and joins each
to the audit row of the write that made it: the log of updates, each with its author, the
time it was recorded and its text (the version's `description`). Versions loaded from a
file have no audit row; their `source` says where they came from.

Token names are shown to roles that may write incidents (who else would need them); other
readers see the author's role only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import FeatureNotFound
from layers.query import DateTimeInterval, layer_source
from layers.tables import SCHEMA

LAYER = "incidents"
VERSIONS = """
SELECT t.version_id, lower(t.valid) AS valid_from, upper(t.valid) AS valid_to, t.source,
       jsonb_build_object({pairs}) AS props, ST_AsGeoJSON(ST_Transform(t.geom, 4326), 9)::jsonb AS g
FROM {source} WHERE t.asset_id = :id ORDER BY lower(t.valid), t.version_id
"""

# The writes of this incident: a create names it in `after` ({asset: version}); a replace,
# an update or a delete in `asset_id`. A scenario's writes belong to its timeline only
# (its commit's are live).
WRITES = """
SELECT at, token_name, role, action, details FROM {schema}.audit
WHERE layer_id = :layer AND action <> 'read'
  AND (details ->> 'asset_id' = :id OR jsonb_typeof(details -> 'after') = 'object'
       AND details -> 'after' ? :id)
  AND (action = 'commit' OR details ->> 'scenario' IS NULL
       OR details ->> 'scenario' = CAST(:scenario AS text))
ORDER BY id
"""


class Step(BaseModel):
    status: str | None
    at: datetime


class Entry(BaseModel):
    """One version of the incident, or its deletion (version_id null)."""

    version_id: int | None
    action: str | None = Field(description="create, replace, update or delete; null if loaded")
    at: datetime = Field(description="When it took effect (valid time)")
    until: datetime | None = Field(description="When the next version took over, if one did")
    status: str | None
    text: str | None = Field(description="The version's description")
    changed: dict[str, list[Any]] = Field(description="attribute: [before, after]")
    geometry: dict[str, Any] | None = Field(description="GeoJSON, CRS84")
    recorded_at: datetime | None = Field(description="When the write was made")
    author: str | None = Field(description="Token name (for roles that write incidents)")
    role: str | None
    source: str | None


class Timeline(BaseModel):
    incident: str
    steps: list[Step] = Field(description="Each change of status, at its instant")
    entries: list[Entry]


def _version_of(details: dict[str, Any], asset: str) -> int | None:
    after = details.get("after")
    return after.get(asset) if isinstance(after, dict) else after


async def timeline(
    conn: AsyncConnection,
    catalog: Catalog,
    principal: Principal,
    incident: str,
    scenario: str | None = None,
) -> Timeline:
    """In a scenario (a drill's), its versions laid over the live ones, as items read them."""
    spec = principal.layer(catalog, LAYER)
    pairs = ", ".join(
        ["'asset_id', t.asset_id", *(f"'{a.name}', t.{a.name}" for a in spec.attributes)]
    )
    source, params = layer_source(spec, DateTimeInterval.every_version(scenario))
    sql = VERSIONS.format(pairs=pairs, source=source)
    rows = (await conn.execute(text(sql), params | {"id": incident})).all()
    if not rows:
        raise FeatureNotFound(f"no incident {incident!r}")
    binds = {"layer": spec.id, "id": incident, "scenario": scenario}
    writes = (await conn.execute(text(WRITES.format(schema=SCHEMA)), binds)).all()
    by_version = {_version_of(w.details, incident): w for w in writes if w.action != "delete"}
    named = principal.may_write(spec)
    entries: list[Entry] = []
    before: dict[str, Any] = {}
    for r in rows:
        w = by_version.get(r.version_id)
        changed = {
            k: [before.get(k), v] for k, v in r.props.items() if before.get(k) != v and before
        }
        entries.append(
            Entry(
                version_id=r.version_id,
                action=w.action if w else None,
                at=r.valid_from,
                until=r.valid_to,
                status=r.props.get("status"),
                text=r.props.get("description"),
                changed=changed,
                geometry=r.g,
                recorded_at=w.at if w else None,
                author=w.token_name if w and named else None,
                role=w.role if w else None,
                source=r.source,
            )
        )
        before = r.props
    for w in (w for w in writes if w.action == "delete"):
        entries.append(
            Entry(
                version_id=None,
                action="delete",
                at=rows[-1].valid_to or w.at,
                until=None,
                status=None,
                text=None,
                changed={},
                geometry=None,
                recorded_at=w.at,
                author=w.token_name if named else None,
                role=w.role,
                source=None,
            )
        )
    steps = [
        Step(status=e.status, at=e.at)
        for i, e in enumerate(entries)
        if e.version_id is not None and (i == 0 or e.status != entries[i - 1].status)
    ]
    return Timeline(incident=incident, steps=steps, entries=entries)
