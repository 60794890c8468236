"""`POST /analysis/coverage` on the grid: coverage, best-server and overlap polygons.

Polygons are the grid's cells merged (their edges follow the cells), in lon/lat, each with
its geodesic area_m2, largest first after the summary feature.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from fastapi.concurrency import run_in_threadpool
from shapely.geometry import mapping
from sqlalchemy.ext.asyncio import AsyncConnection

from layers import Catalog
from layers.access import Principal
from layers.errors import TooLarge
from spatial_api.analysis.answer import MAX_FEATURES, feature
from spatial_api.analysis.coverage_budget import Budgets, threshold
from spatial_api.analysis.coverage_grid import (
    BestServer,
    Grid,
    Notes,
    mask_polygons,
    received,
)
from spatial_api.analysis.coverage_models import CoverageRequest, GridCoverage
from spatial_api.analysis.coverage_sectors import (
    geodesic_area_m2,
    load_sectors,
    to_lonlat,
)
from spatial_api.analysis.sources import parse_when

Piece = tuple[dict[str, Any], shapely.Geometry]  # properties, polygon in grid metres


def reach_bounds(budgets: Budgets) -> tuple[float, float, float, float]:
    """The box holding every cell any computed sector can cover."""
    b = np.array([r.bounds for r in budgets.radios])
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


def grid_for(budgets: Budgets, cell_m: float) -> Grid:
    return Grid.around(reach_bounds(budgets), cell_m)


def summary(
    req: GridCoverage, budgets: Budgets, notes: Notes, epsg: int, grid: Grid | None
) -> dict[str, Any]:
    """How the answer was computed, and everything it cannot vouch for."""
    techs = sorted({str(p.get("technology")) for p in budgets.props})
    info = budgets.summary()
    warnings = notes.lines() + [
        f"{n} sectors: {why}" for why, n in info.pop("model_fallback").items()
    ]
    return {
        "role": "summary",
        "model": req.model or "by frequency (propagation.choose_model)",
        "threshold_dbm": {t: threshold(req, t) for t in techs},
        "rx_height_m": req.rx_height_m,
        "environment": req.environment,
        "cell_m": req.cell_m,
        "grid_crs": f"EPSG:{epsg}",
        "grid_cells": grid.rows * grid.cols if grid else 0,
        "terrain": budgets.terrain_note,
        "uma_condition": "NLOS everywhere (no building data)",
        **info,
        "warnings": warnings,
    }


def _per_sector(req: CoverageRequest, grid: Grid, budgets: Budgets, notes: Notes) -> list[Piece]:
    out = []
    for w in received(
        grid, budgets.radios, req.rx_height_m, req.environment, notes, terrain=budgets.terrain
    ):
        mask = w.rx_dbm >= budgets.radios[w.index].threshold_dbm
        geom = mask_polygons(mask, grid, w.rows.start, w.cols.start)
        if not geom.is_empty:
            out.append((budgets.props[w.index], geom))
    return out


def _dissolved(req: CoverageRequest, grid: Grid, budgets: Budgets, notes: Notes) -> list[Piece]:
    key = req.dissolve_by
    assert key is not None
    keys = [("all" if key == "all" else p.get(key)) for p in budgets.props]
    covered: dict[Any, np.ndarray] = {}
    sectors: dict[Any, int] = {}
    for w in received(
        grid, budgets.radios, req.rx_height_m, req.environment, notes, terrain=budgets.terrain
    ):
        k = keys[w.index]
        if k not in covered:
            covered[k] = np.zeros((grid.rows, grid.cols), bool)
        covered[k][w.rows, w.cols] |= w.rx_dbm >= budgets.radios[w.index].threshold_dbm
        sectors[k] = sectors.get(k, 0) + 1
    out = []
    for k, mask in covered.items():
        props = {"sectors": sectors[k]} | ({} if key == "all" else {key: k})
        out.append((props, mask_polygons(mask, grid)))
    return out


def best_by_operator(
    req: GridCoverage, grid: Grid, budgets: Budgets, notes: Notes
) -> tuple[dict[str, BestServer], list[tuple[int, slice, slice]]]:
    """The strongest sector per cell for each operator, and where each sector was computed."""
    best: dict[str, BestServer] = {}
    spans = []
    for w in received(
        grid, budgets.radios, req.rx_height_m, req.environment, notes, terrain=budgets.terrain
    ):
        op = str(budgets.props[w.index].get("operator"))
        if op not in best:
            best[op] = BestServer.empty(grid)
        best[op].add(w, budgets.radios[w.index].threshold_dbm)
        spans.append((w.index, w.rows, w.cols))
    return best, spans


def _best_server(req: CoverageRequest, grid: Grid, budgets: Budgets, notes: Notes) -> list[Piece]:
    best, spans = best_by_operator(req, grid, budgets, notes)
    out = []
    for i, rows, cols in spans:
        b = best[str(budgets.props[i].get("operator"))]
        mask = (b.server[rows, cols] == i) & (
            b.rx_dbm[rows, cols] >= budgets.radios[i].threshold_dbm
        )
        geom = mask_polygons(mask, grid, rows.start, cols.start)
        if not geom.is_empty:
            out.append((budgets.props[i], geom))
    return out


def _overlap(req: CoverageRequest, grid: Grid, budgets: Budgets, notes: Notes) -> list[Piece]:
    """Cells of an operator where ≥ overlap_servers sectors meet their threshold within
    overlap_db of the best: a second pass over the sectors, not a copy of every window."""
    best, _ = best_by_operator(req, grid, budgets, notes)
    count = {op: np.zeros((grid.rows, grid.cols), np.int16) for op in best}
    for w in received(
        grid, budgets.radios, req.rx_height_m, req.environment, Notes(), terrain=budgets.terrain
    ):
        op = str(budgets.props[w.index].get("operator"))
        top = best[op].rx_dbm[w.rows, w.cols]
        strong = w.rx_dbm >= budgets.radios[w.index].threshold_dbm
        count[op][w.rows, w.cols] += strong & (w.rx_dbm >= top - req.overlap_db)
    out = []
    for op, n in sorted(count.items()):
        mask = n >= req.overlap_servers
        props = {
            "operator": op,
            "overlap_db": req.overlap_db,
            "servers_at_least": req.overlap_servers,
            "cells": int(mask.sum()),
            "max_servers": int(n.max()),
        }
        out.append((props, mask_polygons(mask, grid)))
    return out


OUTPUTS = {"best_server": _best_server, "overlap": _overlap}


def compute(req: CoverageRequest, budgets: Budgets, epsg: int) -> list[dict]:
    """CPU-bound: run in a worker thread."""
    notes = Notes()
    grid = grid_for(budgets, req.cell_m) if budgets.radios else None
    pieces: list[Piece] = []
    if grid is not None:
        if req.output == "coverage":
            run = _per_sector if req.dissolve_by is None else _dissolved
        else:
            run = OUTPUTS[req.output]
        pieces = run(req, grid, budgets, notes)
    if len(pieces) > MAX_FEATURES:
        raise TooLarge(f"more than {MAX_FEATURES} polygons: filter the sectors or dissolve_by")
    features = []
    for props, geom in pieces:
        lonlat = to_lonlat(epsg, geom)
        area = geodesic_area_m2(lonlat)
        features.append((area, props | {"area_m2": area}, mapping(lonlat)))
    features.sort(key=lambda f: -f[0])
    head = feature(0, None, summary(req, budgets, notes, epsg, grid))
    return [head] + [feature(i, g, p) for i, (_, p, g) in enumerate(features, 1)]


async def coverage_map(
    conn: AsyncConnection, catalog: Catalog, principal: Principal, req: CoverageRequest
) -> list[dict]:
    budgets, epsg = await load_sectors(
        conn, catalog, principal, req, req.filter, parse_when(req.datetime_, req.scenario)
    )
    return await run_in_threadpool(compute, req, budgets, epsg)
