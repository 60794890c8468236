"""POST /analysis/siting-check: spacing and height rule hits, EMF against a hand calculation,
and the same rules as warnings on scenario edits.

The hand calculation: EIRP = RS power per RE + 10·log10(subcarriers) + gain − feeder (dBm),
in watts; S = EIRP / (4π d²); the compliance distance √(EIRP / (4π L)), with GB 8702-2014's
L = 0.4 W/m² below 3 GHz and f/7500 W/m² from 3 to 15 GHz.
"""

from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import text

from spatial_api.analysis.siting import limit_w_m2
from tests.support.analysis import AUTH, GEOD
from tests.support.sites import LTE, clear, insert_sector, insert_site, offset, planner  # noqa: F401

X1 = (120.7, 36.4)
X2 = offset(*X1, 90, 80)  # the same operator 80 m east: under the 100 m spacing
X3 = offset(*X1, 270, 50)  # another operator 50 m west: no spacing rule between operators
SCHOOL = offset(*X1, 90, 10)
KINDERGARTEN = offset(*X1, 0, 60)
NR = {
    "technology": "nr",
    "band": "n78",
    "frequency_mhz": 3500.0,
    "azimuth_deg": 90.0,
    "beamwidth_deg": 65.0,
    "power_dbm": 10.0,
    "antenna_gain_dbi": 20.0,
    "feeder_loss_db": 0.0,
}


@pytest.fixture(scope="module")
def city(engine, data):
    clear(engine)
    with engine.begin() as c:
        insert_site(c, "X1", X1, structure="tower", height_m=30.0)
        insert_site(c, "X2", X2, structure="pole", height_m=20.0)
        insert_site(c, "X3", X3, structure="tower", height_m=30.0)
        cm = {"operator": "china_mobile"}
        insert_sector(c, "X1-L", "X1", X1, antenna_height_m=28.0, azimuth_deg=90.0, **cm, **LTE)
        insert_sector(c, "X1-N", "X1", X1, antenna_height_m=28.0, **cm, **NR)
        insert_sector(c, "X2-L", "X2", X2, antenna_height_m=3.0, azimuth_deg=0.0, **cm, **LTE)
        cu = {"operator": "china_unicom", "antenna_height_m": 90.0, "azimuth_deg": 0.0}
        insert_sector(c, "X3-L", "X3", X3, **cu, **LTE)
        for asset, kind, lonlat in (
            ("SCH", "school", SCHOOL),
            ("KG", "kindergarten", KINDERGARTEN),
            ("HOME", "residential", offset(*X1, 180, 5)),  # not a sensitive building
            ("HOSP", "hospital", offset(*X1, 0, 1000)),  # beyond emf.radius_m
        ):
            c.execute(
                text(
                    "INSERT INTO city.protected_targets (asset_id, name, kind, geom) VALUES "
                    "(:a, :a, :k, ST_SetSRID(ST_MakePoint(:x, :y), 4490))"
                ),
                {"a": asset, "k": kind, "x": lonlat[0], "y": lonlat[1]},
            )
    yield
    clear(engine)


def check(client, headers=AUTH, **body) -> tuple[dict, dict[str, list[dict]]]:
    r = client.post("/analysis/siting-check", json=body, headers=headers)
    assert r.status_code == 200, r.text
    head, *rest = (f["properties"] for f in r.json()["features"])
    by_rule: dict[str, list[dict]] = {}
    for p in rest:
        by_rule.setdefault(p["rule"], []).append(p)
    return head, by_rule


def eirp_w(rs_dbm: float, subcarriers: int, gain: float, feeder: float) -> float:
    return 10 ** ((rs_dbm + 10 * math.log10(subcarriers) + gain - feeder - 30) / 10)


LTE_EIRP = eirp_w(15.0, 1200, 17.5, 2.0)  # 1346.6 W
NR_EIRP = eirp_w(10.0, 3276, 20.0, 0.0)  # 3274.5 W


def test_gb8702_public_limits():
    assert limit_w_m2(1845) == 0.4 and limit_w_m2(2999.9) == 0.4
    assert limit_w_m2(3500) == pytest.approx(3500 / 7500) and limit_w_m2(4900) == pytest.approx(
        0.6533, abs=1e-4
    )
    assert limit_w_m2(28000) == 2.0 and limit_w_m2(10) is None


