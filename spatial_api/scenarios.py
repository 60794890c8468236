"""Scenarios (what-if): branches of the city whose edits stay apart until committed.

A scenario's edits live in `city.{layer}_scenario`, one row per asset it touched; reads
with `scenario=` lay them over the live rows (layers/query.py). Commit turns them into
live versions in one transaction, refusing with 409 when a live asset it changed has
itself changed since.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from secrets import token_hex
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog, LayerSpec
from layers.access import Principal
from layers.errors import Conflict, Forbidden, NotFound, Unauthorized
from layers.tables import SCHEMA
from spatial_api.features.writes import log_write


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    owner: str | None
    role: str
    created_at: datetime
    branched_at: datetime
    committed_at: datetime | None

    def json(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


_COLUMNS = "id, title, owner, role, created_at, branched_at, committed_at"


def _refuse_readers(who: Principal) -> None:
    """Only a role that edits something keeps scenarios; anonymous callers are told why."""
    if who.role.admin or who.role.writes:
        return
    if who.name is None:
        raise Unauthorized("scenarios need a token of a role that edits layers")
    raise Forbidden(f"role {who.role.name!r} edits no layer, so it has no scenarios")


def _may_use(who: Principal, scenario: Scenario) -> bool:
    return who.role.admin or who.role.name == scenario.role


async def create(conn: AsyncConnection, who: Principal, title: str) -> Scenario:
    _refuse_readers(who)
    row = (
        await conn.execute(
            text(
                f"INSERT INTO {SCHEMA}.scenarios (id, title, owner, role)"
                f" VALUES (:id, :title, :owner, :role) RETURNING {_COLUMNS}"
            ),
            {"id": f"scn-{token_hex(6)}", "title": title, "owner": who.name, "role": who.role.name},
        )
    ).one()
    return Scenario(*row)


async def listed(conn: AsyncConnection, who: Principal) -> list[Scenario]:
    rows = await conn.execute(
        text(
            f"SELECT {_COLUMNS} FROM {SCHEMA}.scenarios"
            " WHERE :admin OR role = :role ORDER BY created_at, id"
        ),
        {"admin": who.role.admin, "role": who.role.name},
    )
    return [Scenario(*r) for r in rows]


async def get(
    conn: AsyncConnection, who: Principal, scenario_id: str, editing: bool = False
) -> Scenario:
    """The scenario if this caller's role may use it; 404 otherwise (its existence is
    nobody else's business); 409 when `editing` one that was committed."""
    row = (
        await conn.execute(
            text(f"SELECT {_COLUMNS} FROM {SCHEMA}.scenarios WHERE id = :id"), {"id": scenario_id}
        )
    ).one_or_none()
    scenario = Scenario(*row) if row else None
    if scenario is None or not _may_use(who, scenario):
        raise NotFound(f"no scenario {scenario_id!r} for role {who.role.name!r}")
    if editing and scenario.committed_at is not None:
        raise Conflict(
            f"scenario {scenario_id!r} was committed at {scenario.committed_at.isoformat()};"
            " make a new one to go on"
        )
    return scenario


async def discard(conn: AsyncConnection, who: Principal, scenario_id: str) -> None:
    await get(conn, who, scenario_id)
    await conn.execute(text(f"DELETE FROM {SCHEMA}.scenarios WHERE id = :id"), {"id": scenario_id})


def _touched_sql(spec: LayerSpec) -> str:
    return f"SELECT count(*) FROM {SCHEMA}.{spec.scenario_table} WHERE scenario_id = :s"


# Per asset the scenario touched: the live version it branched from, when the scenario
# takes over, and its open version now (none: it ends, or is deleted, in the scenario).
_ASSETS = """
SELECT asset_id, max(base_version_id) AS base, min(lower(valid)) AS since,
       max(id) FILTER (WHERE op = 'put' AND upper_inf(valid)) AS open_id, min(id) AS first_id
FROM {edits} WHERE scenario_id = :s GROUP BY asset_id
"""

_CHANGES = """
WITH a AS ({assets})
SELECT a.asset_id, a.base, a.since, a.open_id,
       json_build_object({after}) AS after, ST_AsGeoJSON(e.geom, 9)::json AS after_geometry,
       json_build_object({before}) AS before, ST_AsGeoJSON(b.geom, 9)::json AS before_geometry
FROM a LEFT JOIN {edits} e ON e.id = a.open_id LEFT JOIN {table} b ON b.version_id = a.base
ORDER BY a.first_id
"""


def _props(alias: str, spec: LayerSpec) -> str:
    return ", ".join(f"'{a.name}', {alias}.{a.name}" for a in spec.attributes)


