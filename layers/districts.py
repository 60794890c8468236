from layers.common import name, name_pinyin
from layers.spec import Attribute, AttrType, LayerSpec, Style

DISTRICTS = LayerSpec(
    id="districts",
    title="Administrative districts",
    title_zh="行政区划",
    description="District and county boundaries; the base layer of every map.",
    geometry_type="MultiPolygon",
    attributes=(
        name(required=True),
        name_pinyin(),
        Attribute(
            name="adcode",
            type=AttrType.text,
            title="Administrative code",
            description="GB/T 2260 six-digit division code",
            aliases=("code", "ADCODE"),
        ),
        Attribute(
            name="level",
            type=AttrType.text,
            title="Level",
            choices=("province", "city", "district", "county"),
        ),
        Attribute(
            name="population", type=AttrType.integer, title="Population", unit="persons", minimum=0
        ),
    ),
    style=Style(
        kind="fill",
        color="#e8e4d8",
        outline="#8c8c8c",
        opacity=0.35,
        label="name",
        zoom_attributes={0: ("name",), 8: ("name", "adcode")},
    ),
)
