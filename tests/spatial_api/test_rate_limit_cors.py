"""Rate limits per token and CORS, on the real app."""

from __future__ import annotations

from fastapi.testclient import TestClient

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api import create_app
from spatial_api.rate_limit import RateLimit


def test_a_token_past_its_burst_gets_429_and_others_are_not_slowed(clean_db, engine):
    roles = load_roles(Catalog().values())
    a = {"Authorization": f"Bearer {create_token(engine, roles, 'crew', 'a', None)}"}
    b = {"Authorization": f"Bearer {create_token(engine, roles, 'crew', 'b', None)}"}
    settings = ServerSettings(rate_per_s=0.5, rate_burst=3)
    with TestClient(create_app(clean_db, settings, pool_size=1)) as client:
        got = [client.get("/layers", headers=a).status_code for _ in range(4)]
        assert got == [200, 200, 200, 429]
        r = client.get("/layers", headers=a)
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["retry-after"] == "2"  # 1 request at 0.5/s
        assert "more than 0.5 requests/s (burst 3)" in r.json()["detail"]
        assert client.get("/layers", headers=b).status_code == 200  # another token


def test_the_bucket_refills_at_the_rate():
    limit = RateLimit(None, rate_per_s=2.0, burst=2)  # type: ignore[arg-type]
    assert [limit.take("t", 0.0) for _ in range(3)] == [0.0, 0.0, 0.5]
    assert limit.take("t", 0.5) == 0.0  # one token back after 0.5 s
    assert limit.take("t", 0.5) == 0.5


def test_cors_only_for_configured_origins(clean_db):
    settings = ServerSettings(cors_origins="https://gis.qingdao.gov.cn")
    with TestClient(create_app(clean_db, settings, pool_size=1)) as client:
        ok = client.options(
            "/collections/shelters/items",
            headers={
                "Origin": "https://gis.qingdao.gov.cn",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,if-match",
            },
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://gis.qingdao.gov.cn"
        got = client.get("/layers", headers={"Origin": "https://gis.qingdao.gov.cn"})
        assert "ETag" in got.headers["access-control-expose-headers"]
        other = client.get("/layers", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    with TestClient(create_app(clean_db, ServerSettings(), pool_size=1)) as client:
        plain = client.get("/layers", headers={"Origin": "https://gis.qingdao.gov.cn"})
        assert "access-control-allow-origin" not in plain.headers
