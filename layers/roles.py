"""Roles: what each kind of user reads and writes, from the catalog or a TOML file.

Each LayerSpec names the roles that read it (when restricted) and write it. A roles file
(`CITYGIS_ROLES_FILE`) may redefine a role or add one:

    [roles.contractor]
    reads = ["pipelines"]      # restricted layers it reads; public layers: every role
    writes = []

Admin reads and writes everything and manages tokens and the audit.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from layers.spec import LayerSpec

BUILT_IN = ("viewer", "planner", "crew", "emergency", "admin")
ANONYMOUS = "viewer"


@dataclass(frozen=True)
class Role:
    name: str
    reads: frozenset[str] = field(default_factory=frozenset)
    writes: frozenset[str] = field(default_factory=frozenset)
    admin: bool = False


class RolesError(ValueError):
    """A roles file or a catalog that names an unknown role or layer."""


def catalog_roles(specs: Iterable[LayerSpec]) -> dict[str, Role]:
    """The built-in roles as the catalog's readers and writers define them."""
    specs = list(specs)
    for spec in specs:
        if unknown := set(spec.readers + spec.writers) - set(BUILT_IN):
            raise RolesError(f"layer {spec.id} names unknown roles {sorted(unknown)}")
    roles = {
        name: Role(
            name,
            frozenset(s.id for s in specs if name in s.readers),
            frozenset(s.id for s in specs if name in s.writers),
        )
        for name in BUILT_IN
        if name != "admin"
    }
    everything = frozenset(s.id for s in specs)
    roles["admin"] = Role("admin", everything, everything, admin=True)
    return roles


def load_roles(specs: Iterable[LayerSpec], path: Path | None = None) -> dict[str, Role]:
    """Built-in roles, then the file's definitions over them (a role it names is replaced)."""
    specs = list(specs)
    roles = catalog_roles(specs)
    if path is None:
        return roles
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("roles", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RolesError(f"roles file {path}: {exc}") from exc
    known = {s.id for s in specs}
    for name, body in table.items():
        if name == "admin" or name == ANONYMOUS and body.get("writes"):
            raise RolesError(f"roles file {path}: role {name!r} cannot be redefined that way")
        reads, writes = set(body.get("reads", [])), set(body.get("writes", []))
        if unknown := (reads | writes) - known:
            raise RolesError(f"roles file {path}: role {name!r} names unknown {sorted(unknown)}")
        if extra := set(body) - {"reads", "writes"}:
            raise RolesError(f"roles file {path}: role {name!r} has unknown keys {sorted(extra)}")
        roles[name] = Role(name, frozenset(reads), frozenset(writes))
    return roles


def role_named(roles: Mapping[str, Role], name: str) -> Role:
    try:
        return roles[name]
    except KeyError:
        raise RolesError(f"unknown role {name!r}; roles: {', '.join(roles)}") from None
