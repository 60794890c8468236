"""Token administration for `citygis token …`: create, list, revoke (a sync engine)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, text

from layers.roles import Role
from layers.tokens import TOKENS_CHANGED, new_token, token_hash

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class TokenError(ValueError):
    """A token command that cannot be done (unknown role, name taken, bad duration)."""


def parse_duration(text_: str) -> timedelta:
    """'30d', '12h', '2w' → a timedelta."""
    match = _DURATION.match(text_.strip())
    if not match:
        raise TokenError(f"--expires {text_!r}: use a number and s, m, h, d or w, e.g. 30d")
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


_CREATE = """
INSERT INTO city.tokens (name, role, sha256, expires_at)
VALUES (:name, :role, :sha, now() + CAST(:ttl AS interval))
ON CONFLICT (name) DO NOTHING RETURNING name
"""


def create_token(
    engine: Engine, roles: dict[str, Role], role: str, name: str, expires: timedelta | None
) -> str:
    """A new token of `role`; only its hash is stored. Returns the token."""
    if role not in roles:
        raise TokenError(f"unknown role {role!r}; roles: {', '.join(roles)}")
    token = new_token()
    ttl = None if expires is None else f"{int(expires.total_seconds())} seconds"
    with engine.begin() as conn:
        created = conn.execute(
            text(_CREATE), {"name": name, "role": role, "sha": token_hash(token), "ttl": ttl}
        ).scalar()
        if created is None:
            raise TokenError(f"a token named {name!r} exists; revoke it or pick another name")
        conn.execute(text("SELECT pg_notify('citygis_layer_changed', :p)"), {"p": TOKENS_CHANGED})
    return token


def list_tokens(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT name, role, created_at, expires_at, revoked_at, last_used_at"
                " FROM city.tokens ORDER BY created_at, name"
            )
        )
        return [dict(r._mapping) for r in rows]


def revoke_token(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        done = conn.execute(
            text(
                "UPDATE city.tokens SET revoked_at = now()"
                " WHERE name = :name AND revoked_at IS NULL RETURNING name"
            ),
            {"name": name},
        ).scalar()
        if done is None:
            raise TokenError(f"no live token named {name!r}")
        conn.execute(text("SELECT pg_notify('citygis_layer_changed', :p)"), {"p": TOKENS_CHANGED})
