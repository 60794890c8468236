"""Features sent to the API, validated exactly as a loaded file is (loaders.load.prepare).

The API's writes (OGC API Features Part 4) hand GeoJSON features here; they come back as
the loader's staging rows (typed attributes, storage-CRS EWKB), or as InvalidFeatures
listing every problem, feature by feature. Only one thing is stricter than a load: an
invalid geometry is refused, not repaired, because the person who drew it is there to fix it.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import shape

from layers import LayerSpec
from layers.errors import InvalidFeatures, InvalidParameter
from loaders.crs import parse_crs
from loaders.errors import LoadError
from loaders.load import LoadOptions, prepare
from loaders.mapping import Mapping
from loaders.read import ReadOptions

ID = "_asset_id"  # never an attribute name (those start a-z)


def _problem(i: int, asset_id: Any, reason: str) -> dict[str, Any]:
    return {"feature": i, "asset_id": asset_id, "reason": reason}


def _shape(i: int, feature: dict, problems: list[dict]) -> Any:
    try:
        return shape(feature["geometry"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        problems.append(_problem(i, feature.get("id"), f"geometry: not GeoJSON ({exc})"))
        return None


def _refuse_invalid(geoms: np.ndarray, features: list[dict], problems: list[dict]) -> None:
    """Invalid geometries become None, each with its reason (one GEOS call for them all)."""
    invalid = np.flatnonzero(~shapely.is_valid(geoms) & ~shapely.is_missing(geoms))
    for i, why in zip(invalid, shapely.is_valid_reason(geoms[invalid]), strict=True):
        problems.append(_problem(int(i), features[i].get("id"), f"invalid geometry: {why}"))
    geoms[invalid] = None


def features_frame(
    features: list[dict], spec: LayerSpec, ids: list[str], lat_first: bool = False
) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """The features as a loader frame, and the problems a file's columns never have
    (not a Feature, unknown properties, unreadable or invalid geometry)."""
    # Column by column, each value as JSON gave it (number, boolean, text; None where a
    # feature has no such property), so a feature's values never depend on the others in
    # its request (rows → DataFrame would make [12, missing] floats, 12 → "12.0").
    columns = {a.name: np.full(len(features), None, dtype=object) for a in spec.attributes}
    geoms = np.full(len(features), None, dtype=object)
    problems: list[dict] = []
    for i, (feature, asset_id) in enumerate(zip(features, ids, strict=True)):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(_problem(i, asset_id, "not a GeoJSON Feature"))
            continue
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            problems.append(_problem(i, asset_id, "properties: not an object"))
            props = {}
        for name in sorted(set(props) - columns.keys()):
            problems.append(_problem(i, asset_id, f"unknown property {name!r} of {spec.id}"))
        for name, value in props.items():
            if name in columns:
                columns[name][i] = value
        geoms[i] = _shape(i, feature, problems)
    _refuse_invalid(geoms, features, problems)
    if lat_first:  # EPSG:4326/4490 as OGC Part 2 reads them: latitude first
        geoms = shapely.transform(geoms, lambda xy: xy[:, ::-1])
    frame = pd.DataFrame(columns | {ID: np.array(ids, dtype=object)}, dtype=object)
    return gpd.GeoDataFrame(frame, geometry=gpd.array.from_shapely(geoms)), problems


def prepare_features(
    features: list[dict], spec: LayerSpec, ids: list[str], crs: str, lat_first: bool = False
) -> pd.DataFrame:
    """Staging rows (loaders/store.py columns) for `features`, or InvalidFeatures."""
    try:
        parse_crs(crs)
    except LoadError as exc:
        raise InvalidParameter(f"Content-Crs: {exc}") from None
    frame, problems = features_frame(features, spec, ids, lat_first)
    options = LoadOptions(read=ReadOptions(crs=crs), mapping=Mapping(id_column=ID))
    try:
        prepared = prepare(frame, spec, options, "request")
    except LoadError as exc:
        raise InvalidFeatures([_problem(0, ids[0] if ids else None, str(exc))]) from None
    no_geometry = {p["feature"] for p in problems if "geometry" in p["reason"]}
    rejects = prepared.rejects.to_dict("records") if len(prepared.rejects) else []
    for r in rejects:
        row, reason = int(r["row"]), str(r["reason"])
        if row in no_geometry:  # already said why; the loader adds "missing geometry"
            reason = "; ".join(p for p in reason.split("; ") if "geometry" not in p)
        if reason:
            problems.append(_problem(row, r["asset_id"], reason))
    if problems:
        raise InvalidFeatures(sorted(problems, key=lambda p: p["feature"]))
    return prepared.rows
