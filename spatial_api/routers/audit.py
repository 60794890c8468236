"""GET /audit: who wrote what and who read restricted layers, for admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from layers.query import parse_instant
from spatial_api import audit
from spatial_api.deps import ConnDep, PrincipalDep
from spatial_api.routing import StrictRoute

router = APIRouter(tags=["audit"], route_class=StrictRoute)


@router.get("/audit")
async def get_audit(
    conn: ConnDep,
    principal: PrincipalDep,
    action: Annotated[str | None, Query(max_length=20, description="read, create, …")] = None,
    layer: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[str | None, Query(max_length=64, description="RFC 3339 instant")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[dict[str, Any]]:
    """The newest entries first: who (token name, role), what, when, and the versions."""
    principal.refuse_non_admin("the audit log")
    start = parse_instant(since, "since") if since else None
    return await audit.entries(conn, action, layer, start, limit)
