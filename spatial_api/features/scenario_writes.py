"""Writes inside a scenario: the same validation and the same valid-time rules as live
writes, kept as versions in `{layer}_scenario`.

An asset the scenario touches is what the scenario says from its first scenario version's
valid_from on (layers/query.py); before that, the live versions show. Scenario versions
carry negative ids (`-row id`), which are their ETags too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog, LayerSpec
from layers.access import Principal
from layers.errors import Conflict, FeatureNotFound
from layers.tables import SCHEMA
from spatial_api.features.crs import Crs
from spatial_api.features.writes import (
    Written,
    check_current,
    etag,
    log_write,
    new_ids,
    prepared_rows,
    recordset_sql,
)


@cache
def _insert_sql(spec_id: str) -> str:
    spec = Catalog()[spec_id]
    names = ", ".join(a.name for a in spec.attributes)
    picked = ", ".join(f"r.{a.name}" for a in spec.attributes)
    return f"""
INSERT INTO {SCHEMA}.{spec.scenario_table}
    (scenario_id, op, base_version_id, asset_id, valid, {names}, geom, source, recorded_at)
SELECT :scenario, 'put', :base, r.asset_id, tstzrange(:vf, NULL), {picked},
       ST_GeomFromEWKB(decode(r.geom, 'hex')), :source, now()
FROM {recordset_sql(spec)}
RETURNING asset_id, -id AS version_id
"""


@dataclass(frozen=True)
class State:
    """The asset's open version as the scenario sees it: its own, or the live one."""

    edit_id: int | None
    base_version_id: int | None
    since: datetime

    @property
    def etag(self) -> str:
        return etag(-self.edit_id if self.edit_id is not None else self.base_version_id or 0)


# The asset's scenario versions: how many, the open one (if any) and the base they share.
_EDITS = """
SELECT count(*) AS n,
       max(id) FILTER (WHERE upper_inf(valid) AND op = 'put') AS open_id,
       max(lower(valid)) FILTER (WHERE upper_inf(valid) AND op = 'put') AS since,
       max(base_version_id) AS base
FROM {edits} WHERE scenario_id = :s AND asset_id = :id
"""
_LIVE = """
SELECT version_id, lower(valid) AS since FROM {table}
WHERE asset_id = :id AND upper_inf(valid)
"""


async def _lock(conn: AsyncConnection, scenario: str) -> None:
    """One writer per scenario at a time: its versions are checked, then written."""
    await conn.execute(
        text(f"SELECT 1 FROM {SCHEMA}.scenarios WHERE id = :s FOR UPDATE"), {"s": scenario}
    )


async def _state(
    conn: AsyncConnection,
    spec: LayerSpec,
    scenario: str,
    asset_id: str,
    if_match: str | None,
    valid_from: datetime,
) -> State:
    edits, table = f"{SCHEMA}.{spec.scenario_table}", f"{SCHEMA}.{spec.id}"
    mine = (
        await conn.execute(text(_EDITS.format(edits=edits)), {"s": scenario, "id": asset_id})
    ).one()
    if mine.n and mine.open_id is None:
        raise FeatureNotFound(f"{asset_id!r} is deleted in scenario {scenario!r}")
    if mine.n:
        state = State(mine.open_id, mine.base, mine.since)
    else:
        live = (await conn.execute(text(_LIVE.format(table=table)), {"id": asset_id})).one_or_none()
        if live is None:
            raise FeatureNotFound(f"no live feature {asset_id!r} in {spec.id}")
        state = State(None, live.version_id, live.since)
    where = f" in scenario {scenario!r}"
    check_current(asset_id, state.etag, state.since, if_match, valid_from, where)
    return state


async def _close(conn: AsyncConnection, spec: LayerSpec, state: State, at: datetime) -> None:
    if state.edit_id is not None:
        await conn.execute(
            text(
                f"UPDATE {SCHEMA}.{spec.scenario_table} SET valid = tstzrange(lower(valid), :at)"
                " WHERE id = :id"
            ),
            {"at": at, "id": state.edit_id},
        )


def _source(who: Principal, scenario: str) -> str:
    return f"api:{who.name or who.role.name}:{scenario}"


