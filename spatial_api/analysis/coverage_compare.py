"""`POST /analysis/coverage/compare`: the area a scenario gains and loses against the city.

Only the sectors the scenario touched can change coverage, and only within the box they
reach (before or after the edit): the difference is computed there, on the same cell
lattice and with the same grid code as /analysis/coverage/stats. An area's covered % before
is the live city's over the whole area (the stats' own measure, on the grid over the areas
the box meets), and after it the same cells with the box recomputed from the scenario:
outside the box nothing the scenario did can reach. Rows come per area the box meets and
per operator of the changed sectors; areas it misses are unchanged and only counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from fastapi.concurrency import run_in_threadpool
from pydantic import Field, model_validator
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.tables import SCHEMA
from spatial_api import scenarios
from spatial_api.analysis.answer import feature
from spatial_api.analysis.coverage_budget import Budgets
from spatial_api.analysis.coverage_grid import Grid, Notes, Radio, mask_polygons, metric_epsg
from spatial_api.analysis.coverage_map import best_by_operator, reach_bounds, summary
from spatial_api.analysis.coverage_models import CoverageStatsRequest, GridCoverage
from spatial_api.analysis.coverage_sectors import geodesic_area_m2, load_sectors, to_lonlat
from spatial_api.analysis.coverage_stats import (
    Area,
    cell_areas,
    load_areas,
    measure,
    metric_geometry,
)
from spatial_api.analysis.models import GeometryInput, LayerInput, Options
from spatial_api.analysis.sources import parse_when

Box = tuple[float, float, float, float]


class AreaLayer(LayerInput):
    ids: list[str] | None = Field(
        default=None, max_length=1000, description="Only these areas (asset ids) of the layer"
    )


class CoverageCompareRequest(Options, GridCoverage):
    """Gained and lost coverage of a scenario against the live city, per area and operator."""

    scenario: str = Field(  # required here, optional elsewhere
        min_length=1, max_length=40, description="The scenario compared with the live city"
    )
    operator: str | None = Field(default=None, max_length=40, description="One operator")
    areas: AreaLayer | GeometryInput = Field(
        default_factory=lambda: AreaLayer(layer="districts"),
        description="A polygon layer (default districts, optionally `ids`) or a GeoJSON polygon",
    )

    @model_validator(mode="after")
    def _grid_model(self) -> CoverageCompareRequest:
        if self.model == "fixed":
            raise ValueError("model: the comparison is computed on the grid, not with fixed")
        return self


@dataclass(frozen=True)
class Sides:
    """The changed operators' sectors in the live city and in the scenario, and the box
    the changed ones reach (None: the scenario changes no computable sector)."""

    before: Budgets
    after: Budgets
    box: Box | None
    changed: list[str]  # asset ids of the sectors whose radio differs
    operators: list[str]


def _keyed(b: Budgets) -> dict[str, tuple[Radio, str]]:
    return {
        str(p["asset_id"]): (r, str(p.get("operator")))
        for r, p in zip(b.radios, b.props, strict=True)
    }


def _only(b: Budgets, operators: set[str]) -> Budgets:
    keep = [i for i, p in enumerate(b.props) if str(p.get("operator")) in operators]
    return Budgets([b.radios[i] for i in keep], [b.props[i] for i in keep])


def sides(before: Budgets, after: Budgets, touched: set[str]) -> Sides:
    """Which of the touched sectors change a radio (moved, retuned, added, deleted)."""
    was, now = _keyed(before), _keyed(after)
    changed = sorted(a for a in touched if was.get(a) != now.get(a))
    radios = [s[0] for a in changed for s in (was.get(a), now.get(a)) if s is not None]
    operators = sorted({s[1] for a in changed for s in (was.get(a), now.get(a)) if s is not None})
    box: Box | None = None
    if radios:
        b = np.array([r.bounds for r in radios])
        box = (
            float(b[:, 0].min()),
            float(b[:, 1].min()),
            float(b[:, 2].max()),
            float(b[:, 3].max()),
        )
    ops = set(operators)
    return Sides(_only(before, ops), _only(after, ops), box, changed, operators)


def _meets(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _sub(grid: Grid, rows: slice, cols: slice) -> Grid:
    """The window of the grid as a grid of its own, on the same lattice."""
    c = grid.cell
    x0 = (round(grid.x0 / c) + cols.start) * c
    y0 = (round(grid.y0 / c) + rows.start) * c
    return Grid(float(x0), float(y0), c, rows.stop - rows.start, cols.stop - cols.start)


def compute(
    req: CoverageCompareRequest, areas: list[Area], s: Sides, epsg: int
) -> tuple[list[dict], dict[str, Any]]:
    """Rows and gained/lost polygons, and the summary's numbers (CPU-bound: a worker thread)."""
    assert s.box is not None
    box = s.box
    met = [a for a in areas if _meets(a.geom.bounds, box)]
    if not met:
        return [], {"areas_changed": 0}
    x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds([a.geom for a in met]))
    reach = [reach_bounds(b) for b in (s.before, s.after) if b.radios]
    r = np.array(reach)
    x0, y0 = max(x0, r[:, 0].min()), max(y0, r[:, 1].min())
    x1, y1 = min(x1, r[:, 2].max()), min(y1, r[:, 3].max())
    grid = Grid.around((x0, y0, max(x1, x0), max(y1, y0)), req.cell_m)
    notes = Notes()
    before, _ = best_by_operator(req, grid, s.before, notes) if s.before.radios else ({}, [])
    win = grid.window_of(box)
    after_box: dict[str, np.ndarray] = {}
    if win is not None and s.after.radios:
        sub = _sub(grid, *win)
        got, _ = best_by_operator(req, sub, s.after, notes)
        after_box = {op: b.covered for op, b in got.items()}
    empty = np.zeros((grid.rows, grid.cols), bool)
    rows, shapes = [], []
    for area in met:
        aw = grid.window_of(area.geom.bounds)
        cells = (cell_areas(area.geom, grid, *aw), *aw) if aw is not None else None
        total_m2 = geodesic_area_m2(to_lonlat(epsg, area.geom))
        for op in s.operators:
            was = before[op].covered if op in before else empty
            now = was.copy()
            gained, lost = empty.copy(), empty.copy()
            if win is not None:
                box_now = after_box.get(op, np.zeros(now[win].shape, bool))
                now[win] = box_now
                gained[win] = box_now & ~was[win]
                lost[win] = was[win] & ~box_now
            n = {
                k: measure(area.geom, m, grid, epsg, 0.0, 0, cells, total_m2)
                for k, m in (("before", was), ("after", now), ("gained", gained), ("lost", lost))
            }
            total = n["before"].area_m2
            rows.append(
                area.props
                | {
                    "role": "compare",
                    "operator": op,
                    "area_km2": total / 1e6,
                    "gained_km2": n["gained"].covered_m2 / 1e6,
                    "lost_km2": n["lost"].covered_m2 / 1e6,
                    "covered_before_km2": n["before"].covered_m2 / 1e6,
                    "covered_after_km2": n["after"].covered_m2 / 1e6,
                    "covered_before_pct": 100 * n["before"].covered_m2 / total if total else 0.0,
                    "covered_after_pct": 100 * n["after"].covered_m2 / total if total else 0.0,
                }
            )
            if win is None:
                continue
            for role, mask in (("gained", gained), ("lost", lost)):
                cut = mask_polygons(mask[win], grid, win[0].start, win[1].start)
                part = shapely.intersection(cut, area.geom) if not cut.is_empty else cut
                lonlat = to_lonlat(epsg, part)
                if lonlat.is_empty or shapely.area(part) == 0:
                    continue
                props = area.props | {"role": role, "operator": op}
                shapes.append((props | {"area_m2": geodesic_area_m2(lonlat)}, mapping(lonlat)))
    features = [feature(i, None, p) for i, p in enumerate(rows, 1)]
    features += [feature(len(rows) + i, g, p) for i, (p, g) in enumerate(shapes, 1)]
    head = summary(req, s.after, notes, epsg, grid) | {
        "areas_changed": len(met),
        "box_cells": (win[0].stop - win[0].start) * (win[1].stop - win[1].start) if win else 0,
    }
    return features, head


