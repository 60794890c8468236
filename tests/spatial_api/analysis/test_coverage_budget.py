"""Link budgets kept by the record's JSON text: the same budgets as from the record, and an
edited record (new text) is the only one computed again.

No database: link_budgets takes (props, x, y) rows.
"""

from __future__ import annotations

import json

from spatial_api.analysis import coverage_budget
from spatial_api.analysis.coverage_budget import clear_row_budgets, link_budgets
from spatial_api.analysis.coverage_models import GridCoverage

SECTOR = {
    "asset_id": "S1",
    "operator": "china_mobile",
    "technology": "lte",
    "frequency_mhz": 1845,
    "power_dbm": 16,
    "azimuth_deg": 90,
    "tilt_deg": 6.0,
    "antenna_height_m": 30.0,
}
NO_POWER = {"asset_id": "S2", "operator": "china_mobile", "frequency_mhz": 900}
NEAR = (-1000.0, -1000.0, 1000.0, 1000.0)


def rows(*records: dict, x: float = 0.0) -> list[tuple[dict | str, float, float]]:
    return [(json.dumps(r), x, 0.0) for r in records]


def test_text_rows_give_the_same_budgets_as_records():
    clear_row_budgets()
    req = GridCoverage()
    plain = link_budgets([(SECTOR, 0.0, 0.0), (NO_POWER, 0.0, 0.0)], req, NEAR)
    for _ in range(2):  # computed, then kept
        kept = link_budgets(rows(SECTOR, NO_POWER), req, NEAR)
        assert kept.radios == plain.radios
        assert kept.props == plain.props
        assert kept.skipped == plain.skipped == {"no power_dbm": ["S2"]}
        assert kept.summary() == plain.summary()


def test_an_edited_sector_alone_is_computed_again(monkeypatch):
    clear_row_budgets()
    req = GridCoverage()
    link_budgets(rows(SECTOR, SECTOR | {"asset_id": "S3"}), req, NEAR)
    computed = []
    real = coverage_budget.row_budget
    monkeypatch.setattr(
        coverage_budget, "row_budget", lambda p, *a: computed.append(p["asset_id"]) or real(p, *a)
    )
    tilted = SECTOR | {"tilt_deg": 8.0}
    got = link_budgets(rows(tilted, SECTOR | {"asset_id": "S3"}), req, NEAR)
    assert computed == ["S1"]
    assert got.radios[0].tilt_deg == 8.0
    assert got.radios[0].reach_m != link_budgets([(SECTOR, 0.0, 0.0)], req).radios[0].reach_m


def test_the_box_still_decides_which_kept_budgets_count():
    clear_row_budgets()
    req = GridCoverage()
    assert len(link_budgets(rows(SECTOR), req, NEAR).radios) == 1
    far = (50_000.0, 50_000.0, 51_000.0, 51_000.0)
    got = link_budgets(rows(SECTOR), req, far)
    assert got.radios == [] and got.summary()["sectors_computed"] == 0