def test_emf_at_sensitive_buildings_against_a_hand_calculation(client, city):
    head, found = check(client)
    emf = {p["target"]: p for p in found["emf"]}
    assert sorted(emf) == ["KG", "SCH"]  # not the home, not the hospital 1 km off
    d = GEOD.inv(*X1, *SCHOOL)[2]
    school = {s["asset_id"]: s for s in emf["SCH"]["sectors"]}
    lte, nr = school["X1-L"], school["X1-N"]
    assert lte["eirp_w"] == pytest.approx(LTE_EIRP, abs=1e-3)
    assert lte["power_density_w_m2"] == pytest.approx(LTE_EIRP / (4 * math.pi * d**2), rel=1e-6)
    assert lte["compliance_distance_m"] == pytest.approx(
        math.sqrt(LTE_EIRP / (4 * math.pi * 0.4)), abs=0.01
    )
    assert lte["compliance_distance_m"] == pytest.approx(16.37, abs=0.01)
    assert nr["limit_w_m2"] == pytest.approx(3500 / 7500)
    assert nr["compliance_distance_m"] == pytest.approx(
        math.sqrt(NR_EIRP / (4 * math.pi * 3500 / 7500)), abs=0.01
    )
    # The limit is on the total: X2's and X3's LTE panels, 70 and 60 m off, count too.
    ratio = (LTE_EIRP / 0.4 + NR_EIRP / (3500 / 7500)) / (4 * math.pi * d**2)
    for far in (X2, X3):
        ratio += LTE_EIRP / 0.4 / (4 * math.pi * GEOD.inv(*far, *SCHOOL)[2] ** 2)
    assert sorted(school) == ["X1-L", "X1-N", "X2-L", "X3-L"]
    assert emf["SCH"]["exposure_ratio"] == pytest.approx(ratio, rel=1e-6)
    assert emf["SCH"]["violation"] is True
    assert emf["SCH"]["compliance_distance_m"] == nr["compliance_distance_m"]  # the strongest
    assert emf["KG"]["violation"] is False and 0 < emf["KG"]["exposure_ratio"] < 1
    assert head["violations"]["emf"] == 1
    # HJ/T 10.3-1996's single-project share: a fifth of the limit, √5 times as far.
    _, strict = check(client, emf={"limit_fraction": 0.2})
    (sch,) = [p for p in strict["emf"] if p["target"] == "SCH"]
    lte5 = next(s for s in sch["sectors"] if s["asset_id"] == "X1-L")
    assert lte5["compliance_distance_m"] == pytest.approx(
        lte["compliance_distance_m"] * math.sqrt(5), abs=0.01
    )


def test_spacing_and_height_rule_hits(client, city):
    head, found = check(client)
    (pair,) = found["spacing"]  # X1–X2 of one operator; X3 is another operator's
    assert (pair["operator"], pair["site_a"], pair["site_b"]) == ("china_mobile", "X1", "X2")
    assert pair["distance_m"] == pytest.approx(80.0, abs=0.01)
    heights = {p["sector"]: p["antenna_height_m"] for p in found["height"]}
    assert heights == {"X2-L": 3.0, "X3-L": 90.0}
    assert head["violations"] == {"spacing": 1, "height": 2, "emf": 1}
    # Configurable: 70 m spacing and 2–100 m antennas find nothing of the kind.
    _, relaxed = check(client, min_spacing_m=70, min_antenna_height_m=2, max_antenna_height_m=100)
    assert "spacing" not in relaxed and "height" not in relaxed
    # Scoped to Unicom: its own height, no Mobile pair, the school it is 50 m from is
    # still computed with every operator's sectors (the limit is on the total).
    _, cu = check(client, filter={"operator": "china_unicom"})
    assert [p["sector"] for p in cu["height"]] == ["X3-L"] and "spacing" not in cu


def test_bad_rules_are_422(client, city):
    r = client.post(
        "/analysis/siting-check", json={"min_antenna_height_m": 50, "max_antenna_height_m": 10}
    )
    assert r.status_code == 422 and "max_antenna_height_m" in r.text


def test_scenario_edits_carry_the_warnings(client, city, planner):  # noqa: F811
    r = client.post("/scenarios", json={"title": "新站"}, headers=planner)
    sid = r.json()["id"]
    try:
        new = {
            "type": "Feature",
            "id": "X4-N",
            "geometry": {"type": "Point", "coordinates": list(offset(*SCHOOL, 0, 5))},
            "properties": {"site_id": "X4", "operator": "china_telecom", "antenna_height_m": 20}
            | NR,
        }
        r = client.post(
            "/collections/sectors/items", json=new, headers=planner, params={"scenario": sid}
        )
        assert r.status_code == 201, r.text
        warnings = r.json()["warnings"]
        assert {w["rule"] for w in warnings} == {"emf"}
        assert warnings[0]["target"] == "SCH" and "SCH (school)" in warnings[0]["message"]
        # A re-mount too low: still 204, the warning rides in a header.
        r = client.patch(
            "/collections/sectors/items/X3-L",
            json={"properties": {"antenna_height_m": 2.0}},
            headers=planner,
            params={"scenario": sid},
        )
        assert r.status_code == 204, r.text
        found = json.loads(r.headers["Citygis-Warnings"])
        # ... and X3-L still adds to the school's exposure, which is over the limit.
        assert [w["rule"] for w in found] == ["height", "emf"] and found[0]["sector"] == "X3-L"
        assert "antenna at 2 m" in found[0]["message"]  # the edit as it takes effect
        assert r.headers["Citygis-Warnings-Count"] == "2"
        # A site edit checks its sectors: X2 is 80 m from X1, and its antenna at 3 m.
        site = "/collections/base_stations/items/X2"
        taller = {"properties": {"height_m": 21.0}}
        r = client.patch(site, json=taller, headers=planner, params={"scenario": sid})
        assert r.status_code == 204, r.text
        rules = [w["rule"] for w in json.loads(r.headers["Citygis-Warnings"])]
        assert rules == ["spacing", "height", "emf"]
        # Moved 150 m from X1 in the scenario: the spacing warning is gone.
        far = {"geometry": {"type": "Point", "coordinates": list(offset(*X1, 90, 150))}}
        r = client.patch(site, json=far, headers=planner, params={"scenario": sid})
        assert [w["rule"] for w in json.loads(r.headers["Citygis-Warnings"])] == ["height", "emf"]
    finally:
        assert client.delete(f"/scenarios/{sid}", headers=planner).status_code == 204
    # Live writes are untouched: no warnings.
    live = client.patch(
        "/collections/sectors/items/X3-L",
        json={"properties": {"antenna_height_m": 90.0}},
        headers=planner,
    )
    assert live.status_code == 204 and "Citygis-Warnings" not in live.headers
