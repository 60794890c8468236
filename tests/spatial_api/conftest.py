"""Fixtures of the API tests that write: a fresh app over the emptied test database, and
an Authorization header per role (viewer: none)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from citygis.settings import ServerSettings
from citygis.tokens import create_token
from layers import Catalog
from layers.roles import load_roles
from spatial_api import create_app

ROLES = load_roles(Catalog().values())


@pytest.fixture
def client(clean_db):
    with TestClient(create_app(clean_db, ServerSettings(), pool_size=4)) as c:
        yield c


@pytest.fixture
def auth(engine, client) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {"viewer": {}}
    for role in ("planner", "crew", "emergency", "admin"):
        out[role] = {"Authorization": f"Bearer {create_token(engine, ROLES, role, role, None)}"}
    return out
