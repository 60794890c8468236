"""Turn-by-turn steps of a route: one per road driven, with the turn onto it.

Consecutive edges of one road (its name, or its asset_id when it has none) make one step.
The turn is the change of heading where one step meets the next: the geodesic azimuth of
the last segment driven against that of the first segment of the next road, positive to
the right. Bearings are per edge as driven (`LEGS`, added to the route queries).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# Per edge as driven: road, metres, seconds, heading out of its start and into its end.
LEGS = (
    "jsonb_agg(jsonb_build_object('road', asset_id, 'm', len, 's', cost_s, "
    "'b0', degrees(ST_Azimuth(ST_StartPoint(geom)::geography, ST_PointN(geom, 2)::geography)), "
    "'b1', degrees(ST_Azimuth(ST_PointN(geom, -2)::geography, ST_EndPoint(geom)::geography))"
    ") ORDER BY {seq}) AS legs"
)
NAMES = "SELECT DISTINCT ON (asset_id) asset_id, name FROM _e WHERE asset_id = ANY(:ids)"
TURNS = (  # (largest |change of heading| in degrees, instruction), left or right added
    (20, "continue"),
    (60, "turn slight"),
    (135, "turn"),
    (170, "turn sharp"),
    (180, "make a U-turn"),
)


async def road_names(conn: AsyncConnection, roads: list[str]) -> dict[str, str | None]:
    """The names of the graph's roads (`_e`), by asset_id."""
    rows = await conn.execute(text(NAMES), {"ids": sorted(set(roads))})
    return {r.asset_id: r.name for r in rows}


def turn(heading_in: float | None, heading_out: float | None) -> str:
    """The instruction for leaving a road heading `heading_in` onto one heading `heading_out`."""
    if heading_in is None or heading_out is None:
        return "continue"
    change = (heading_out - heading_in + 180) % 360 - 180  # (-180, 180], right positive
    for limit, what in TURNS:
        if abs(change) <= limit:
            if what in ("continue", "make a U-turn"):
                return what
            return f"{what} {'right' if change > 0 else 'left'}"
    raise AssertionError(change)  # pragma: no cover: |change| ≤ 180


def _text(instruction: str, name: str | None) -> str:
    return f"{instruction[0].upper()}{instruction[1:]}" + (f" onto {name}" if name else "")


def steps(legs: list[dict[str, Any]], names: dict[str, str | None]) -> list[dict[str, Any]]:
    """Depart, one step per road after, arrive; each with its road, metres and seconds."""
    groups: list[dict[str, Any]] = []
    for leg in legs:
        name = names.get(leg["road"])
        key = name if name else leg["road"]
        if groups and groups[-1]["key"] == key:
            g = groups[-1]
            if leg["road"] != g["roads"][-1]:
                g["roads"].append(leg["road"])
            g["length_m"] += leg["m"]
            g["duration_s"] += leg["s"]
            g["b1"] = leg["b1"] if leg["b1"] is not None else g["b1"]
            continue
        groups.append(
            {
                "key": key,
                "road": name,
                "roads": [leg["road"]],
                "length_m": leg["m"],
                "duration_s": leg["s"],
                "b0": leg["b0"],
                "b1": leg["b1"],
            }
        )
    out = []
    for i, g in enumerate(groups):
        instruction = "depart" if i == 0 else turn(groups[i - 1]["b1"], g["b0"])
        out.append(
            {
                "instruction": instruction,
                "text": _text(instruction, g["road"]),
                "road": g["road"],
                "roads": g["roads"],
                "heading_deg": None if g["b0"] is None else g["b0"] % 360,
                "length_m": g["length_m"],
                "duration_s": g["duration_s"],
            }
        )
    if out:
        out.append(
            {
                "instruction": "arrive",
                "text": "Arrive",
                "road": groups[-1]["road"],
                "roads": [],
                "heading_deg": None,
                "length_m": 0.0,
                "duration_s": 0.0,
            }
        )
    return out
