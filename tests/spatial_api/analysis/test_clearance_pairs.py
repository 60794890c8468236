"""Per-pair clearances (GB 50289-2016 and overrides) and a sloping planned pipe."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from spatial_api.analysis.clearance_table import (
    ClearanceRule,
    Side,
    gb50289,
    load_project_rules,
    required,
    side,
)
from tests.support.analysis import AUTH, ewkt_line, problem, seg

CX, CY = 122.20, 37.20
M_LAT = 1 / 110_960  # degrees of latitude per metre, near 37°N
W, E = CX, CX + 0.001  # 89 m of pipe
TABLE = "gb50289_2016_clearances v1"
CLAUSE = "4.1.9 (Table 4.1.9)"
DRAIN = side({"utility": "drainage"})

# The other pipe, against drainage, side by side: (value, case chosen, source).
HORIZONTAL = [
    ({"utility": "water", "diameter_mm": 150}, 1.0, "d_le_200mm", TABLE),
    ({"utility": "water", "diameter_mm": 200}, 1.0, "d_le_200mm", TABLE),
    ({"utility": "water", "diameter_mm": 300}, 1.5, "d_gt_200mm", TABLE),
    ({"utility": "water"}, 1.5, "d_gt_200mm", TABLE),  # no diameter: the larger
    ({"utility": "gas", "pressure_class": "low"}, 1.0, "low", TABLE),
    ({"utility": "gas", "pressure_class": "medium"}, 1.2, "medium_b", TABLE),
    ({"utility": "gas", "pressure_class": "medium_a"}, 1.2, "medium_a", TABLE),
    ({"utility": "gas", "pressure_class": "sub_high_b"}, 1.5, "sub_high_b", TABLE),
    ({"utility": "gas", "pressure_class": "high"}, 2.0, "sub_high_a", TABLE),
    ({"utility": "gas"}, 2.0, "sub_high_a", TABLE),  # unknown class: the worst sourced
    ({"utility": "gas", "pressure_class": "very_high"}, 0.5, "high_b", "not_applicable"),
    ({"utility": "telecom"}, 1.0, "direct_buried", TABLE),
    ({"utility": "power"}, 0.5, "direct_buried", TABLE),
    ({"utility": "heating"}, 0.5, None, "fallback"),
    ({"utility": "drainage"}, 0.5, None, "fallback"),
]


@pytest.mark.parametrize(("other", "value", "case", "source"), HORIZONTAL)
def test_the_value_chosen_for_each_pair(other, value, case, source):
    for a, b in ((DRAIN, side(other)), (side(other), DRAIN)):  # either order
        got = required("horizontal", a, b, [gb50289()], 0.5, "fallback_horizontal_m")
        assert (got.min_m, got.source) == (value, source)
        assert case in (got.a_case, got.b_case)
        if source == TABLE:
            assert (got.clause, got.edition) == (CLAUSE, "GB 50289-2016")
        else:
            assert got.clause is None
            assert "used fallback_horizontal_m 0.5 m" in got.note
        if source == "not_applicable":
            assert "does not apply to gas above 1.6 MPa" in got.note
            assert "check this pair against GB 50028" in got.note


def test_the_notes_say_why():
    medium = required(
        "horizontal",
        DRAIN,
        side({"utility": "gas", "pressure_class": "medium"}),
        [gb50289()],
        0.5,
        "fallback_horizontal_m",
    )
    assert medium.note == (
        "gas may be medium_b or medium_a (pressure_class medium): the largest applies"
    )
    water_gas = required(
        "horizontal",
        side({"utility": "water", "diameter_mm": 100}),
        side({"utility": "gas", "pressure_class": "low"}),
        [gb50289()],
        0.5,
        "fallback_horizontal_m",
    )
    assert water_gas.note == (
        "no sourced horizontal value for water (d_le_200mm)–gas (low): "
        "used fallback_horizontal_m 0.5 m"
    )
    # GB 50289-2016 Table 4.1.14 (vertical) is not in the shipped table.
    vertical = required("vertical", DRAIN, side({"utility": "water"}), [gb50289()], 0.15, "v")
    assert (vertical.min_m, vertical.source) == (0.15, "fallback")


def test_request_beats_project_beats_table(tmp_path):
    path = tmp_path / "qingdao.toml"
    path.write_text(
        'source = "Qingdao rule"\nedition = "2024"\n'
        '[[clearance]]\nkind = "horizontal"\na = "gas"\nb = "drainage"\nmin_m = 1.1\n'
        'clause = "7.2"\n'
        '[[clearance]]\nkind = "horizontal"\na = "drainage"\nb = "heating"\nmin_m = 1.0\n',
        encoding="utf-8",
    )
    project = load_project_rules(path)
    low = side({"utility": "gas", "pressure_class": "low"})
    got = required("horizontal", DRAIN, low, [(), project, gb50289()], 0.5, "f")
    assert (got.min_m, got.source, got.clause, got.edition) == (1.1, "Qingdao rule", "7.2", "2024")
    mine = ClearanceRule(kind="horizontal", a="drainage", b="gas", b_case="low", min_m=0.9)
    got = required("horizontal", DRAIN, low, [(mine,), project, gb50289()], 0.5, "f")
    assert (got.min_m, got.source) == (0.9, "request")
    heat = required("horizontal", DRAIN, Side("heating", (None,)), [(), project], 0.5, "f")
    assert (heat.min_m, heat.source) == (1.0, "Qingdao rule")
    path.write_text(
        '[[clearance]]\nkind = "horizontal"\na = "gas"\na_case = "x"\nb = "water"\nmin_m = 1\n'
    )
    with pytest.raises(ValueError, match=r"qingdao.toml: \[\[clearance\]\] 1: .*gas has no case"):
        load_project_rules(path)


def test_a_specific_row_beats_a_general_one():
    rules = (
        ClearanceRule(kind="horizontal", a="drainage", b="gas", min_m=1.5),
        ClearanceRule(kind="horizontal", a="drainage", b="gas", b_case="low", min_m=0.8),
    )
    low = side({"utility": "gas", "pressure_class": "low"})
    assert required("horizontal", DRAIN, low, [rules], 0.5, "f").min_m == 0.8
    unknown = side({"utility": "gas"})  # might be low, might not: the general row applies
    assert required("horizontal", DRAIN, unknown, [rules], 0.5, "f").min_m == 1.5


# Buried beside a planned drainage pipe along CY: asset, utility, DN, class, metres north.
BESIDE = [
    ("W2", "water", 150, None, 1.5),
    ("W3", "water", 300, None, 2.0),
    ("GM", "gas", 200, "medium", -1.2),
    ("GH", "gas", 200, "high", -2.5),
    ("TC", "telecom", 100, None, 3.0),
    ("PW", "power", 100, None, -3.5),
    ("HT", "heating", 300, None, 4.0),
]
# Across it: X1 (water DN300) slopes from z −2.0 (south) to −2.4 (north), 40 m long.
XC = W + 0.00025  # a quarter of the way along the planned pipe


@pytest.fixture
def street(engine):
    rows = [
        (a, u, d, pc, ewkt_line((W, CY + n * M_LAT), (E, CY + n * M_LAT), " -1.0"))
        for a, u, d, pc, n in BESIDE
    ]
    south, north = (XC, CY - 20 * M_LAT), (XC, CY + 20 * M_LAT)
    rows.append(
        (
            "X1",
            "water",
            300,
            None,
            f"SRID=4490;LINESTRING({south[0]} {south[1]} -2.0, {north[0]} {north[1]} -2.4)",
        )
    )
    with engine.begin() as c:
        for asset, utility, d, pc, g in rows:
            c.execute(
                text(
                    "INSERT INTO city.pipelines (asset_id, utility, diameter_mm, "
                    "pressure_class, geom) VALUES (:a, :u, :d, :pc, ST_GeomFromEWKT(:g))"
                ),
                {"a": asset, "u": utility, "d": d, "pc": pc, "g": g},
            )
    yield
    with engine.begin() as c:
        c.execute(
            text("DELETE FROM city.pipelines WHERE asset_id = ANY(:ids)"),
            {"ids": [r[0] for r in rows]},
        )


def _planned(coords_z: list[float] | None = None, **level) -> dict:
    coords = [[W, CY], [E, CY]]
    if coords_z is not None:
        coords = [c + [z] for c, z in zip(coords, coords_z, strict=True)]
    return {
        "geometry": {"type": "LineString", "coordinates": coords},
        "utility": "drainage",
        "diameter_mm": 400,
        **level,
    }


def _check(client, **body) -> dict[str, dict]:
    r = client.post("/analysis/clearance", headers=AUTH, json=body)
    assert r.status_code == 200, r.text
    return {f["properties"]["b"]: f["properties"] for f in r.json()["features"]}


# Buried pipe → required value, source, violation, for the pipe above at z −2.0.
EXPECTED = {
    "W2": (1.0, TABLE, False),  # 1.5 − (0.4 + 0.15)/2 = 1.225 m
    "W3": (1.5, TABLE, False),  # 2.0 − 0.35 = 1.65 m
    "GM": (1.2, TABLE, True),  # 1.2 − 0.3 = 0.9 m
    "GH": (2.0, TABLE, False),  # 2.5 − 0.3 = 2.2 m
    "TC": (1.0, TABLE, False),
    "PW": (0.5, TABLE, False),
    "HT": (0.5, "fallback", False),
}


def test_a_planned_pipe_is_judged_pair_by_pair(client, street):
    got = _check(client, planned=_planned(z_m=-2.0))
    assert set(got) == set(EXPECTED) | {"X1"}
    for asset, (value, source, violation) in EXPECTED.items():
        p = got[asset]
        assert (p["kind"], p["required_m"], p["source"], p["violation"]) == (
            "horizontal",
            value,
            source,
            violation,
        ), asset
        assert p["measured_m"] == p["horizontal_m"]
        assert p["clause"] == (CLAUSE if source == TABLE else None)
    assert got["GH"]["b_case"] == "sub_high_a"
    gap = seg((W, CY), (W, CY + 1.2 * M_LAT)) - 0.3
    assert got["GM"]["measured_m"] == pytest.approx(gap, abs=0.002)
    assert "no sourced horizontal value for drainage–heating" in got["HT"]["note"]
    x1 = got["X1"]
    assert x1["crossing"] and x1["kind"] == "vertical" and x1["source"] == "fallback"
    assert x1["required_m"] == 0.15
    assert "no sourced vertical value for drainage–water (d_gt_200mm)" in x1["note"]


def test_overrides_change_the_chosen_value(client, street):
    got = _check(
        client,
        planned=_planned(z_m=-2.0),
        clearances=[
            {"kind": "horizontal", "a": "gas", "b": "drainage", "min_m": 0.8, "clause": "7.2"},
            {"kind": "horizontal", "a": "drainage", "b": "heating", "min_m": 3.8},
            {"kind": "vertical", "a": "water", "b": "drainage", "min_m": 0.4},
        ],
    )
    assert (got["GM"]["required_m"], got["GM"]["source"], got["GM"]["clause"]) == (
        0.8,
        "request",
        "7.2",
    )
    assert got["GM"]["violation"] is False  # 0.9 m ≥ 0.8 m
    assert got["GH"]["required_m"] == 0.8
    assert (got["HT"]["required_m"], got["HT"]["violation"]) == (3.8, True)  # 3.65 m
    assert (got["X1"]["required_m"], got["X1"]["source"]) == (0.4, "request")
    assert got["W2"]["required_m"] == 1.0 and got["W2"]["source"] == TABLE
    # A row for medium B only: a "medium" pipe may be medium A, whose 1.2 m still applies.
    got = _check(
        client,
        planned=_planned(z_m=-2.0),
        clearances=[
            {"kind": "horizontal", "a": "gas", "a_case": "medium_b", "b": "drainage", "min_m": 0.8}
        ],
    )
    assert (got["GM"]["required_m"], got["GM"]["b_case"]) == (1.2, "medium_a")


# The planned pipe falls from depth 1.0 m to 3.0 m over its length; at a quarter of the way
# it is at z −1.5, and X1 (−2.0 → −2.4 over 40 m, crossed at its middle) at −2.2:
# 0.7 m apart, less the radii 0.2 and 0.15 m.
@pytest.mark.parametrize(
    "level",
    [
        {"depth_start_m": 1.0, "depth_end_m": 3.0},
        {"z_start_m": -1.0, "z_end_m": -3.0},
        {"coords_z": [-1.0, -3.0]},
    ],
)
def test_a_sloping_planned_pipe_at_a_crossing(client, street, level):
    x1 = _check(client, planned=_planned(**level))["X1"]
    assert x1["crossing"]
    assert x1["vertical_m"] == pytest.approx(0.7 - 0.35, abs=0.01)
    assert x1["measured_m"] == x1["vertical_m"]
    assert x1["violation"] is False  # 0.35 m ≥ 0.15 m


def test_a_sloping_pipe_with_a_bend_slopes_by_length(client, street):
    """Two legs, 22 m north then 89 m east: the crossing is (22 + 22)/111 of the way."""
    start = CY - 22 * M_LAT
    body = _planned(z_start_m=-1.0, z_end_m=-3.0)
    body["geometry"]["coordinates"] = [[W, start], [W, CY], [E, CY]]
    x1 = _check(client, planned=body)["X1"]
    legs = seg((W, start), (W, CY)), seg((W, CY), (XC, CY)), seg((W, CY), (E, CY))
    z = -1.0 - 2.0 * (legs[0] + legs[1]) / (legs[0] + legs[2])
    assert x1["vertical_m"] == pytest.approx(abs(z + 2.2) - 0.35, abs=0.01)


BAD = [
    (
        {
            "clearances": [
                {"kind": "horizontal", "a": "gas", "a_case": "medium_c", "b": "water", "min_m": 1}
            ]
        },
        "gas has no case 'medium_c'",
    ),
    ({"clearances": [{"kind": "horizontal", "a": "gas", "b": "water", "min_m": -1}]}, "min_m"),
    ({"clearances": [{"kind": "diagonal", "a": "gas", "b": "water", "min_m": 1}]}, "kind"),
    (
        {"planned": {"z_m": -1.0, "depth_start_m": 1.0, "depth_end_m": 2.0}},
        "give the pipe's level once",
    ),
    ({"planned": {"depth_start_m": 1.0}}, "needs its level at both ends"),
    ({"planned": {}}, "given: none"),
    ({"planned": {"z_m": -1.0, "utility": "sewer"}}, "utility"),
    ({"planned": {"z_m": -1.0, "pressure_class": "ultra"}}, "pressure_class: use one of"),
    ({"min_horizontal_m": 0.6}, "min_horizontal_m"),  # renamed: fallback_horizontal_m
    ({"fallback_vertical_m": 30}, "fallback_vertical_m"),
]


@pytest.mark.parametrize(("change", "word"), BAD)
def test_bad_input_is_a_422_problem(client, change, word):
    body: dict = {"planned": _planned(z_m=-2.0)}
    for key, value in change.items():
        if key == "planned":
            body["planned"] = {k: v for k, v in _planned().items() if k != "utility"} | value
        else:
            body[key] = value
    problem(client.post("/analysis/clearance", headers=AUTH, json=body), 422, word)


def test_the_projects_file_applies_to_every_request(db_url, data, street, tmp_path):
    """CITYGIS_CLEARANCES_FILE: read once at start-up, below the request's own values."""
    from fastapi.testclient import TestClient

    from citygis.settings import ServerSettings
    from spatial_api import create_app
    from tests.support.analysis import TOKEN

    path = tmp_path / "qingdao.toml"
    path.write_text(
        'source = "Qingdao rule"\n[[clearance]]\nkind = "horizontal"\na = "drainage"\n'
        'b = "heating"\nmin_m = 3.8\n',
        encoding="utf-8",
    )
    settings = ServerSettings(restricted_tokens=TOKEN, clearances_file=path)
    with TestClient(create_app(db_url, settings, pool_size=2)) as project:
        got = _check(project, planned=_planned(z_m=-2.0))
    assert (got["HT"]["required_m"], got["HT"]["source"], got["HT"]["violation"]) == (
        3.8,
        "Qingdao rule",
        True,
    )
    assert got["GM"]["source"] == TABLE  # the rest still from the standard
