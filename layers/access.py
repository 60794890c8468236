"""Who is asking, and the one check that hides a layer from them.

Every path that reads a layer (items, tiles, analysis inputs, maps) goes through
`Principal.refuse_hidden`, so access is decided in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from layers.errors import Forbidden
from layers.spec import Access, LayerSpec


class Guarded(Protocol):
    """Anything with an access level: a catalog layer, or a collection read from one."""

    @property
    def id(self) -> str: ...

    @property
    def access(self) -> Access: ...


@dataclass(frozen=True)
class Principal:
    """The caller; only holders of a configured token see restricted layers."""

    restricted: bool

    def may_see(self, spec: Guarded) -> bool:
        return spec.access is Access.public or self.restricted

    def visible(self, catalog: Mapping[str, LayerSpec]) -> list[LayerSpec]:
        """The catalog's layers this caller may see, in catalog order."""
        return [spec for spec in catalog.values() if self.may_see(spec)]

    def refuse_hidden(self, specs: Iterable[Guarded]) -> None:
        """Raise Forbidden (403) naming every layer of `specs` this caller may not see."""
        if hidden := [s.id for s in specs if not self.may_see(s)]:
            what = f"layer {hidden[0]!r} is" if len(hidden) == 1 else f"layers {hidden} are"
            raise Forbidden(
                f"{what} restricted (critical infrastructure): send Authorization: Bearer <token>"
            )

    def layer(self, catalog: Mapping[str, LayerSpec], layer_id: str) -> LayerSpec:
        """The named layer if this caller may see it (LayerNotFound, then Forbidden)."""
        spec = catalog[layer_id]
        self.refuse_hidden([spec])
        return spec
