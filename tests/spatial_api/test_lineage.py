"""Renewals: a new pipe `replaces` the old one, and either's history shows the chain."""

from __future__ import annotations

import pytest

LON, LAT = 120.3300, 36.0600
T = ["1988-05-01T00:00:00Z", "2009-07-01T00:00:00Z", "2021-04-15T00:00:00Z"]


def pipe(material: str, replaces: str | None = None, dx: float = 0.0) -> dict:
    line = [[LON + dx, LAT, -1.2], [LON + dx + 0.001, LAT, -1.3]]
    props = {"utility": "water", "diameter_mm": 300, "material": material, "status": "in_service"}
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": line},
        "properties": props | ({"replaces": replaces} if replaces else {}),
    }


def lay(client, auth, feature: dict, at: str) -> str:
    r = client.post(
        "/collections/pipelines/items",
        json=feature,
        headers=auth["crew"],
        params={"valid_from": at},
    )
    assert r.status_code == 201, r.text
    return r.json()["ids"][0]


def retire(client, auth, asset: str, at: str) -> None:
    r = client.delete(
        f"/collections/pipelines/items/{asset}", headers=auth["crew"], params={"valid_from": at}
    )
    assert r.status_code == 204, r.text


@pytest.fixture
def renewed(client, auth) -> list[str]:
    """A cast-iron main of 1988, renewed in ductile iron in 2009, then split in two in 2021."""
    first = lay(client, auth, pipe("cast_iron"), T[0])
    second = lay(client, auth, pipe("ductile_iron", first), T[1])
    retire(client, auth, first, T[1])
    third = lay(client, auth, pipe("pe", second), T[2])
    fourth = lay(client, auth, pipe("pe", second, dx=0.0005), T[2])
    retire(client, auth, second, T[2])
    return [first, second, third, fourth]


def test_the_middle_renewal_shows_what_it_replaced_and_what_replaced_it(client, auth, renewed):
    first, second, third, fourth = renewed
    r = client.get(f"/collections/pipelines/items/{second}/history", headers=auth["crew"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["replaces"] == [first]
    assert body["replaced_by"] == sorted([third, fourth])
    chain = [
        (c["asset_id"], c["valid_from"][:10], (c["valid_to"] or "")[:10]) for c in body["lineage"]
    ]
    assert chain == [
        (first, "1988-05-01", "2009-07-01"),
        (second, "2009-07-01", "2021-04-15"),
        *sorted([(third, "2021-04-15", ""), (fourth, "2021-04-15", "")]),
    ]
    rels = sorted((link["rel"], link["href"].rsplit("/", 2)[-2]) for link in body["links"])
    assert rels == sorted(
        [
            ("predecessor-version", first),
            ("successor-version", third),
            ("successor-version", fourth),
        ]
    )
    assert [f["properties"]["material"] for f in body["features"]] == ["ductile_iron"]


def test_the_first_and_last_know_the_whole_chain(client, auth, renewed):
    first, second, third, fourth = renewed
    old = client.get(f"/collections/pipelines/items/{first}/history", headers=auth["crew"]).json()
    assert (old["replaces"], old["replaced_by"]) == ([], [second])
    assert [c["asset_id"] for c in old["lineage"]][:2] == [first, second]
    assert len(old["lineage"]) == 4
    new = client.get(f"/collections/pipelines/items/{third}/history", headers=auth["crew"]).json()
    assert (new["replaces"], new["replaced_by"]) == ([second], [])
    # The sibling of a split is not an ancestor: the walk goes back from `third`, then
    # forward from it, never sideways.
    assert [c["asset_id"] for c in new["lineage"]] == [first, second, third]


def test_an_asset_never_renewed_has_an_empty_chain(client, auth):
    alone = lay(client, auth, pipe("steel"), T[0])
    body = client.get(f"/collections/pipelines/items/{alone}/history", headers=auth["crew"]).json()
    assert (body["replaces"], body["replaced_by"], body["lineage"], body["links"]) == (
        [],
        [],
        [],
        [],
    )


def test_as_of_reads_show_the_pipe_in_the_ground_then(client, auth, renewed):
    first, second, *_ = renewed
    box = f"{LON - 0.001},{LAT - 0.001},{LON + 0.002},{LAT + 0.001}"
    got = client.get(
        "/collections/pipelines/items",
        params={"bbox": box, "datetime": "2015-01-01T00:00:00Z"},
        headers=auth["crew"],
    ).json()
    assert [f["id"] for f in got["features"]] == [second]
    assert got["features"][0]["properties"]["replaces"] == first


def test_the_public_view_of_pipelines_has_no_chain():
    from layers import Catalog
    from spatial_api.features.lineage import has_lineage

    pipelines = Catalog()["pipelines"]
    assert has_lineage(pipelines) and not has_lineage(pipelines.public())
