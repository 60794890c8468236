"""schemathesis over the whole OpenAPI with an admin token, real ids and its stateful
phase: no generated request may get a 5xx. The suite runs a seeded ≥ 1,000 cases;
`./dev fuzz` runs ≥ 10,000 (CITYGIS_FUZZ_EXAMPLES, CITYGIS_FUZZ_MIN_CASES)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.support.features_data import insert_city, insert_samples, truncate_all
from tests.support.server import serving

pytestmark = [
    pytest.mark.clients,
    # geojson-pydantic's advice on odd GeometryCollections the fuzzer sends; not ours to fix
    pytest.mark.filterwarnings("ignore:GeometryCollection should not be used:UserWarning"),
]

EXAMPLES = int(os.environ.get("CITYGIS_FUZZ_EXAMPLES", "3"))
MIN_CASES = int(os.environ.get("CITYGIS_FUZZ_MIN_CASES", "1000"))
SEED = int(os.environ.get("CITYGIS_FUZZ_SEED", "20261202"))


@pytest.fixture(scope="module")
def fuzzed(db_url, engine) -> Iterator[tuple[str, str, str]]:
    truncate_all(engine)
    insert_city(engine)
    insert_samples(engine)
    token = create_token(engine, load_roles(Catalog().values()), "admin", "fuzz", None)
    app = create_app(db_url, ServerSettings(), pool_size=4)
    with serving(app) as url:
        scenario = httpx.post(
            f"{url}/scenarios", json={"title": "fuzz"}, headers={"Authorization": f"Bearer {token}"}
        ).json()["id"]
        yield url, token, scenario
    truncate_all(engine)


def test_no_generated_request_gets_a_server_error(fuzzed, tmp_path):
    url, token, scenario = fuzzed
    config = tmp_path / "schemathesis.toml"  # real ids, so requests get past the 404s
    config.write_text(
        "[parameters]\n"
        '"path.layer_id" = "shelters"\n'
        '"path.feature_id" = "S2"\n'
        '"path.tileMatrixSetId" = "WebMercatorQuad"\n'
        f'"path.scenario_id" = "{scenario}"\n'
        '"path.sensor_id" = "sensors-1"\n'
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "run",
            f"{url}/api",
            "-H",
            f"Authorization: Bearer {token}",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(EXAMPLES),
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--seed",
            str(SEED),
            "--request-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=3000,
        check=False,
        cwd=tmp_path,  # it keeps a .schemathesis/ cache in its cwd
    )
    out = result.stdout
    assert result.returncode == 0, out[-8000:]
    cases = re.search(r"(\d+) generated", out)
    assert cases is not None, out[-2000:]
    assert int(cases.group(1)) >= MIN_CASES, out[-2000:]
