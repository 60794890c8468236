"""Property: any sequence of creates, updates and deletes at any valid times reads back,
as of any instant, exactly as a replay of the sequence in Python says; and as recorded at
any transaction time between the writes, exactly as the replay said at that step."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.spatial_api.test_writes import shelter

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
ASSETS = ("s1", "s2", "s3")
ops = st.lists(
    st.tuples(
        st.sampled_from(("create", "update", "delete")),
        st.sampled_from(ASSETS),
        st.integers(0, 40),  # day of the change
        st.integers(0, 5000),  # capacity written
    ),
    min_size=1,
    max_size=12,
)


@pytest.fixture(scope="module")
def app_client(db_url, engine):
    with TestClient(create_app(db_url, ServerSettings(), pool_size=2)) as c:
        yield c
    with engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE city.shelters, city.shelters_history, city.tokens, city.audit,"
                " city.load_runs"
            )
        )


class Replay:
    """The expected history: per asset, versions [start, end) with their capacity."""

    def __init__(self) -> None:
        self.versions: dict[str, list[list]] = {a: [] for a in ASSETS}

    def apply(self, op: str, asset: str, day: int, cap: int) -> int:
        """The status the API must answer, after updating the replay when it accepts."""
        vs = self.versions[asset]
        open_ = vs[-1] if vs and vs[-1][1] is None else None
        if op == "create":
            if open_ is not None:
                return 409
            if vs and day < vs[-1][1]:
                return 409  # it would overlap a closed version
            vs.append([day, None, cap])
            return 201
        if open_ is None:
            return 404
        if day <= open_[0]:
            return 400
        open_[1] = day
        if op == "update":
            vs.append([day, None, cap])
        return 204

    def at(self, day: float) -> set[tuple[str, int]]:
        return {
            (a, v[2])
            for a, vs in self.versions.items()
            for v in vs
            if v[0] <= day and (v[1] is None or day < v[1])
        }


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=ops, probes=st.lists(st.integers(0, 84), min_size=1, max_size=6))
def test_as_of_reads_equal_a_python_replay(app_client, engine, sequence, probes):
    with engine.begin() as c:
        c.execute(
            text(
                "TRUNCATE city.shelters, city.shelters_history, city.tokens, city.audit,"
                " city.load_runs"
            )
        )
    roles = load_roles(Catalog().values())
    auth = {"Authorization": f"Bearer {create_token(engine, roles, 'emergency', 'e', None)}"}
    replay = Replay()
    for op, asset, day, cap in sequence:
        when = {"valid_from": (EPOCH + timedelta(days=day)).isoformat()}
        path = f"/collections/shelters/items/{asset}"
        if op == "create":
            body = shelter(asset, capacity=cap) | {"id": asset}
            r = app_client.post("/collections/shelters/items", json=body, headers=auth, params=when)
        elif op == "update":
            body = {"properties": {"capacity": cap}}
            r = app_client.patch(path, json=body, headers=auth, params=when)
        else:
            r = app_client.delete(path, headers=auth, params=when)
        assert r.status_code == replay.apply(op, asset, day, cap), (op, asset, day, r.text)
    for half_day in probes:
        at = EPOCH + timedelta(hours=12 * half_day)
        r = app_client.get(
            "/collections/shelters/items", params={"datetime": at.isoformat(), "limit": 100}
        )
        got = {(f["id"], f["properties"]["capacity"]) for f in r.json()["features"]}
        assert got == replay.at(half_day / 2), at
    with engine.connect() as c:
        overlaps = c.execute(
            text(
                "SELECT count(*) FROM city.shelters a JOIN city.shelters b"
                " ON a.asset_id = b.asset_id AND a.version_id < b.version_id"
                " AND a.valid && b.valid"
            )
        ).scalar()
    assert overlaps == 0


def _write(client, auth, op: str, asset: str, day: int, cap: int, scenario: str | None = None):
    when = {"valid_from": (EPOCH + timedelta(days=day)).isoformat()}
    if scenario is not None:
        when["scenario"] = scenario
    path = f"/collections/shelters/items/{asset}"
    if op == "create":
        body = shelter(asset, capacity=cap) | {"id": asset}
        return client.post("/collections/shelters/items", json=body, headers=auth, params=when)
    if op == "update":
        return client.patch(path, json={"properties": {"capacity": cap}}, headers=auth, params=when)
    return client.delete(path, headers=auth, params=when)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=ops, probes=st.lists(st.integers(0, 84), min_size=1, max_size=4))
def test_recorded_reads_equal_the_replay_at_each_step(app_client, engine, sequence, probes):
    with engine.begin() as c:
        c.execute(text("TRUNCATE city.shelters, city.shelters_history, city.tokens"))
    roles = load_roles(Catalog().values())
    auth = {"Authorization": f"Bearer {create_token(engine, roles, 'emergency', 'e', None)}"}
    replay = Replay()

    def clock() -> datetime:
        with engine.connect() as c:
            return c.execute(text("SELECT clock_timestamp()")).scalar_one()

    steps = [(clock(), copy.deepcopy(replay))]  # before any write: nothing was recorded
    for op, asset, day, cap in sequence:
        r = _write(app_client, auth, op, asset, day, cap)
        assert r.status_code == replay.apply(op, asset, day, cap), (op, asset, day, r.text)
        steps.append((clock(), copy.deepcopy(replay)))
    for recorded, then in steps:
        for half_day in probes:
            at = EPOCH + timedelta(hours=12 * half_day)
            params = {"datetime": at.isoformat(), "recorded": recorded.isoformat(), "limit": 100}
            r = app_client.get("/collections/shelters/items", params=params)
            assert r.status_code == 200, r.text
            got = {(f["id"], f["properties"]["capacity"]) for f in r.json()["features"]}
            assert got == then.at(half_day / 2), (recorded, at)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=ops, probes=st.lists(st.integers(0, 84), min_size=1, max_size=4))
def test_inside_a_scenario_and_after_its_commit(app_client, engine, sequence, probes):
    """The same sequence written in a scenario reads back in it as the replay says, the
    city stays empty until the commit, and after it the city reads the same."""
    with engine.begin() as c:
        c.execute(
            text(
                "TRUNCATE city.shelters, city.shelters_history, city.shelters_scenario,"
                " city.scenarios, city.tokens CASCADE"
            )
        )
    roles = load_roles(Catalog().values())
    auth = {"Authorization": f"Bearer {create_token(engine, roles, 'emergency', 'e', None)}"}
    sid = app_client.post("/scenarios", json={"title": "演练"}, headers=auth).json()["id"]
    replay = Replay()
    for op, asset, day, cap in sequence:
        r = _write(app_client, auth, op, asset, day, cap, scenario=sid)
        assert r.status_code == replay.apply(op, asset, day, cap), (op, asset, day, r.text)

    def read(half_day: int, **params) -> set[tuple[str, int]]:
        at = EPOCH + timedelta(hours=12 * half_day)
        r = app_client.get(
            "/collections/shelters/items",
            params={"datetime": at.isoformat(), "limit": 100} | params,
            headers=auth,
        )
        assert r.status_code == 200, r.text
        return {(f["id"], f["properties"]["capacity"]) for f in r.json()["features"]}

    for half_day in probes:
        assert read(half_day, scenario=sid) == replay.at(half_day / 2)
        assert read(half_day) == set()
    assert app_client.post(f"/scenarios/{sid}/commit", headers=auth).status_code == 200
    for half_day in probes:
        assert read(half_day) == replay.at(half_day / 2)
