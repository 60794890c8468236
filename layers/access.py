"""Who is asking, and the checks that hide a layer from them or refuse their write.

Every path that reads a layer (items, tiles, analysis inputs, maps) goes through
`Principal.refuse_hidden`, and every write through `refuse_unwritable`, so access is
decided in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from layers.errors import Forbidden, Unauthorized
from layers.roles import Role
from layers.spec import Access, LayerSpec


class Guarded(Protocol):
    """Anything with an access level: a catalog layer, or an answer derived from layers.

    `sources` are the catalog layers whose readers decide who sees it.
    """

    @property
    def id(self) -> str: ...

    @property
    def access(self) -> Access: ...

    @property
    def sources(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Principal:
    """The caller: a role, and the token's name (None when anonymous)."""

    role: Role
    name: str | None = None

    def may_see(self, guarded: Guarded) -> bool:
        if guarded.access is Access.public or self.role.admin:
            return True
        return all(layer in self.role.reads for layer in guarded.sources)

    def may_write(self, spec: LayerSpec) -> bool:
        return self.role.admin or spec.id in self.role.writes

    def visible(self, catalog: Mapping[str, LayerSpec]) -> list[LayerSpec]:
        """The catalog's layers this caller may see, in catalog order."""
        return [spec for spec in catalog.values() if self.may_see(spec)]

    def shown(self, spec: LayerSpec) -> LayerSpec | None:
        """What this caller may display of a layer: the layer, its public view, or nothing."""
        if self.may_see(spec):
            return spec
        return spec.public() if spec.public_view is not None else None

    def displayed(self, catalog: Mapping[str, LayerSpec]) -> list[LayerSpec]:
        """`visible`, plus the public views of the layers it may not read (items, tiles)."""
        return [shown for spec in catalog.values() if (shown := self.shown(spec)) is not None]

    def shown_layer(self, catalog: Mapping[str, LayerSpec], layer_id: str) -> LayerSpec:
        """`layer`, or the layer's public view where the caller may not read it."""
        spec = catalog[layer_id]
        if (shown := self.shown(spec)) is None:
            self.refuse_hidden([spec])
        assert shown is not None
        return shown

    def refuse_hidden(self, specs: Iterable[Guarded]) -> None:
        """Raise Forbidden (403) naming every layer of `specs` this caller may not see."""
        if hidden := [s.id for s in specs if not self.may_see(s)]:
            what = f"layer {hidden[0]!r} is" if len(hidden) == 1 else f"layers {hidden} are"
            raise Forbidden(
                f"{what} restricted (critical infrastructure) and role {self.role.name!r} "
                "may not read it: send Authorization: Bearer <token> of a role that may"
            )

    def refuse_unwritable(self, spec: LayerSpec) -> None:
        if self.name is None and not self.may_write(spec):
            # Nobody writes anonymously: ask for credentials rather than refuse them.
            raise Unauthorized(f"writing layer {spec.id!r} needs a token of a role that may")
        self.refuse_hidden([spec])
        if not self.may_write(spec):
            raise Forbidden(f"role {self.role.name!r} may not write layer {spec.id!r}")

    def refuse_non_admin(self, what: str) -> None:
        if not self.role.admin:
            raise Forbidden(
                f"{what} is for the admin role; this token's role is {self.role.name!r}"
            )

    def layer(self, catalog: Mapping[str, LayerSpec], layer_id: str) -> LayerSpec:
        """The named layer if this caller may see it (LayerNotFound, then Forbidden)."""
        spec = catalog[layer_id]
        self.refuse_hidden([spec])
        return spec

    @property
    def reads_key(self) -> str:
        """What this caller may read, for cache keys: equal keys, equal visibility."""
        return "*" if self.role.admin else ",".join(sorted(self.role.reads))


# The platform itself (maps it renders for every role, benchmarks) and an anonymous caller.
SYSTEM = Principal(Role("admin", admin=True), name="system")
ANONYMOUS = Principal(Role("viewer"))
