"""WNTR-style valve layers (a CSV of `link,node`) as valve points on the pipes.

A row says "a valve on link L protects node N": it sits on L at the end touching N. The
platform records valves as points (pipe_nodes, node_kind valve), so each row becomes a
point drawn on L, `offset_m` from N. Within the isolation's snap tolerance (1 m by default)
the point acts at N, exactly WNTR's valve; further along, it splits L where it is drawn.
"""

from __future__ import annotations

import os

import geopandas as gpd
import pandas as pd
from shapely import STRtree

# A point this close to a second pipe could be on either: it says nothing about its link.
AMBIGUOUS_M = 0.02


def read_valve_layer(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The `link,node` rows of a CSV, as text; other columns (an index) are ignored."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise ValueError(f"{path}: not a readable valve layer CSV: {e}") from e
    missing = {"link", "node"} - set(frame.columns)
    if missing:
        raise ValueError(
            f"{path}: a valve layer needs columns link and node (no {sorted(missing)})"
        )
    return frame[["link", "node"]]


def valve_points(
    layer: pd.DataFrame, links: gpd.GeoDataFrame, offset_m: float = 0.5, prefix: str = "V"
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Valve points for the rows, drawn on the pipelines frame `links`, and the rows refused.

    The frame's CRS must be projected (the offset is in metres). Each valve is named
    `prefix` + the row's index. A row is refused, with its index and reason, when its link
    is not a drawn link, its node is not an end of the link, or every spot within
    `offset_m` of the node is as near another pipe (pipes drawn on top of each other).
    """
    if links.crs is None or not links.crs.is_projected:
        raise ValueError("valve points need the links in a projected CRS (offsets are metres)")
    per_unit = links.crs.axis_info[0].unit_conversion_factor
    by_id = links.set_index("asset_id")
    tree = STRtree(links.geometry.values)
    rows, refused = [], []
    for i, r in layer.iterrows():
        if r.link not in by_id.index:
            refused.append((i, f"link {r.link!r} is not a drawn link"))
            continue
        line = by_id.geometry[r.link]
        ends = (by_id.from_node[r.link], by_id.to_node[r.link])
        if r.node not in ends:
            refused.append((i, f"node {r.node!r} is not an end of link {r.link!r}"))
            continue
        at = _spot(line, r.node == ends[0], offset_m / per_unit, tree, AMBIGUOUS_M / per_unit)
        if at is None:
            refused.append((i, f"link {r.link!r} is drawn over another pipe near {r.node!r}"))
            continue
        rows.append(
            {
                "asset_id": f"{prefix}{i}",
                "utility": "water",
                "node_kind": "valve",
                "valve_state": "open",
                "status": "in_service",
                "geometry": at,
            }
        )
    columns = ["asset_id", "utility", "node_kind", "valve_state", "status", "geometry"]
    points = gpd.GeoDataFrame(rows, columns=columns, geometry="geometry", crs=links.crs)
    return points, pd.DataFrame(refused, columns=["row", "reason"])


def _spot(line, from_start: bool, offset: float, tree: STRtree, clear: float):
    """A point on `line` about `offset` from its start (or end) that no other pipe touches."""
    for share in (1.0, 0.5, 0.25, 0.75):
        d = min(offset * share, line.length / 4)
        at = line.interpolate(d if from_start else line.length - d)
        if len(tree.query(at, "dwithin", clear)) == 1:
            return at
    return None
