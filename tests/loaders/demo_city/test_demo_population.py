"""The demo's synthetic population grid and its emergency resources; pure Python, no database."""

from __future__ import annotations

import numpy as np
import pytest

from layers import Catalog
from loaders.demo_city import synthetic
from loaders.demo_city.population import SYNTHETIC_PEOPLE, _district_of, cell_m
from loaders.demo_city.resources import SYNTHETIC
from tests.loaders.demo_city.test_demo_data import SEED, catalog_problems

CATALOG = Catalog()


@pytest.fixture(scope="module")
def town():
    return synthetic.generate(SEED, 0.1)


def test_each_districts_cells_add_up_to_its_total(town):
    grid = town["population"]
    assert catalog_problems(CATALOG["population"], grid) == []
    centres = grid.geometry.representative_point()
    district = _district_of(centres.x.to_numpy(), centres.y.to_numpy())
    for code, total in SYNTHETIC_PEOPLE.items():
        assert grid.people[district == code].sum() == total, code
    assert (grid.people > 0).all() and (grid.people % 1 == 0).all()
    assert grid.source_name.str.startswith("synthetic").all()


def test_the_old_town_is_denser_than_the_outskirts(town):
    grid = town["population"]
    centres = grid.geometry.representative_point()
    district = _district_of(centres.x.to_numpy(), centres.y.to_numpy())
    per_cell = {c: np.median(grid.people[district == c]) for c in SYNTHETIC_PEOPLE}
    assert per_cell["370202"] > 2 * per_cell["370211"]  # 市南区 over 黄岛区


def test_cells_are_250_m_at_scale_1_and_coarser_for_small_demos():
    assert (cell_m(1.0), cell_m(18.0), cell_m(0.25), cell_m(0.01)) == (250, 250, 500, 1000)


def test_emergency_resources_are_real_names_labelled_synthetic(town):
    res = town["emergency_resources"]
    assert catalog_problems(CATALOG["emergency_resources"], res) == []
    assert {"青岛市市立医院（本部）", "青岛大学附属医院（市南院区）", "市南区消防救援大队"} <= set(
        res.name
    )
    assert res.holds.str.endswith(SYNTHETIC).all()
    assert (res.kind == "fire_station").sum() >= 5
