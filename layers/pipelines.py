from layers.common import UTILITY_COLORS, install_date, owner, replaces, status, utility
from layers.spec import Access, Attribute, AttrType, LayerSpec, PublicView, Style

MATERIALS = (
    "steel",
    "ductile_iron",
    "cast_iron",
    "pe",
    "hdpe",
    "pvc",
    "concrete",
    "clay",
    "copper",
    "aluminium",
    "fibre",
    "other",
    "unknown",
)

PIPELINES = LayerSpec(
    id="pipelines",
    title="Underground pipelines",
    title_zh="地下管线",
    description=(
        "Buried utility links (pipes, valves, pumps) as 3D lines: z is the pipe centreline "
        "elevation in metres (the source's vertical datum, usually the 1985 National Height "
        "Datum), or minus the cover depth when only depth is known. from_node/to_node give "
        "the network topology."
    ),
    geometry_type="LineString",
    readers=("crew", "emergency"),
    writers=("crew",),
    dimension=3,
    access=Access.restricted,
    # The public may know which utility runs along a street, not its depth, size or owner.
    public_view=PublicView(attributes=("utility",), generalise_m=50),
    attributes=(
        utility(),
        Attribute(
            name="link_kind",
            type=AttrType.text,
            title="Link kind",
            choices=("pipe", "valve", "pump"),
            aliases=("kind",),
        ),
        Attribute(
            name="diameter_mm",
            type=AttrType.real,
            title="Diameter",
            unit="mm",
            minimum=0,
            exclusive_minimum=True,
            maximum=10000,
            aliases=("DN", "dn", "管径", "diameter", "DIAMETER", "dia"),
        ),
        Attribute(
            name="material",
            type=AttrType.text,
            title="Material",
            choices=MATERIALS,
            aliases=("材质", "MATERIAL", "mat"),
        ),
        Attribute(
            name="pressure_class",
            type=AttrType.text,
            title="Pressure class",
            choices=("gravity", "low", "medium", "high", "very_high"),
            aliases=("压力级别", "pressure"),
        ),
        owner(),
        install_date(),
        Attribute(
            name="depth_start_m",
            type=AttrType.real,
            title="Cover depth at start",
            unit="m",
            minimum=0,
            maximum=100,
            aliases=("起点埋深", "depth", "DEPTH"),
        ),
        Attribute(
            name="depth_end_m",
            type=AttrType.real,
            title="Cover depth at end",
            unit="m",
            minimum=0,
            maximum=100,
            aliases=("终点埋深",),
        ),
        Attribute(
            name="from_node",
            type=AttrType.text,
            title="From node",
            description="asset_id of the upstream pipe node",
            aliases=("起点点号", "node1", "FROM_NODE", "start_node"),
        ),
        Attribute(
            name="to_node",
            type=AttrType.text,
            title="To node",
            description="asset_id of the downstream pipe node",
            aliases=("终点点号", "node2", "TO_NODE", "end_node"),
        ),
        status("in_service", "abandoned", "planned", "under_construction"),
        replaces(),
    ),
    style=Style(
        kind="line",
        color="#555555",
        width=2.0,
        color_by="utility",
        palette=UTILITY_COLORS,
        min_zoom=10,
        zoom_attributes={
            10: ("utility",),
            14: ("utility", "diameter_mm", "material"),
            16: (
                "utility",
                "diameter_mm",
                "material",
                "depth_start_m",
                "depth_end_m",
                "install_date",
                "owner",
            ),
        },
    ),
)
