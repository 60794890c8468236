from layers.common import capacity, name, name_pinyin
from layers.spec import Attribute, AttrType, LayerSpec, Style

SCENIC_SITES = LayerSpec(
    id="scenic_sites",
    title="Scenic sites",
    title_zh="旅游景区",
    description="Tourist attractions with their national A-grade (GB/T 17775) and capacity.",
    geometry_type="Point",
    attributes=(
        name(required=True),
        name_pinyin(),
        Attribute(
            name="grade",
            type=AttrType.text,
            title="A-grade",
            choices=("A", "2A", "3A", "4A", "5A"),
            aliases=("等级", "level", "GRADE"),
        ),
        capacity("persons/day", "Daily capacity"),
        Attribute(
            name="kind",
            type=AttrType.text,
            title="Kind",
            choices=(
                "beach",
                "mountain",
                "park",
                "museum",
                "historic",
                "religious",
                "landmark",
                "theme_park",
                "zoo",
                "other",
            ),
            aliases=("类型", "tourism", "type"),
        ),
    ),
    style=Style(
        kind="circle",
        color="#00a86b",
        radius=6,
        color_by="grade",
        palette={
            "5A": "#c00000",
            "4A": "#ff7f00",
            "3A": "#ffc000",
            "2A": "#92d050",
            "A": "#00b0f0",
        },
        label="name",
        zoom_attributes={0: ("name", "grade"), 12: ("name", "name_pinyin", "grade", "kind")},
    ),
)
