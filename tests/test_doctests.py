"""The examples in the public API's docstrings run, against the test database."""

from __future__ import annotations

import doctest
import inspect
import io

import geopandas as gpd
import pytest
from shapely.geometry import Point

from loaders import load_frames, load_path
from spatial_api.maps import render_map


def run_examples(func, **names) -> str:
    """Run `func`'s examples with the names its module has, plus `names`; the failures."""
    globs = vars(inspect.getmodule(func)) | names
    tests = doctest.DocTestFinder(recurse=False).find(func, func.__name__, globs=globs)
    assert tests and tests[0].examples, f"{func.__qualname__} has no examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = io.StringIO()
    for test in tests:
        runner.run(test, out=report.write)
    assert runner.summarize(verbose=False).attempted >= 3
    return report.getvalue()


@pytest.mark.parametrize("func", [load_path, load_frames], ids=lambda f: f.__name__)
def test_loader_examples(clean_db, func):
    assert run_examples(func, url=clean_db) == ""


def test_render_map_example(clean_db):
    shelter = gpd.GeoDataFrame(
        {"id": ["S1"], "name": ["中山公园"], "capacity": [5000]},
        geometry=[Point(120.3436, 36.069)],
        crs="EPSG:4490",
    )
    load_frames(clean_db, {"shelters": shelter}, source="doctest")
    assert run_examples(render_map, url=clean_db) == ""
