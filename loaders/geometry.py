"""Geometry checks and fixes, vectorised with shapely; each bad row gets a reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from layers import LayerSpec
from loaders.crs import SourceCRS, area_of_use_bounds, to_storage

# A null for np.where's other branch (its type stubs take no bare None).
NONE = np.array(None, dtype=object)

BASE_TYPE = {
    "Point": 0,
    "LineString": 1,
    "Polygon": 3,
    "MultiPoint": 0,
    "MultiLineString": 1,
    "MultiPolygon": 3,
}
MULTI_OF = {0: 4, 1: 5, 3: 6}
TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}
REPAIR_AREA_TOLERANCE = 1e-3  # a repair that changes area by more is not "safe"
AOU_MARGIN_DEG = 0.5


class Reasons:
    """Why each row is rejected; a row may collect several reasons."""

    def __init__(self, index: pd.Index):
        self.text = pd.Series("", index=index, dtype=object)

    def add(self, mask, message) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        if isinstance(message, pd.Series | np.ndarray):
            message = pd.Series(np.asarray(message)[mask], index=self.text.index[mask])
        current = self.text[mask]
        self.text[mask] = current.where(current == "", current + "; ") + message

    @property
    def bad(self) -> np.ndarray:
        return (self.text != "").to_numpy()


def _finite_xy(geoms: np.ndarray) -> np.ndarray:
    ok = np.ones(len(geoms), dtype=bool)
    coords, idx = shapely.get_coordinates(geoms, include_z=False, return_index=True)
    ok[np.unique(idx[~np.isfinite(coords).all(axis=1)])] = False
    with_z = np.flatnonzero(shapely.has_z(geoms))
    if len(with_z):
        zc, zi = shapely.get_coordinates(geoms[with_z], include_z=True, return_index=True)
        ok[with_z[np.unique(zi[~np.isfinite(zc[:, 2])])]] = False
    return ok


def conform(
    geoms: np.ndarray, spec: LayerSpec, source: SourceCRS, reasons: Reasons, fixes: dict[str, int]
) -> np.ndarray:
    """Geometries in the layer's type, CRS and dimension; rows that cannot be are flagged."""
    geoms = np.asarray(geoms, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    reasons.add(missing, "missing or empty geometry")
    geoms = np.where(missing, NONE, geoms)

    finite = _finite_xy(geoms)
    reasons.add(~missing & ~finite, "coordinates are NaN or infinite")
    geoms = np.where(finite, geoms, NONE)

    geoms = _to_layer_type(geoms, spec, reasons, fixes)
    live = ~shapely.is_missing(geoms)
    out = np.full(len(geoms), None, dtype=object)
    if live.any():
        out[live] = to_storage(geoms[live], source, spec.storage_srid)
    _check_extent(out, source, reasons)
    out = np.where(reasons.bad, NONE, out)
    out = _repair(out, spec, reasons, fixes)
    return out


def _to_layer_type(geoms, spec: LayerSpec, reasons: Reasons, fixes: dict[str, int]):
    base = BASE_TYPE[spec.geometry_type]
    multi = spec.geometry_type.startswith("Multi")
    types = shapely.get_type_id(geoms)  # -1 for missing
    out = geoms.copy()
    single = types == base
    many = types == MULTI_OF[base]
    if multi and single.any():
        rows = np.flatnonzero(single)
        out[rows] = _promote(geoms[rows], base)
    if not multi and many.any():
        rows = np.flatnonzero(many)
        parts = shapely.get_num_geometries(geoms[rows])
        one = parts == 1
        out[rows[one]] = shapely.get_geometry(geoms[rows[one]], 0)
        if base == 1 and (~one).any():  # contiguous pieces of one line merge back together
            merged = shapely.line_merge(geoms[rows[~one]])
            ok = shapely.get_type_id(merged) == 1
            out[rows[~one][ok]] = merged[ok]
            key = "merged multi-part lines"
            fixes[key] = fixes.get(key, 0) + int(ok.sum())
            still = rows[~one][~ok]
        else:
            still = rows[~one]
        reasons.add(
            np.isin(np.arange(len(geoms)), still),
            pd.Series(shapely.get_num_geometries(geoms), dtype=object).map(
                lambda n: (
                    f"{TYPE_NAMES[MULTI_OF[base]]} with {n} parts; layer "
                    f"{spec.id} takes one {spec.geometry_type} per asset"
                )
            ),
        )
        out[still] = None
    wrong = (types >= 0) & ~single & ~many
    if wrong.any():
        names = pd.Series(types).map(TYPE_NAMES)
        reasons.add(
            wrong,
            names.map(lambda n: f"geometry is {n}; layer {spec.id} takes {spec.geometry_type}"),
        )
        out[wrong] = None
    return out


def _promote(geoms: np.ndarray, base: int) -> np.ndarray:
    make = {0: shapely.multipoints, 1: shapely.multilinestrings, 3: shapely.multipolygons}[base]
    return make(geoms, indices=np.arange(len(geoms)))


def _check_extent(geoms: np.ndarray, source: SourceCRS, reasons: Reasons) -> None:
    live = ~shapely.is_missing(geoms)
    if not live.any():
        return
    finite = np.ones(len(geoms), dtype=bool)
    finite[live] = _finite_xy(geoms[live])
    reasons.add(live & ~finite, f"cannot be transformed from {source.name}: outside its range")
    bounds = shapely.bounds(np.where(finite, geoms, NONE))
    minx, miny, maxx, maxy = bounds.T
    with np.errstate(invalid="ignore"):
        geo_bad = (minx < -180) | (maxx > 180) | (miny < -90) | (maxy > 90)
    reasons.add(
        live & finite & geo_bad,
        "outside longitude −180…180 / latitude −90…90 (swapped lon/lat, or wrong CRS?)",
    )
    aou = area_of_use_bounds(source)
    if aou and source.crs.is_projected:
        w, s, e, n = aou
        m = AOU_MARGIN_DEG
        with np.errstate(invalid="ignore"):
            out = (minx < w - m) | (maxx > e + m) | (miny < s - m) | (maxy > n + m)
        reasons.add(
            live & finite & ~geo_bad & out,
            f"outside the area of use of {source.name} ({w:g}…{e:g}E, {s:g}…{n:g}N): wrong CRS?",
        )


def _repair(geoms: np.ndarray, spec: LayerSpec, reasons: Reasons, fixes: dict[str, int]):
    live = ~shapely.is_missing(geoms)
    valid = np.ones(len(geoms), dtype=bool)
    valid[live] = shapely.is_valid(geoms[live])
    bad_rows = np.flatnonzero(live & ~valid)
    if not len(bad_rows):
        return geoms
    why = pd.Series("", index=reasons.text.index, dtype=object)
    reject = np.zeros(len(geoms), dtype=bool)
    repaired = 0
    for i in bad_rows:
        g = geoms[i]
        fixed = _safe_fix(g, spec) if BASE_TYPE[spec.geometry_type] == 3 else None
        if fixed is None:
            reject[i] = True
            why.iloc[i] = f"invalid geometry: {shapely.is_valid_reason(g)}"
        else:
            geoms[i] = fixed
            repaired += 1
    reasons.add(reject, why)
    geoms[reject] = None
    if repaired:
        fixes["repaired invalid polygons"] = fixes.get("repaired invalid polygons", 0) + repaired
    return geoms


def _safe_fix(g, spec: LayerSpec):
    """make_valid, kept only when it leaves the polygonal area as it was."""
    fixed = shapely.make_valid(g, method="structure", keep_collapsed=False)
    polys = [p for p in shapely.get_parts(fixed) if shapely.get_type_id(p) == 3]
    if not polys:
        return None
    fixed = shapely.multipolygons(polys) if len(polys) > 1 else polys[0]
    before, after = abs(shapely.area(g)), shapely.area(fixed)
    if after == 0 or abs(after - before) / after > REPAIR_AREA_TOLERANCE:
        return None
    if spec.geometry_type == "MultiPolygon" and shapely.get_type_id(fixed) == 3:
        fixed = shapely.multipolygons([fixed])
    if spec.geometry_type == "Polygon" and shapely.get_type_id(fixed) == 6:
        return None
    return fixed


def set_dimension(
    geoms: np.ndarray,
    spec: LayerSpec,
    z_start: np.ndarray,
    z_end: np.ndarray,
    fixes: dict[str, int],
) -> np.ndarray:
    """3D layers get Z (from depths when the source had none); 2D layers drop it."""
    live = ~shapely.is_missing(geoms)
    has_z = np.zeros(len(geoms), dtype=bool)
    has_z[live] = shapely.has_z(geoms[live])
    if spec.dimension == 2:
        if has_z.any():
            geoms = geoms.copy()
            geoms[has_z] = shapely.force_2d(geoms[has_z])
        return geoms
    need = live & ~has_z
    if not need.any():
        return geoms
    rows = np.flatnonzero(need)
    zs, ze = np.nan_to_num(z_start[rows]), np.nan_to_num(z_end[rows])
    unknown = np.isnan(z_start[rows]).sum()
    if unknown:
        fixes["no Z and no depth: z set to 0"] = int(unknown)
    geoms = geoms.copy()
    if spec.geometry_type == "LineString":
        geoms[rows] = _interpolated_z(geoms[rows], zs, ze)
    elif spec.geometry_type == "Point":
        geoms[rows] = shapely.points(np.column_stack([shapely.get_coordinates(geoms[rows]), zs]))
    else:
        geoms[rows] = shapely.force_3d(geoms[rows], 0.0)
    return geoms


def _interpolated_z(lines: np.ndarray, zs: np.ndarray, ze: np.ndarray) -> np.ndarray:
    """Z from start to end value, proportional to distance along each line."""
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    step = np.r_[0.0, np.hypot(*np.diff(coords, axis=0).T)]
    first = np.r_[True, idx[1:] != idx[:-1]]
    step[first] = 0.0
    cum = np.cumsum(step)
    starts = np.flatnonzero(first)
    cum -= np.repeat(cum[starts], np.diff(np.r_[starts, len(cum)]))
    total = np.zeros(len(lines))
    np.maximum.at(total, idx, cum)
    frac = np.divide(cum, total[idx], out=np.zeros_like(cum), where=total[idx] > 0)
    z = zs[idx] + frac * (ze[idx] - zs[idx])
    return shapely.linestrings(np.column_stack([coords, z]), indices=idx)
