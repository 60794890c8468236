"""An incident recorded step by step through the write API reads back as its timeline."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api import create_app
from tests.support.analysis import problem

ROLES = load_roles(Catalog().values())
STEPS = [  # valid_from, the change, its text
    ("2026-03-01T08:00:00Z", {"status": "reported"}, "gas smell reported at 八大关"),
    ("2026-03-01T08:20:00Z", {"status": "active", "severity": "III"}, "crews on site"),
    ("2026-03-01T09:05:00Z", {"status": "contained"}, "valve closed"),
    ("2026-03-01T11:30:00Z", {"status": "closed", "ended_at": "2026-03-01T11:30:00Z"}, "all clear"),
]


@pytest.fixture
def client(clean_db):
    with TestClient(create_app(clean_db, ServerSettings(), pool_size=2)) as c:
        yield c


def test_each_step_is_a_version_with_its_author_time_and_text(client, engine):
    token = create_token(engine, ROLES, "emergency", "duty-officer", None)
    auth = {"Authorization": f"Bearer {token}"}
    (t0, first, note), *later = STEPS
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [120.32, 36.06]},
        "properties": {
            "name": "市南区燃气泄漏",
            "kind": "gas_leak",
            "started_at": t0,
            "description": note,
        }
        | first,
    }
    r = client.post(
        "/collections/incidents/items", json=body, headers=auth, params={"valid_from": t0}
    )
    assert r.status_code == 201, r.text
    incident = r.json()["ids"][0]
    for at, change, note in later:
        etag = client.get(f"/collections/incidents/items/{incident}").headers["etag"]
        r = client.patch(
            f"/collections/incidents/items/{incident}",
            json={"properties": change | {"description": note}},
            headers=auth | {"If-Match": etag},
            params={"valid_from": at},
        )
        assert r.status_code == 204, r.text

    r = client.get(f"/incidents/{incident}/timeline", headers=auth)
    assert r.status_code == 200, r.text
    t = r.json()
    assert [(s["status"], s["at"][:19]) for s in t["steps"]] == [
        (change["status"], at[:19]) for at, change, _ in STEPS
    ]
    entries = t["entries"]
    assert [e["action"] for e in entries] == ["create", "update", "update", "update"]
    assert [e["text"] for e in entries] == [note for *_, note in STEPS]
    assert {e["author"] for e in entries} == {"duty-officer"}
    assert [e["until"][:19] if e["until"] else None for e in entries] == [
        STEPS[1][0][:19],
        STEPS[2][0][:19],
        STEPS[3][0][:19],
        None,
    ]
    assert entries[0]["changed"] == {}
    assert entries[1]["changed"]["status"] == ["reported", "active"]
    assert entries[1]["changed"]["severity"] == [None, "III"]
    assert set(entries[3]["changed"]) == {"status", "ended_at", "description"}
    assert all(e["recorded_at"] for e in entries)
    # A viewer reads the timeline, but not who wrote it: the role only.
    anon = client.get(f"/incidents/{incident}/timeline").json()["entries"]
    assert {(e["author"], e["role"]) for e in anon} == {(None, "emergency")}
    # Closing it (a delete) is the last entry.
    r = client.delete(
        f"/collections/incidents/items/{incident}",
        headers=auth,
        params={"valid_from": "2026-03-02T00:00:00Z"},
    )
    assert r.status_code == 204, r.text
    last = client.get(f"/incidents/{incident}/timeline", headers=auth).json()["entries"][-1]
    assert (last["action"], last["version_id"], last["at"][:19]) == (
        "delete",
        None,
        "2026-03-02T00:00:00",
    )


def test_an_unknown_incident_is_404(client):
    problem(client.get("/incidents/nope/timeline"), 404, "no incident 'nope'")


def test_a_drill_in_a_scenario_has_its_own_timeline_and_the_live_one_is_untouched(client, engine):
    """An exercise (演练) run in a scenario: its steps and its incidents are the scenario's,
    the live timeline never shows them, and another role cannot read them."""
    token = create_token(engine, ROLES, "emergency", "drill-officer", None)
    auth = {"Authorization": f"Bearer {token}"}
    (t0, first, note), (t1, second, note1), *_ = STEPS
    live = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [120.32, 36.06]},
        "properties": {"name": "市南区燃气泄漏", "kind": "gas_leak", "started_at": t0}
        | first
        | {"description": note},
    }
    r = client.post(
        "/collections/incidents/items", json=live, headers=auth, params={"valid_from": t0}
    )
    incident = r.json()["ids"][0]
    r = client.patch(
        f"/collections/incidents/items/{incident}",
        json={"properties": second | {"description": note1}},
        headers=auth,
        params={"valid_from": t1},
    )
    assert r.status_code == 204, r.text
    sid = client.post("/scenarios", json={"title": "燃气泄漏演练"}, headers=auth).json()["id"]
    drill = {"scenario": sid}
    r = client.patch(
        f"/collections/incidents/items/{incident}",
        json={"properties": {"status": "contained", "description": "演练: valve closed"}},
        headers=auth,
        params=drill | {"valid_from": "2026-03-01T09:00:00Z"},
    )
    assert r.status_code == 204, r.text
    second_leak = live | {"properties": live["properties"] | {"name": "演练: 第二泄漏点"}}
    r = client.post(
        "/collections/incidents/items",
        json=second_leak,
        headers=auth,
        params=drill | {"valid_from": "2026-03-01T10:00:00Z"},
    )
    assert r.status_code == 201, r.text
    other = r.json()["ids"][0]
    r = client.delete(
        f"/collections/incidents/items/{incident}",
        headers=auth,
        params=drill | {"valid_from": "2026-03-01T12:00:00Z"},
    )
    assert r.status_code == 204, r.text

    def timeline(asset, **params):
        return client.get(f"/incidents/{asset}/timeline", headers=auth, params=params)

    real = timeline(incident).json()
    assert [s["status"] for s in real["steps"]] == ["reported", "active"]
    assert [e["action"] for e in real["entries"]] == ["create", "update"]  # no drill delete
    assert real["entries"][-1]["until"] is None

    what_if = timeline(incident, scenario=sid).json()
    assert [s["status"] for s in what_if["steps"]] == ["reported", "active", "contained"]
    assert [e["action"] for e in what_if["entries"]] == ["create", "update", "update", "delete"]
    step = what_if["entries"][2]
    assert step["version_id"] < 0 and step["author"] == "drill-officer"
    assert step["changed"]["status"] == ["active", "contained"]
    assert what_if["entries"][1]["until"][:19] == "2026-03-01T09:00:00"  # cut by the drill
    assert step["until"][:19] == "2026-03-01T12:00:00"  # closed by its delete

    assert problem(timeline(other), 404)
    assert [s["status"] for s in timeline(other, scenario=sid).json()["steps"]] == ["reported"]
    planner = create_token(engine, ROLES, "planner", "a-planner", None)
    r = client.get(
        f"/incidents/{incident}/timeline",
        params={"scenario": sid},
        headers={"Authorization": f"Bearer {planner}"},
    )
    assert problem(r, 404)
