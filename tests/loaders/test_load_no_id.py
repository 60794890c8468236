"""A file without an id column: assets are known by a hash of their content, missing values too."""

from __future__ import annotations

import json
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString
from typer.testing import CliRunner

from citygis.cli import app
from layers import Catalog
from loaders.load import _content_ids
from tests.support.loading import count, snapshot


@pytest.fixture
def pipes_gpkg(tmp_path):
    """A survey GeoPackage with `source_id` (no id the loader knows) and gaps in every type."""
    lines = [
        LineString([(120.38 + i / 1000, 36.06, 0), (120.381 + i / 1000, 36.061, 0)])
        for i in range(4)
    ]
    frame = gpd.GeoDataFrame(
        {
            "source_id": ["S-1", "S-2", "S-3", None],
            "utility": ["water", "gas", "water", "drainage"],
            "diameter_mm": [300.0, np.nan, 150.0, np.nan],
            "material": ["steel", None, "pe", None],
            "install_date": pd.to_datetime(["1998-05-01", None, "2010-01-01", None]),
            "depth_start_m": [1.2, 1.0, np.nan, np.nan],
            "owner": [None, "gas utility", None, None],
        },
        geometry=lines,
        crs="EPSG:4490",
    )
    path = tmp_path / "pipes.gpkg"
    frame.to_file(path, driver="GPKG")
    return path


def test_cli_loads_a_geopackage_without_ids_and_reloads_it_unchanged(
    clean_db, engine, pipes_gpkg, tmp_path
):
    runner = CliRunner()
    args = [
        "-q",
        "load",
        "pipelines",
        str(pipes_gpkg),
        "--json",
        "--rejects",
        str(tmp_path / "r.csv"),
    ]
    first = runner.invoke(app, args, env={"CITYGIS_DATABASE_URL": clean_db})
    assert first.exit_code == 0, first.output
    layer = json.loads(first.stdout)["layers"][0]
    assert (layer["rows_read"], layer["new"], layer["rejected"]) == (4, 4, 0)
    assert layer["asset_id_from"] == "content hash"
    assert layer["warnings"] == [
        "no id column: assets are identified by their content, so an "
        "edited feature becomes a new asset (use --id-field)"
    ]
    before = snapshot(engine)
    assert (
        count(
            engine, "SELECT count(*) FROM city.pipelines_current WHERE asset_id ~ '^h[0-9a-f]{16}$'"
        )
        == 4
    )

    again = runner.invoke(app, args, env={"CITYGIS_DATABASE_URL": clean_db})
    assert again.exit_code == 0, again.output
    layer = json.loads(again.stdout)["layers"][0]
    assert (layer["new"], layer["changed"], layer["unchanged"], layer["closed"]) == (0, 0, 4, 0)
    assert snapshot(engine)["pipelines"] == before["pipelines"]


SPEC = Catalog()["pipelines"]
TYPED = {  # the dtypes `attributes.conform` gives each attribute type
    "utility": pd.Series(["water", "gas"], dtype=object),
    "diameter_mm": pd.Series([300.0, 150.0]),
    "install_date": pd.Series([date(1998, 5, 1), date(2010, 1, 1)], dtype=object),
}


def _typed(**missing_in_row_2) -> pd.DataFrame:
    rows = pd.DataFrame({a.name: pd.Series([None, None], dtype=object) for a in SPEC.attributes})
    for name, values in TYPED.items():
        rows[name] = values
    for name, value in missing_in_row_2.items():
        rows.loc[1, name] = value
    return rows


GEOMS = pd.Series(["01020000", "01020001"])


@pytest.mark.parametrize("missing", [None, np.nan, pd.NA, pd.NaT], ids=["None", "NaN", "NA", "NaT"])
def test_every_kind_of_missing_value_hashes_alike(missing):
    ids = _content_ids(_typed(material=missing, owner=missing), GEOMS, SPEC)
    assert ids.tolist() == _content_ids(_typed(), GEOMS, SPEC).tolist()


def test_missing_numbers_and_times_in_their_own_dtypes():
    rows = _typed()
    rows["diameter_mm"] = pd.Series([300.0, np.nan])
    rows["depth_start_m"] = pd.Series([1.5, None], dtype="Float64")
    ids = _content_ids(rows, GEOMS, SPEC)
    # Pinned: a content id must never change between releases, or a reload duplicates assets.
    # Row 2 is sha1("gas|None|None|None|None|None|2010-01-01|None|None|None|None|None|01020001").
    assert ids.tolist() == ["hb26e12f2274267a0", "h329ae13d53d3d019"]
    assert _content_ids(rows.astype(object), GEOMS, SPEC).tolist() == ids.tolist()


def test_an_attribute_added_later_changes_the_id_only_where_it_holds_a_value():
    """`replaces` came after ids were pinned: rows without it keep their ids above."""
    assert SPEC.attribute("replaces").added_later
    before = _content_ids(_typed(), GEOMS, SPEC).tolist()
    renewed = _content_ids(_typed(replaces="WAT-P0000001"), GEOMS, SPEC).tolist()
    assert renewed[0] == before[0] and renewed[1] != before[1]
