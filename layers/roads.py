from layers.common import name
from layers.spec import Attribute, AttrType, LayerSpec, Style

ROAD_CLASSES = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "residential",
    "service",
    "unclassified",
)

ROADS = LayerSpec(
    id="roads",
    title="Roads",
    title_zh="道路",
    description="Road centrelines for routing and isochrones; speed gives travel time.",
    geometry_type="LineString",
    attributes=(
        name(),
        Attribute(
            name="road_class",
            type=AttrType.text,
            title="Class",
            required=True,
            choices=ROAD_CLASSES,
            aliases=("highway", "等级", "class", "fclass"),
        ),
        Attribute(name="oneway", type=AttrType.boolean, title="One way"),
        Attribute(name="lanes", type=AttrType.integer, title="Lanes", minimum=1, maximum=16),
        Attribute(
            name="speed_kmh",
            type=AttrType.real,
            title="Speed",
            unit="km/h",
            minimum=0,
            exclusive_minimum=True,
            maximum=200,
            aliases=("maxspeed", "speed", "限速"),
        ),
    ),
    style=Style(
        kind="line",
        color="#9e9e9e",
        width=1.2,
        color_by="road_class",
        palette={"motorway": "#e15759", "trunk": "#f28e2b", "primary": "#edc948"},
        min_zoom=9,
        zoom_attributes={9: ("road_class",), 14: ("road_class", "name")},
    ),
)
