"""POST /analysis/site-sharing on a constructed set of sites: clusters, host, towers saved,
exact (geodesic) distances, the coverage change and the scenario it opens.

The sites are placed by geodesic offsets (pyproj's Geod), so the distances the answer
gives are checked against GeographicLib, not against PostGIS itself.
"""

from __future__ import annotations

import pytest

from tests.support.analysis import AUTH, GEOD, problem
from tests.support.sites import LTE, clear, insert_sector, insert_site, offset, planner  # noqa: F401

HERE = (120.6, 36.3)  # the main cluster: a tower, a taller rooftop 120 m east, a pole 150 m north
SITES = {  # asset: (lon/lat, structure, height_m, operator, antenna height of its sectors)
    "T1": (HERE, "tower", 40.0, "china_mobile", 38.0),
    "R1": (offset(*HERE, 90, 120), "rooftop", 45.0, "china_unicom", 44.0),
    "P1": (offset(*HERE, 0, 150), "pole", 20.0, "china_telecom", 18.0),
    "IN1": (offset(*HERE, 180, 50), "indoor", 10.0, "china_broadnet", 8.0),  # never shared
}
C = offset(*HERE, 90, 3000)  # a chain: 150 m steps, towers lower to the east
SITES |= {
    "A": (C, "tower", 35.0, "china_mobile", 33.0),
    "B": (offset(*C, 90, 150), "tower", 30.0, "china_unicom", 28.0),
    "C": (offset(*C, 90, 300), "tower", 25.0, "china_telecom", 23.0),
}
M = offset(*HERE, 0, 3000)  # two sites of one operator: clustered, nothing to share
SITES |= {
    "M1": (M, "tower", 30.0, "china_mobile", 28.0),
    "M2": (offset(*M, 0, 100), "rooftop", 30.0, "china_mobile", 28.0),
}
S = offset(*HERE, 180, 3000)  # shared today by two operators, alone
SITES |= {"S1": (S, "rooftop", 30.0, "china_mobile", 28.0)}
FAST = {"cell_m": 50}


@pytest.fixture(scope="module")
def city(engine, data):
    clear(engine)
    with engine.begin() as c:
        for asset, (lonlat, structure, height, operator, antenna) in SITES.items():
            insert_site(c, asset, lonlat, structure=structure, height_m=height, shared=False)
            for k, az in enumerate((0.0, 120.0, 240.0), 1):
                insert_sector(
                    c,
                    f"{asset}-{k}",
                    asset,
                    lonlat,
                    operator=operator,
                    azimuth_deg=az,
                    antenna_height_m=antenna,
                    **LTE,
                )
        insert_sector(c, "S1-CU", "S1", S, operator="china_unicom", antenna_height_m=26.0, **LTE)
    yield
    clear(engine)


def post(client, headers=AUTH, **body):
    r = client.post("/analysis/site-sharing", json=FAST | body, headers=headers)
    assert r.status_code == 200, r.text
    features = r.json()["features"]
    head = features[0]["properties"]
    assert head["role"] == "summary"
    by_role: dict[str, list] = {}
    for f in features[1:]:
        by_role.setdefault(f["properties"]["role"], []).append(f)
    return head, by_role


def dist(a: str, b: str) -> float:
    return GEOD.inv(*SITES[a][0], *SITES[b][0])[2]


def test_clusters_hosts_and_towers_saved(client, city):
    head, found = post(client)
    clusters = {f["properties"]["host"]["asset_id"]: f["properties"] for f in found["cluster"]}
    assert sorted(clusters) == ["A", "T1"]  # M1/M2: one operator; C: 300 m from A
    t1 = clusters["T1"]
    # The tower hosts, though the rooftop is taller: towers come first.
    assert t1["host"]["structure"] == "tower" and t1["host"]["capacity"] == 4
    assert [t["asset_id"] for t in t1["tenants"]] == ["R1", "P1"]  # nearest first
    assert t1["operators"] == ["china_mobile", "china_telecom", "china_unicom"]
    assert t1["towers_saved"] == 2 and t1["structures_freed"] == {"rooftop": 1, "pole": 1}
    assert [t["platform_m"] for t in t1["tenants"]] == [37.0, 34.0]
    distances = {(d["a"], d["b"]): d["distance_m"] for d in t1["distances"]}
    assert distances == pytest.approx(
        {
            ("T1", "R1"): dist("T1", "R1"),
            ("T1", "P1"): dist("T1", "P1"),
            ("R1", "P1"): dist("R1", "P1"),
        },
        abs=0.01,
    )
    assert distances[("T1", "R1")] == pytest.approx(120.0, abs=0.01)
    # The chain: A, the tallest tower, takes B; C is 300 m from A and alone after that.
    a = clusters["A"]
    assert [(t["asset_id"], t["distance_m"]) for t in a["tenants"]] == [
        ("B", pytest.approx(150.0, abs=0.01))
    ]
    assert head["clusters"] == 2 and head["towers_saved"] == 3
    # Each move is a line from the tenant to the host.
    (line,) = [f for f in found["cluster"] if f["properties"]["host"]["asset_id"] == "A"]
    assert line["geometry"]["coordinates"][0][1] == pytest.approx(list(C))


