"""`citygis token create|list|revoke`: tokens per role, stored hashed.

`register` adds them to the app; this module never imports `citygis.cli`.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from citygis.console import fail, migrated_url, out
from citygis.settings import ServerSettings

token_app = typer.Typer(help="API tokens, one role each (stored hashed).", no_args_is_help=True)


def _roles():
    from layers import Catalog
    from layers.roles import load_roles

    return load_roles(Catalog().values(), ServerSettings().roles_file)


@token_app.command("create")
def create(
    role: Annotated[str, typer.Option(help="viewer, planner, crew, emergency, admin, …")],
    name: Annotated[str | None, typer.Option(help="Unique name (default: ROLE-<n>)")] = None,
    expires: Annotated[
        str | None, typer.Option(help="Lifetime, e.g. 30d, 12h (default: none)")
    ] = None,
) -> None:
    """Create a token; it is printed once, alone on the last line of standard output."""
    from citygis.db import make_engine
    from citygis.tokens import TokenError, create_token, list_tokens, parse_duration

    engine = make_engine(migrated_url())
    try:
        ttl = parse_duration(expires) if expires else None
        if name is None:
            taken = {t["name"] for t in list_tokens(engine)}
            name = next(
                f"{role}-{n}" for n in range(1, len(taken) + 2) if f"{role}-{n}" not in taken
            )
        token = create_token(engine, _roles(), role, name, ttl)
    except TokenError as exc:
        raise fail(exc) from exc
    out().print(f"token {name!r} with role {role!r}; keep it, it is not shown again:")
    print(token)


@token_app.command("list")
def list_() -> None:
    """Every token: name, role, creation, expiry, revocation and last use (never the token)."""
    from citygis.db import make_engine
    from citygis.tokens import list_tokens

    table = Table("name", "role", "created", "expires", "revoked", "last used")
    for t in list_tokens(make_engine(migrated_url())):
        table.add_row(
            t["name"],
            t["role"],
            *(
                f"{t[k]:%Y-%m-%d %H:%M}" if t[k] else ""
                for k in ("created_at", "expires_at", "revoked_at", "last_used_at")
            ),
        )
    out().print(table)


@token_app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The token's name")]) -> None:
    """Revoke a token: servers refuse it (401) from now on."""
    from citygis.db import make_engine
    from citygis.tokens import TokenError, revoke_token

    try:
        revoke_token(make_engine(migrated_url()), name)
    except TokenError as exc:
        raise fail(exc) from exc
    out().print(f"revoked {name!r}")


def demo_tokens(url: str) -> dict[str, str]:
    """A fresh token per role for the demo (`demo-ROLE`, earlier ones revoked)."""
    from sqlalchemy import text

    from citygis.db import make_engine
    from citygis.tokens import create_token

    engine, roles = make_engine(url), _roles()
    with engine.begin() as conn:  # the last demo's tokens stop working
        conn.execute(text("DELETE FROM city.tokens WHERE name LIKE 'demo-%'"))
    return {
        role: create_token(engine, roles, role, f"demo-{role}", None)
        for role in ("planner", "crew", "emergency", "admin")
    }


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
