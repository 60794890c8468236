from layers.common import UTILITY_COLORS, install_date, owner, replaces, status, utility
from layers.spec import Access, Attribute, AttrType, LayerSpec, Style

PIPE_NODES = LayerSpec(
    id="pipe_nodes",
    title="Pipe nodes",
    title_zh="管线点",
    description=(
        "Junctions, valves, manholes, tanks and sources of the pipe network; z is the node "
        "elevation in metres (as for pipelines). Valves carry their state, which decides "
        "isolation."
    ),
    geometry_type="Point",
    readers=("crew", "emergency"),
    writers=("crew",),
    dimension=3,
    access=Access.restricted,
    attributes=(
        utility(),
        Attribute(
            name="node_kind",
            type=AttrType.text,
            title="Node kind",
            required=True,
            choices=(
                "junction",
                "valve",
                "manhole",
                "tank",
                "reservoir",
                "source",
                "hydrant",
                "meter",
                "pump_station",
            ),
            aliases=("特征", "kind", "NODE_TYPE"),
        ),
        Attribute(
            name="valve_state",
            type=AttrType.text,
            title="Valve state",
            choices=("open", "closed", "broken"),
            aliases=("阀门状态", "state"),
        ),
        Attribute(
            name="depth_m",
            type=AttrType.real,
            title="Depth",
            unit="m",
            minimum=0,
            maximum=100,
            aliases=("埋深", "depth", "DEPTH"),
        ),
        Attribute(
            name="ground_elevation_m",
            type=AttrType.real,
            title="Ground elevation",
            unit="m",
            minimum=-500,
            maximum=9000,
            aliases=("地面高程", "elevation"),
        ),
        owner(),
        install_date(),
        status("in_service", "abandoned", "planned", "under_construction"),
        replaces(),
        Attribute(
            name="demand_m3s",
            type=AttrType.real,
            title="Average demand",
            unit="m3/s",
            minimum=0,
            description=(
                "A junction's EPANET demand averaged over its patterns and the demand "
                "multiplier (WNTR's average_expected_demand): what /analysis/isolate "
                "estimates the people out from when there are no service connections"
            ),
            aliases=("需水量", "base_demand", "demand"),
            added_later=True,
        ),
    ),
    style=Style(
        kind="circle",
        color="#333333",
        radius=3,
        color_by="utility",
        palette=UTILITY_COLORS,
        min_zoom=14,
        zoom_attributes={14: ("utility", "node_kind", "valve_state")},
    ),
)