def test_todays_shared_sites_and_their_tenants(client, city):
    _, found = post(client, coverage=False)
    (s1,) = found["shared_site"]
    p = s1["properties"]
    assert p["asset_id"] == "S1" and p["operators"] == ["china_mobile", "china_unicom"]
    assert p["sectors"] == {"china_mobile": 3, "china_unicom": 1} and p["tenants"] == 2


def test_the_coverage_change_of_moving_the_tenants(client, city):
    _, found = post(client)
    (t1,) = [
        f["properties"] for f in found["cluster"] if f["properties"]["host"]["asset_id"] == "T1"
    ]
    change = t1["coverage_change"]["operators"]
    assert sorted(change) == ["china_telecom", "china_unicom"]  # the host's own stays
    cu, ct = change["china_unicom"], change["china_telecom"]
    # Unicom's antennas come down from 44 m to the 37 m platform: it covers less.
    assert cu["after_km2"] < cu["before_km2"] and cu["lost_km2"] > cu["gained_km2"] > 0
    assert cu["after_km2"] == pytest.approx(cu["before_km2"] + cu["gained_km2"] - cu["lost_km2"])
    # Telecom keeps its 18 m (under its 34 m platform): the same footprint, 150 m north.
    assert ct["after_km2"] == pytest.approx(ct["before_km2"], rel=0.02)
    assert ct["gained_km2"] > 0 and ct["lost_km2"] > 0
    edits = t1["edits"]
    moved = [e for e in edits if e["path"] == "/collections/sectors/items/R1-1"]
    assert moved[0]["body"]["properties"] == {"site_id": "T1", "antenna_height_m": 37.0}
    assert {"method": "DELETE", "path": "/collections/base_stations/items/P1"} in edits


def test_a_planner_opens_the_moves_as_a_scenario(client, city, planner):  # noqa: F811
    head, _ = post(client, planner, create_scenario=True, coverage=False)
    sid = head["scenario"]
    assert sid and sid.startswith("scn-")
    try:
        r = client.get("/collections/sectors/items/R1-2", params={"scenario": sid}, headers=planner)
        assert r.status_code == 200, r.text
        moved = r.json()
        assert moved["properties"]["site_id"] == "T1"
        assert moved["properties"]["antenna_height_m"] == 37.0
        assert moved["geometry"]["coordinates"] == pytest.approx(list(HERE))
        gone = client.get(
            "/collections/base_stations/items/R1", params={"scenario": sid}, headers=planner
        )
        assert gone.status_code == 404
        host = client.get(
            "/collections/base_stations/items/T1", params={"scenario": sid}, headers=planner
        )
        assert host.json()["properties"]["shared"] is True
        live = client.get("/collections/sectors/items/R1-2").json()
        assert live["properties"]["site_id"] == "R1"  # the city itself is unchanged
    finally:
        assert client.delete(f"/scenarios/{sid}", headers=planner).status_code == 204


def test_a_scenario_needs_a_token_that_writes_the_sites(client, city):
    r = client.post("/analysis/site-sharing", json={"create_scenario": True, "coverage": False})
    problem(r, 401, "sectors")


def test_bad_requests_are_422(client, city):
    r = client.post("/analysis/site-sharing", json={"model": "fixed"})
    assert r.status_code == 422 and "grid" in r.text
    r = client.post("/analysis/site-sharing", json={"max_distance_m": 0})
    assert r.status_code == 422