async def touched_sectors(conn: AsyncConnection, catalog: Catalog, scenario_id: str) -> set[str]:
    """Asset ids of the sectors the scenario wrote (added, changed or deleted)."""
    table = f"{SCHEMA}.{catalog['sectors'].scenario_table}"
    sql = f"SELECT DISTINCT asset_id FROM {table} WHERE scenario_id = :s"
    return {r[0] for r in await conn.execute(text(sql), {"s": scenario_id})}


async def coverage_compare(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: CoverageCompareRequest
) -> tuple[list[dict], bool]:
    await scenarios.get(conn, principal, req.scenario)  # 404 before any work
    live, what_if = parse_when(req.datetime_), parse_when(req.datetime_, req.scenario)
    given = req.areas
    areas_in = (
        LayerInput(layer=given.layer, filter=given.filter)
        if isinstance(given, AreaLayer)
        else given
    )
    found, restricted = await load_areas(
        conn, catalog, principal, CoverageStatsRequest(areas=areas_in), what_if
    )
    if isinstance(req.areas, AreaLayer) and req.areas.ids is not None:
        wanted = set(req.areas.ids)
        found = [(p, g) for p, g in found if p["area_id"] in wanted]
    touched = await touched_sectors(conn, catalog, req.scenario)
    head: dict[str, Any] = {
        "role": "summary",
        "scenario": req.scenario,
        "areas": len(found),
        "sectors_touched": len(touched),
    }
    if not found or not touched:
        return [feature(0, None, head | {"changed_sectors": [], "operators": []})], restricted
    epsg = metric_epsg(float(np.mean([g.centroid.x for _, g in found])))
    areas = [Area(p, metric_geometry(epsg, g)) for p, g in found]
    near = tuple(float(v) for v in shapely.total_bounds([a.geom for a in areas]))
    filters = {"operator": req.operator} if req.operator else None
    loaded = [
        (await load_sectors(conn, catalog, principal, req, filters, when, epsg, near))[0]  # type: ignore[arg-type]
        for when in (live, what_if)
    ]
    s = sides(loaded[0], loaded[1], touched)
    head |= {"changed_sectors": s.changed, "operators": s.operators}
    if s.box is None:
        return [feature(0, None, head | {"areas_changed": 0})], restricted
    features, numbers = await run_in_threadpool(compute, req, areas, s, epsg)
    return [feature(0, None, head | numbers)] + features, restricted
