"""A bundle's GeoPackage: one table per layer, empty ones included, so "none here" is said."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import pyogrio

from layers import LayerSpec
from layers.spec import STORAGE_SRID


def _geometry_type(spec: LayerSpec) -> str:
    return spec.geometry_type + (" Z" if spec.dimension == 3 else "")


def geopackage(
    layers: Sequence[tuple[LayerSpec, gpd.GeoDataFrame]],
    extra: Mapping[str, gpd.GeoDataFrame] | None = None,
) -> bytes:
    """The GeoPackage's bytes: each catalog layer under its id, then `extra` (answers)."""
    with tempfile.TemporaryDirectory(prefix="citygis-bundle-") as tmp:
        path = Path(tmp) / "layers.gpkg"
        for spec, frame in layers:
            if frame.crs is None:
                frame = frame.set_crs(STORAGE_SRID)
            pyogrio.write_dataframe(
                frame,
                path,
                layer=spec.id,
                driver="GPKG",
                geometry_type=_geometry_type(spec),
                layer_options={"DESCRIPTION": f"{spec.title} · {spec.title_zh}"},
            )
        for name, frame in (extra or {}).items():
            pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", promote_to_multi=True)
        return path.read_bytes()
