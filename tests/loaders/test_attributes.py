"""Attribute rules on arrays: the same answers for one API feature as for a loaded file."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from layers import Catalog
from layers.errors import InvalidFeatures
from loaders.attributes import conform
from loaders.edit import prepare_features
from loaders.geometry import Reasons

CATALOG = Catalog()
SHELTERS = CATALOG["shelters"]
POINT = {"type": "Point", "coordinates": [120.3436, 36.069]}


def _conform(spec_id: str, **columns) -> tuple[pd.DataFrame, list[str]]:
    spec = CATALOG[spec_id]
    mapped = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})
    reasons = Reasons(mapped.index)
    return conform(mapped, spec, reasons, "Asia/Shanghai"), reasons.text.tolist()


def _feature(**properties) -> dict:
    return {"type": "Feature", "geometry": POINT, "properties": properties}


def test_each_type_gets_its_dtype_from_one_row_as_from_many():
    for rows in (1, 3):
        typed, reasons = _conform(
            "pipelines",
            utility=["Water"] * rows,
            diameter_mm=["300"] * rows,
            install_date=[1998] * rows,
            depth_start_m=[1.5] * rows,
        )
        assert reasons == [""] * rows
        assert typed["utility"].tolist() == ["water"] * rows
        assert typed["diameter_mm"].dtype == "float64"
        assert typed["install_date"].tolist() == [date(1998, 1, 1)] * rows
        assert typed["material"].dtype == object and typed["material"].isna().all()


def test_integers_and_timestamps_keep_their_nullable_dtypes():
    typed, reasons = _conform(
        "incidents",
        name=["fire at the port"],
        kind=["fire"],
        started_at=["2026-05-01 08:30"],
        casualties=[None],
    )
    assert reasons == [""]
    assert str(typed["casualties"].dtype) == "Int64" and typed["casualties"].isna().all()
    assert str(typed["started_at"].dtype).startswith("datetime64") and "UTC" in str(
        typed["started_at"].dtype
    )
    assert typed["started_at"].iloc[0] == pd.Timestamp("2026-05-01 00:30", tz="UTC")


def test_every_problem_of_a_row_is_listed_in_catalog_order():
    _, reasons = _conform(
        "shelters", name=["  "], capacity=["many"], kind=["tent"], area_m2=[-5], status=["open"]
    )
    assert reasons == [
        "capacity: 'many' is not an integer; kind: 'tent' is not one of park, square, school,"
        " stadium, indoor, other; area_m2: -5 is below 0; name is required"
    ]


def test_a_required_value_that_failed_typing_is_not_also_called_missing():
    _, reasons = _conform("incidents", name=["x"], kind=["fire"], started_at=["soon"])
    assert reasons == ["started_at: 'soon' is not a date and time"]


@pytest.mark.parametrize(
    ("prop", "value", "reason"),
    [
        ("capacity", 1e30, "capacity: 1e+30 is not an integer"),  # was a TypeError (500)
        ("capacity", 12.5, "capacity: 12.5 is not an integer"),
        ("area_m2", "inf", "area_m2: 'inf' is not a finite number"),
    ],
)
def test_a_number_the_column_cannot_hold_is_a_problem_not_a_crash(prop, value, reason):
    with pytest.raises(InvalidFeatures) as err:
        prepare_features([_feature(name="s", **{prop: value})], SHELTERS, ["s1"], "EPSG:4326")
    assert err.value.problems == [{"feature": 0, "asset_id": "s1", "reason": reason}]


def test_a_date_before_year_one_is_a_problem_not_a_crash():
    _, reasons = _conform("pipelines", utility=["water"], install_date=[-3])
    assert reasons == ["install_date: -3 is not a date"]


def test_a_feature_validates_alike_alone_and_among_others():
    """A JSON number in a text attribute reads the same whatever the other features hold
    (a row-built frame made [12345, missing] floats, and 12345 became "12345.0")."""
    spec = CATALOG["emergency_resources"]
    one = _feature(name="depot", kind="supply_depot", phone=12345)
    other = _feature(name="station", kind="fire_station")
    alone = prepare_features([one], spec, ["r1"], "EPSG:4326")
    together = prepare_features([one, other], spec, ["r1", "r2"], "EPSG:4326")
    assert alone["phone"].tolist() == ["12345"]
    assert together["phone"].tolist() == ["12345", None]
    assert together.drop(columns="_row").iloc[:1].equals(alone.drop(columns="_row"))


def test_a_large_frame_is_checked_row_by_row_like_a_small_one():
    n = 10_000
    rng = np.random.default_rng(1)
    capacity = rng.choice(np.array(["120", "x", None, "7.5"], dtype=object), n)
    typed, reasons = _conform(
        "shelters", name=["s"] * n, capacity=capacity, kind=["Park"] * n, status=["open"] * n
    )
    for i in rng.choice(n, 20, replace=False):
        row, row_reasons = _conform(
            "shelters", name=["s"], capacity=[capacity[i]], kind=["Park"], status=["open"]
        )
        assert row_reasons == [reasons[i]]
        expected = typed.iloc[[i]].reset_index(drop=True)
        pd.testing.assert_frame_equal(row, expected)
