"""Where people are: grid cells or polygons with a head count, for impact and coverage."""

from layers.spec import Attribute, AttrType, LayerSpec, Style

POPULATION = LayerSpec(
    id="population",
    title="Population",
    title_zh="人口分布",
    description=(
        "People per grid cell or polygon (e.g. a WorldPop GeoTIFF, loaded as one cell per "
        "pixel). A part of a cell counts its share of the people by area."
    ),
    geometry_type="MultiPolygon",
    attributes=(
        Attribute(
            name="people",
            type=AttrType.real,  # WorldPop estimates are fractional
            title="People",
            unit="persons",
            required=True,
            minimum=0,
            aliases=("人口", "population", "pop", "count", "value"),
        ),
        Attribute(
            name="basis",
            type=AttrType.text,
            title="Basis",
            choices=("residents", "daytime", "nighttime"),
            description="Whom it counts: where people live, or where they are by day or night",
            aliases=("口径",),
        ),
        Attribute(
            name="source_name",
            type=AttrType.text,
            title="Source",
            description="Dataset and year, e.g. WorldPop 2020 (100 m)",
            aliases=("数据来源", "dataset"),
        ),
    ),
    style=Style(
        kind="fill",
        color="#8c2d04",
        outline=None,
        opacity=0.12,  # a faint wash: it lies under everything, city-wide
        min_zoom=12,
        zoom_attributes={0: ("people",)},
    ),
)
