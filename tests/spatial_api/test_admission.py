"""Overload: past max_in_flight + max_waiting, requests get a 503 at once."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from citygis.settings import ServerSettings
from spatial_api import create_app
from spatial_api.admission import Admission


def test_beyond_the_queue_is_a_quick_503_and_liveness_always_answers():
    release = asyncio.Event()

    async def slow(scope, receive, send):  # stands in for a request that takes long
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = Admission(slow, max_in_flight=1, max_waiting=1)

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            first = asyncio.create_task(c.get("/a"))
            second = asyncio.create_task(c.get("/b"))
            await asyncio.sleep(0.05)  # both admitted: one served, one waiting
            third = await c.get("/c")
            live_task = asyncio.create_task(c.get("/health/live"))
            await asyncio.sleep(0.05)
            release.set()
            return third, await first, await second, await live_task

    third, first, second, live = asyncio.run(run())
    assert third.status_code == 503
    assert third.headers["retry-after"] == "5"
    assert third.headers["content-type"] == "application/problem+json"
    assert third.json()["detail"] == "the server is at capacity; retry shortly"
    assert (first.status_code, second.status_code, live.status_code) == (200, 200, 200)


def test_a_statement_past_the_timeout_is_a_503_naming_it(clean_db):
    settings = ServerSettings(statement_timeout_s=0.2)
    with TestClient(create_app(clean_db, settings, pool_size=1)) as client:
        engine = client.app.state.engine

        async def slow() -> None:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT pg_sleep(1)"))

        with pytest.raises(Exception) as err:
            client.portal.call(slow)
        assert "statement timeout" in str(err.value)
        r = client.get("/health")  # the pool is healthy after it
        assert r.status_code == 200


def test_the_session_settings_outlive_the_first_transaction(clean_db):
    """Set on connect and committed: a SET inside the pool's first transaction would be
    rolled back with it, and every later request would run without a timeout."""
    settings = ServerSettings(statement_timeout_s=0.2)
    with TestClient(create_app(clean_db, settings, pool_size=1)) as client:
        engine = client.app.state.engine

        async def after_a_rollback() -> tuple[str, str]:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                await conn.rollback()
            async with engine.connect() as conn:  # the same pooled connection
                shown = await conn.execute(
                    text(
                        "SELECT current_setting('statement_timeout'),"
                        " current_setting('plan_cache_mode')"
                    )
                )
                timeout, plans = shown.one()
                return timeout, plans

        assert client.portal.call(after_a_rollback) == ("200ms", "force_custom_plan")