async def changes(
    conn: AsyncConnection, who: Principal, catalog: Catalog, scenario_id: str
) -> dict[str, Any]:
    """Added, changed and deleted assets per layer, each with its before and after."""
    scenario = await get(conn, who, scenario_id)
    layers: dict[str, dict[str, list]] = {}
    for spec in who.visible(catalog):
        edits = f"{SCHEMA}.{spec.scenario_table}"
        sql = _CHANGES.format(
            assets=_ASSETS.format(edits=edits),
            after=_props("e", spec),
            before=_props("b", spec),
            edits=edits,
            table=f"{SCHEMA}.{spec.id}",
        )
        out: dict[str, list] = {"added": [], "changed": [], "deleted": []}
        for r in (await conn.execute(text(sql), {"s": scenario_id})).all():
            if r.base is None and r.open_id is None:
                continue  # made and unmade inside the scenario: nothing for the city
            kind = "added" if r.base is None else "changed" if r.open_id else "deleted"
            entry: dict[str, Any] = {"asset_id": r.asset_id, "valid_from": r.since.isoformat()}
            if kind != "added":
                entry["before"] = _feature(r.before, r.before_geometry, r.base)
            if kind != "deleted":
                entry["after"] = _feature(r.after, r.after_geometry, -r.open_id)
            out[kind].append(entry)
        if any(out.values()):
            layers[spec.id] = out
    return {"scenario": scenario.json(), "layers": layers}


def _feature(props: dict, geometry: dict, version_id: int) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": props | {"version_id": version_id},
        "geometry": geometry,
    }


# A live asset the scenario changed whose branched-from version is no longer the live
# one; or an asset made in the scenario that the city has since made too.
_CONFLICTS = """
WITH a AS ({assets})
SELECT a.asset_id FROM a LEFT JOIN {table} b ON b.version_id = a.base
WHERE a.base IS NOT NULL AND (b.version_id IS NULL OR NOT upper_inf(b.valid))
UNION ALL
SELECT a.asset_id FROM a WHERE a.base IS NULL AND EXISTS (
    SELECT 1 FROM {table} b WHERE b.asset_id = a.asset_id AND b.valid && tstzrange(a.since, NULL))
ORDER BY 1 LIMIT 50
"""

_CLOSE = """
WITH a AS ({assets})
UPDATE {table} b SET valid = tstzrange(lower(b.valid), a.since)
FROM a WHERE b.version_id = a.base
"""

_INSERT = """
INSERT INTO {table} (asset_id, valid, {names}, geom, source)
SELECT asset_id, valid, {names}, geom, :source FROM {edits}
WHERE scenario_id = :s AND op = 'put' ORDER BY id
RETURNING asset_id, version_id
"""


def _names(spec: LayerSpec) -> dict[str, str]:
    edits = f"{SCHEMA}.{spec.scenario_table}"
    return {"table": f"{SCHEMA}.{spec.id}", "edits": edits, "assets": _ASSETS.format(edits=edits)}


async def commit(
    conn: AsyncConnection, who: Principal, catalog: Catalog, scenario_id: str
) -> dict[str, Any]:
    """Every edit as a live version, all layers in one transaction (the caller commits)."""
    scenario = await get(conn, who, scenario_id, editing=True)
    await conn.execute(
        text(f"SELECT 1 FROM {SCHEMA}.scenarios WHERE id = :s FOR UPDATE"), {"s": scenario_id}
    )
    touched = [
        spec
        for spec in catalog.values()
        if (await conn.execute(text(_touched_sql(spec)), {"s": scenario_id})).scalar_one()
    ]
    for spec in touched:
        who.refuse_unwritable(spec)
    conflicts: dict[str, list[str]] = {}
    for spec in touched:
        names = _names(spec)
        await conn.execute(text(f"LOCK TABLE {names['table']} IN SHARE ROW EXCLUSIVE MODE"))
        found = (await conn.execute(text(_CONFLICTS.format(**names)), {"s": scenario_id})).all()
        if found:
            conflicts[spec.id] = [a for (a,) in found]
    if conflicts:
        assets = [a for ids in conflicts.values() for a in ids]
        raise Conflict(
            f"live assets changed since scenario {scenario_id!r} branched: {conflicts}", assets
        )
    committed: dict[str, Any] = {}
    source = f"scenario:{scenario_id}"
    for spec in touched:
        names = _names(spec)
        closed = (await conn.execute(text(_CLOSE.format(**names)), {"s": scenario_id})).rowcount
        attrs = ", ".join(a.name for a in spec.attributes)
        made = (
            await conn.execute(
                text(_INSERT.format(names=attrs, **names)), {"s": scenario_id, "source": source}
            )
        ).all()
        after: dict[str, list[int]] = {}
        for r in made:
            after.setdefault(r.asset_id, []).append(r.version_id)
        committed[spec.id] = {"closed": closed, "versions": after}
        await log_write(conn, spec, who, "commit", {"scenario": scenario_id, "after": after})
    await conn.execute(
        text(f"UPDATE {SCHEMA}.scenarios SET committed_at = now() WHERE id = :s"),
        {"s": scenario_id},
    )
    return {"scenario": scenario.id, "layers": committed}


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


async def check_readable(engine: Any, who: Principal, when: Any) -> None:
    """A read with `scenario=` names one this caller's role may use (else 404)."""
    if when is None or when.scenario is None:
        return
    async with engine.connect() as conn:
        await get(conn, who, when.scenario)