async def create(
    conn: AsyncConnection,
    spec: LayerSpec,
    who: Principal,
    features: list[dict],
    valid_from: datetime,
    crs: Crs,
    scenario: str,
) -> list[Written]:
    """New assets in the scenario; an id live (or open in the scenario) is a conflict."""
    ids = new_ids(features, spec)
    rows = await prepared_rows(features, spec, ids, crs)
    await _lock(conn, scenario)
    taken = (
        (
            await conn.execute(
                text(
                    f"SELECT asset_id FROM {SCHEMA}.{spec.id} WHERE asset_id = ANY(:ids)"
                    " AND upper_inf(valid) UNION"
                    f" SELECT asset_id FROM {SCHEMA}.{spec.scenario_table}"
                    " WHERE scenario_id = :s AND asset_id = ANY(:ids) AND op = 'put'"
                    " AND upper_inf(valid) ORDER BY 1 LIMIT 20"
                ),
                {"ids": ids, "s": scenario},
            )
        )
        .scalars()
        .all()
    )
    if taken:
        raise Conflict(
            f"{spec.id} already has assets {list(taken)}: PUT or PATCH them", list(taken)
        )
    params = {"rows": rows, "vf": valid_from, "scenario": scenario, "base": None}
    try:
        made = (
            await conn.execute(
                text(_insert_sql(spec.id)), params | {"source": _source(who, scenario)}
            )
        ).all()
    except IntegrityError as exc:  # an earlier scenario version is valid after valid_from
        raise Conflict(
            f"{spec.id}: a version of these assets is valid after {valid_from}: {exc.orig}"
        ) from None
    written = [Written(r.asset_id, r.version_id) for r in made]
    after = {w.asset_id: w.version_id for w in written}
    await log_write(conn, spec, who, "create", {"scenario": scenario, "after": after})
    return written


async def replace(
    conn: AsyncConnection,
    spec: LayerSpec,
    who: Principal,
    asset_id: str,
    feature: dict,
    valid_from: datetime,
    crs: Crs,
    if_match: str | None,
    scenario: str,
    action: str = "replace",
) -> Written:
    rows = await prepared_rows([feature], spec, [asset_id], crs)
    await _lock(conn, scenario)
    state = await _state(conn, spec, scenario, asset_id, if_match, valid_from)
    await _close(conn, spec, state, valid_from)
    made = (
        await conn.execute(
            text(_insert_sql(spec.id)),
            {
                "rows": rows,
                "vf": valid_from,
                "scenario": scenario,
                "base": state.base_version_id,
                "source": _source(who, scenario),
            },
        )
    ).one()
    details = {"scenario": scenario, "asset_id": asset_id, "after": made.version_id}
    await log_write(conn, spec, who, action, details)
    return Written(asset_id, made.version_id)


async def delete(
    conn: AsyncConnection,
    spec: LayerSpec,
    who: Principal,
    asset_id: str,
    valid_from: datetime,
    if_match: str | None,
    scenario: str,
) -> None:
    """The asset stops at valid_from in the scenario; a live one gets a delete marker."""
    await _lock(conn, scenario)
    state = await _state(conn, spec, scenario, asset_id, if_match, valid_from)
    if state.edit_id is not None:
        await _close(conn, spec, state, valid_from)
    else:
        names = ", ".join(a.name for a in spec.attributes)
        await conn.execute(
            text(
                f"INSERT INTO {SCHEMA}.{spec.scenario_table} (scenario_id, op, base_version_id,"
                f" asset_id, valid, {names}, geom, source, recorded_at) SELECT :s, 'delete',"
                f" version_id, asset_id, tstzrange(:vf, NULL), {names}, geom, :source, now()"
                f" FROM {SCHEMA}.{spec.id} WHERE version_id = :base"
            ),
            {
                "s": scenario,
                "vf": valid_from,
                "base": state.base_version_id,
                "source": _source(who, scenario),
            },
        )
    details = {"scenario": scenario, "asset_id": asset_id, "before": state.etag, "after": None}
    await log_write(conn, spec, who, "delete", details)
