"""Emergency command layers: incidents, shelters, hazard sources, protected targets."""

from layers.common import capacity, name, status
from layers.spec import Access, Attribute, AttrType, LayerSpec, Style, Temporal

INCIDENTS = LayerSpec(
    id="incidents",
    title="Incidents",
    title_zh="突发事件",
    description=(
        "Emergencies with their occurrence period (started_at/ended_at) for the timeline; "
        "severity follows the national four levels (I most severe)."
    ),
    geometry_type="Point",
    writers=("emergency",),
    temporal=Temporal(event_start="started_at", event_end="ended_at"),
    attributes=(
        name(),
        Attribute(
            name="kind",
            type=AttrType.text,
            title="Kind",
            required=True,
            choices=(
                "fire",
                "flood",
                "gas_leak",
                "pipe_burst",
                "collapse",
                "chemical",
                "traffic",
                "earthquake",
                "typhoon",
                "other",
            ),
            aliases=("类型", "type"),
        ),
        Attribute(
            name="severity",
            type=AttrType.text,
            title="Severity",
            choices=("I", "II", "III", "IV"),
            aliases=("等级", "level"),
        ),
        status("reported", "active", "contained", "closed"),
        Attribute(
            name="started_at",
            type=AttrType.timestamp,
            title="Started",
            required=True,
            aliases=("发生时间", "start", "time"),
        ),
        Attribute(
            name="ended_at", type=AttrType.timestamp, title="Ended", aliases=("结束时间", "end")
        ),
        Attribute(name="casualties", type=AttrType.integer, title="Casualties", minimum=0),
        Attribute(name="description", type=AttrType.text, title="Description"),
    ),
    style=Style(
        kind="circle",
        color="#d00000",
        radius=8,
        color_by="severity",
        palette={"I": "#7f0000", "II": "#d00000", "III": "#ff7f00", "IV": "#ffd000"},
        label="name",
        zoom_attributes={0: ("kind", "severity", "status", "started_at", "ended_at", "name")},
    ),
)

SHELTERS = LayerSpec(
    id="shelters",
    title="Emergency shelters",
    title_zh="应急避难场所",
    description="Places people go in an emergency, with how many they hold.",
    geometry_type="Point",
    writers=("emergency",),
    attributes=(
        name(required=True),
        capacity("persons"),
        Attribute(
            name="kind",
            type=AttrType.text,
            title="Kind",
            choices=("park", "square", "school", "stadium", "indoor", "other"),
        ),
        Attribute(name="area_m2", type=AttrType.real, title="Usable area", unit="m2", minimum=0),
        status("open", "closed", "full"),
    ),
    style=Style(
        kind="circle",
        color="#00b050",
        radius=6,
        label="name",
        zoom_attributes={0: ("name", "capacity", "kind")},
    ),
)

HAZARD_SOURCES = LayerSpec(
    id="hazard_sources",
    title="Hazard sources",
    title_zh="危险源",
    description="Sites holding dangerous substances (重大危险源) that emergencies must avoid.",
    geometry_type="Point",
    readers=("emergency",),
    writers=("emergency",),
    access=Access.restricted,
    attributes=(
        name(required=True),
        Attribute(
            name="kind",
            type=AttrType.text,
            title="Kind",
            choices=(
                "gas_station",
                "chemical_plant",
                "lpg_storage",
                "oil_depot",
                "hazardous_warehouse",
                "substation",
                "other",
            ),
        ),
        Attribute(
            name="risk_level",
            type=AttrType.text,
            title="Risk level",
            choices=("major", "high", "medium", "low"),
        ),
        Attribute(name="substance", type=AttrType.text, title="Substance"),
        Attribute(
            name="quantity_t", type=AttrType.real, title="Quantity held", unit="t", minimum=0
        ),
    ),
    style=Style(
        kind="circle",
        color="#ff0000",
        radius=5,
        color_by="risk_level",
        palette={"major": "#7f0000", "high": "#ff0000", "medium": "#ff9900", "low": "#ffd966"},
        zoom_attributes={0: ("name", "kind", "risk_level")},
    ),
)

PROTECTED_TARGETS = LayerSpec(
    id="protected_targets",
    title="Protected targets",
    title_zh="防护目标",
    description="Schools, hospitals and other places whose people an emergency must protect.",
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
                "school",
                "kindergarten",
                "hospital",
                "nursing_home",
                "government",
                "water_plant",
                "power_plant",
                "residential",
                "other",
            ),
        ),
        Attribute(
            name="population",
            type=AttrType.integer,
            title="People present",
            unit="persons",
            minimum=0,
        ),
    ),
    style=Style(
        kind="circle",
        color="#2f5597",
        radius=5,
        label="name",
        zoom_attributes={0: ("name", "kind", "population")},
    ),
)
