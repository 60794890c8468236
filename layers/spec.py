"""The declarative layer model: one LayerSpec drives table, API collection, tiles and style."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

STORAGE_SRID = 4490  # CGCS2000, China's national geographic CRS; global like WGS 84.


class AttrType(StrEnum):
    text = "text"
    integer = "integer"
    real = "real"
    boolean = "boolean"
    date = "date"
    timestamp = "timestamp"


PY_TYPES: dict[AttrType, tuple[type, ...]] = {
    AttrType.text: (str,),
    AttrType.integer: (int,),
    AttrType.real: (int, float),
    AttrType.boolean: (bool,),
    AttrType.date: (date,),
    AttrType.timestamp: (datetime,),
}


class Access(StrEnum):
    public = "public"
    restricted = "restricted"  # critical infrastructure: authenticated roles only


GeometryType = Literal[
    "Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"
]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Attribute(Frozen):
    """A typed column with its unit and the values the database will accept."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    type: AttrType
    title: str
    unit: str | None = None
    required: bool = False
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    description: str | None = None
    # Source column names loaders map onto this attribute automatically.
    aliases: tuple[str, ...] = ()
    # Added after content ids were pinned: it joins the id of a row loaded without one only
    # where it holds a value, so rows loaded before it existed keep their ids.
    added_later: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Attribute:
        if self.choices is not None and self.type is not AttrType.text:
            raise ValueError(f"{self.name}: choices need a text attribute")
        numeric = self.type in (AttrType.integer, AttrType.real)
        if (self.minimum is not None or self.maximum is not None) and not numeric:
            raise ValueError(f"{self.name}: ranges need a numeric attribute")
        return self


class Style(Frozen):
    """Default map style; the web map legend and folium maps read it."""

    kind: Literal["fill", "line", "circle"]
    color: str = "#3366cc"
    outline: str | None = None
    width: float = 1.5
    radius: float = 4.0
    opacity: float = Field(default=0.8, ge=0, le=1)
    color_by: str | None = None
    palette: dict[str, str] = {}
    label: str | None = None
    min_zoom: int = Field(default=0, ge=0, le=24)
    max_zoom: int = Field(default=22, ge=0, le=24)
    # Attributes carried in tiles, from the zoom level where they start to matter.
    zoom_attributes: dict[int, tuple[str, ...]] = {}


class Temporal(Frozen):
    """Every row is one version of an asset, valid over a period.

    Events (incidents) also carry their own occurrence period as attributes,
    which is what a timeline shows; valid time is what we knew when.
    """

    event_start: str | None = None
    event_end: str | None = None


class PublicView(Frozen):
    """What a role that may not read a restricted layer sees of it instead of a 403.

    Only `attributes`, on geometry snapped to a grid of `generalise_m` metres in 2D (no
    depth): enough for the public to know a gas main runs along a street, not where to dig.
    Items, tiles and collections serve it; analyses still need the layer's readers.
    """

    attributes: tuple[str, ...]
    generalise_m: float = Field(gt=0, le=10_000)


class LayerSpec(Frozen):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    title: str
    title_zh: str
    description: str
    geometry_type: GeometryType
    dimension: Literal[2, 3] = 2
    storage_srid: int = STORAGE_SRID
    attributes: tuple[Attribute, ...]
    temporal: Temporal = Temporal()
    access: Access = Access.public
    # Roles (layers/roles.py) that read a restricted layer and that write the layer;
    # every role reads a public layer, and admin reads and writes everything.
    readers: tuple[str, ...] = ()
    writers: tuple[str, ...] = ()
    public_view: PublicView | None = None
    # Set on the spec `public()` derives: its rows are generalised to this many metres.
    generalised_m: float | None = None
    style: Style

    @field_validator("attributes")
    @classmethod
    def _unique_names(cls, attrs: tuple[Attribute, ...]) -> tuple[Attribute, ...]:
        names = [a.name for a in attrs]
        reserved = {
            "version_id",
            "asset_id",
            "valid",
            "geom",
            "source",
            "recorded_at",
            "superseded_at",
            "scenario_id",
            "recorded",
            "scenario",
        }
        if clash := reserved.intersection(names):
            raise ValueError(f"reserved attribute names: {sorted(clash)}")
        if len(set(names)) != len(names):
            raise ValueError("attribute names must be unique")
        return attrs

    @model_validator(mode="after")
    def _references(self) -> LayerSpec:
        names = {a.name for a in self.attributes}
        refs = [
            self.style.color_by,
            self.style.label,
            self.temporal.event_start,
            self.temporal.event_end,
        ]
        refs += [n for group in self.style.zoom_attributes.values() for n in group]
        if unknown := {r for r in refs if r and r not in names}:
            raise ValueError(f"{self.id}: style/temporal refer to unknown {sorted(unknown)}")
        if self.public_view is not None:
            if self.access is not Access.restricted:
                raise ValueError(f"{self.id}: a public view is of a restricted layer")
            if unknown := set(self.public_view.attributes) - names:
                raise ValueError(f"{self.id}: public view names unknown {sorted(unknown)}")
        return self

    def public(self) -> LayerSpec:
        """The layer as its public view shows it: a public layer of the view's attributes."""
        view = self.public_view
        if view is None:
            raise ValueError(f"{self.id} has no public view")
        kept = set(view.attributes)
        style = self.style.model_copy(
            update={
                "color_by": self.style.color_by if self.style.color_by in kept else None,
                "label": self.style.label if self.style.label in kept else None,
                "zoom_attributes": {
                    z: tuple(n for n in names if n in kept)
                    for z, names in self.style.zoom_attributes.items()
                },
            }
        )
        return self.model_copy(
            update={
                "description": f"{self.description} Public view: {', '.join(view.attributes)} "
                f"only, on lines generalised to {view.generalise_m:g} m, in 2D.",
                "dimension": 2,
                "access": Access.public,
                "readers": (),
                "writers": (),
                "attributes": tuple(a for a in self.attributes if a.name in kept),
                "temporal": self.temporal
                if {self.temporal.event_start, self.temporal.event_end} <= kept | {None}
                else Temporal(),
                "public_view": None,
                "generalised_m": view.generalise_m,
                "style": style,
            }
        )

    def attribute(self, name: str) -> Attribute:
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeyError(name)

    @property
    def sources(self) -> tuple[str, ...]:
        """The catalog layers whose readers decide who sees this one: itself."""
        return (self.id,)

    @property
    def postgis_type(self) -> str:
        """Geometry type name as PostGIS spells it, e.g. LINESTRINGZ."""
        return self.geometry_type.upper() + ("Z" if self.dimension == 3 else "")

    @property
    def current_view(self) -> str:
        return f"{self.id}_current"

    @property
    def as_of_function(self) -> str:
        return f"{self.id}_as_of"

    @property
    def history_table(self) -> str:
        return f"{self.id}_history"

    @property
    def recorded_function(self) -> str:
        return f"{self.id}_recorded"

    @property
    def scenario_table(self) -> str:
        return f"{self.id}_scenario"
