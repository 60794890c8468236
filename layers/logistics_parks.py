from layers.common import name, owner
from layers.spec import Attribute, AttrType, LayerSpec, Style

LOGISTICS_PARKS = LayerSpec(
    id="logistics_parks",
    title="Logistics parks",
    title_zh="物流园区",
    description="Ports, bonded zones, rail and air hubs and distribution parks (smart logistics).",
    geometry_type="MultiPolygon",
    attributes=(
        name(required=True),
        Attribute(
            name="kind",
            type=AttrType.text,
            title="Kind",
            choices=(
                "port",
                "airport",
                "rail",
                "bonded",
                "cold_chain",
                "distribution",
                "warehouse",
                "industrial",
                "multimodal",
            ),
            aliases=("类型", "type", "landuse"),
        ),
        Attribute(
            name="capacity_kt_per_year",
            type=AttrType.real,
            title="Throughput capacity",
            unit="kt/year",
            minimum=0,
            aliases=("capacity", "吞吐能力"),
        ),
        owner(),
    ),
    style=Style(
        kind="fill",
        color="#c55a11",
        outline="#843c0c",
        opacity=0.45,
        label="name",
        zoom_attributes={0: ("name", "kind")},
    ),
)
