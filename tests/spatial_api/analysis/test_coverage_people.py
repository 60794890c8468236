"""People covered per area and operator, from the population layer (issue 14, item 4).

Sector D (free space, −100 dBm) covers a geodesic disc of 1192.8 m about (120.05, 36.05)
in the West district. Three population cells: one well inside the disc, one in West outside
it, one in East. The covered people are exactly the first cell's; each hole holds the rest.
"""

from __future__ import annotations

import pytest
import shapely.geometry
from sqlalchemy import text

from tests.spatial_api.analysis.test_coverage_model import sectors  # noqa: F401
from tests.spatial_api.analysis.test_coverage_stats import FSPL_D, stats

CELLS = [  # asset, people, (west, south, east, north)
    ("IN-DISC", 1000.0, (120.048, 36.048, 120.052, 36.052)),
    ("WEST-FAR", 500.0, (120.010, 36.080, 120.014, 36.084)),
    ("EAST", 300.0, (120.150, 36.050, 120.154, 36.054)),
    ("HALF", 200.0, (120.095, 36.090, 120.105, 36.094)),  # half in West, half in East
]


@pytest.fixture
def population(engine):
    with engine.begin() as c:
        for asset, people, (w, s, e, n) in CELLS:
            c.execute(
                text(
                    "INSERT INTO city.population (asset_id, people, basis, valid, geom) VALUES "
                    "(:a, :p, 'residents', tstzrange('2020-01-01', NULL), "
                    "ST_Multi(ST_MakeEnvelope(:w, :s, :e, :n, 4490)))"
                ),
                {"a": asset, "p": people, "w": w, "s": s, "e": e, "n": n},
            )
    yield
    with engine.begin() as c:
        c.execute(text("DELETE FROM city.population"))


def test_people_covered_are_the_cell_inside_the_disc(client, sectors, population):  # noqa: F811
    head, rows, holes = stats(client, filter={"operator": "china_unicom"}, **FSPL_D)
    west, east = rows[("West", "china_unicom")], rows[("East", "china_unicom")]
    # HALF straddles 120.1: its people split by the share of its area on each side.
    assert west["people"] == pytest.approx(1000 + 500 + 100, rel=1e-3)
    assert east["people"] == pytest.approx(300 + 100, rel=1e-3)
    assert west["people_covered"] == pytest.approx(1000, rel=0.01)
    assert west["people_covered_pct"] == pytest.approx(100 * 1000 / 1600, rel=0.01)
    assert (east["people_covered"], east["people_covered_pct"]) == (0.0, 0.0)
    hole_people = {h["properties"]["name"]: h["properties"]["people"] for h in holes}
    assert hole_people["West"] == pytest.approx(600, rel=1e-3)
    assert hole_people["East"] == pytest.approx(400, rel=1e-3)
    assert head["population"].startswith("area-weighted")


def test_holes_ranked_by_people(client, sectors, population, engine):  # noqa: F811
    # A box about D leaves four equal corners outside the disc; people live in the NE one.
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO city.population (asset_id, people, valid, geom) VALUES ('NE', 50, "
                "tstzrange('2020-01-01', NULL), "
                "ST_Multi(ST_MakeEnvelope(120.0586, 36.0586, 120.0596, 36.0596, 4490)))"
            )
        )
    drawn = {
        "type": "Polygon",
        "coordinates": [
            [[120.04, 36.04], [120.06, 36.04], [120.06, 36.06], [120.04, 36.06], [120.04, 36.04]]
        ],
    }
    body = {"filter": {"operator": "china_unicom"}, "areas": {"geometry": drawn}} | FSPL_D
    _, _, by_area = stats(client, **body)
    _, rows, by_people = stats(client, rank_holes_by="people", max_holes=2, **body)
    assert len(by_area) == 4 and len(by_people) == 2
    first = by_people[0]["properties"]
    assert (first["rank"], first["people"]) == (1, pytest.approx(50.0, rel=1e-6))
    assert by_people[1]["properties"]["people"] == 0.0
    centre = shapely.geometry.shape(by_people[0]["geometry"]).centroid
    assert centre.x > 120.05 and centre.y > 36.05
    assert rows[("drawn polygon", "china_unicom")]["holes"] == 4


def test_without_a_population_layer_the_answer_says_so(client, sectors):  # noqa: F811
    head, rows, _ = stats(client, filter={"operator": "china_unicom"}, **FSPL_D)
    assert "people" not in rows[("West", "china_unicom")]
    assert head["population"].startswith("the population layer holds no cells")
    r = client.post(
        "/analysis/coverage/stats",
        json={"filter": {"operator": "china_unicom"}, "rank_holes_by": "people"} | FSPL_D,
    )
    assert r.status_code == 400 and "rank_holes_by" in r.text
