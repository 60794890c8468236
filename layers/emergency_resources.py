"""Who responds and what they hold: fire stations, hospitals, police, rescue teams, depots."""

from layers.common import name, owner, status
from layers.spec import Attribute, AttrType, LayerSpec, Style

EMERGENCY_RESOURCES = LayerSpec(
    id="emergency_resources",
    title="Emergency resources",
    title_zh="应急资源",
    description=(
        "Responders and supplies: the nearest by road time, around a hazard zone, "
        "are what /analysis/responders sends."
    ),
    geometry_type="Point",
    writers=("emergency",),
    attributes=(
        name(required=True),
        Attribute(
            name="kind",
            type=AttrType.text,
            title="Kind",
            required=True,
            choices=(
                "fire_station",
                "hospital",
                "police",
                "ambulance",
                "rescue_team",
                "hazmat_team",
                "supply_depot",
                "other",
            ),
            aliases=("类型", "type", "amenity"),
        ),
        Attribute(
            name="vehicles",
            type=AttrType.integer,
            title="Vehicles",
            minimum=0,
            aliases=("车辆", "车辆数"),
        ),
        Attribute(name="staff", type=AttrType.integer, title="Staff", minimum=0, aliases=("人员",)),
        Attribute(
            name="beds",
            type=AttrType.integer,
            title="Beds",
            minimum=0,
            description="Hospitals: beds, for casualties",
            aliases=("床位", "床位数"),
        ),
        Attribute(
            name="holds",
            type=AttrType.text,
            title="Holds",
            description="Equipment and supplies, e.g. foam tenders, breathing sets, tents",
            aliases=("物资", "装备", "equipment"),
        ),
        Attribute(name="phone", type=AttrType.text, title="Phone", aliases=("电话", "值班电话")),
        owner(),
        status("in_service", "out_of_service"),
    ),
    style=Style(
        kind="circle",
        color="#b2182b",
        radius=6,
        color_by="kind",
        palette={
            "fire_station": "#d7301f",
            "hospital": "#2166ac",
            "police": "#253494",
            "ambulance": "#4393c3",
            "rescue_team": "#e6550d",
            "hazmat_team": "#fdae6b",
            "supply_depot": "#756bb1",
            "other": "#969696",
        },
        label="name",
        zoom_attributes={0: ("name", "kind"), 13: ("vehicles", "beds", "status")},
    ),
)
