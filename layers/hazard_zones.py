"""An incident's hazard zones as recorded: one asset per ring, versioned with the incident.

`POST /analysis/hazard-zone` with `incident` and `record: true` writes them (asset id
`{incident}/{ring}`), so a zone redrawn for a new wind is a new version and as-of reads
show the zone the command centre worked to at each instant.
"""

from layers.spec import Attribute, AttrType, LayerSpec, Style

# The rings spatial_api/analysis/hazard.py draws, in no particular order (ring_index has it).
RINGS = ("isolation", "protective_action", "evacuation", "shelter_in_place", "downwind_sector")
PRESETS = ("erg", "erg115", "bomb", "custom")

HAZARD_ZONES = LayerSpec(
    id="hazard_zones",
    title="Hazard zones",
    title_zh="危险区域",
    description=(
        "An incident's hazard zones as recorded, one per ring (isolation, protective action, "
        "evacuation …), each with the table edition and the inputs that drew it; the "
        "emergency analyses read them by incident id as of an instant."
    ),
    geometry_type="MultiPolygon",
    writers=("emergency",),  # read like incidents: public
    attributes=(
        Attribute(
            name="incident_id",
            type=AttrType.text,
            title="Incident",
            required=True,
            description="The incident's asset id",
            aliases=("事件编号", "incident"),
        ),
        Attribute(
            name="ring",
            type=AttrType.text,
            title="Ring",
            required=True,
            choices=RINGS,
            aliases=("zone", "区域"),
        ),
        Attribute(
            name="ring_index",
            type=AttrType.integer,
            title="Ring order",
            minimum=1,
            description="1 innermost: rings are made exclusive in this order",
        ),
        Attribute(name="preset", type=AttrType.text, title="Preset", choices=PRESETS),
        Attribute(name="material", type=AttrType.text, title="Material or device"),
        Attribute(
            name="edition",
            type=AttrType.text,
            title="Table edition",
            description="e.g. ERG 2016; null for a drawn zone",
        ),
        Attribute(
            name="wind_from_deg",
            type=AttrType.real,
            title="Wind from",
            unit="deg",
            minimum=0,
            maximum=360,
        ),
        Attribute(name="distance_m", type=AttrType.real, title="Distance", unit="m", minimum=0),
        Attribute(
            name="inputs",
            type=AttrType.text,
            title="Inputs",
            description="The /analysis/hazard-zone request that drew it, as JSON",
        ),
    ),
    style=Style(
        kind="fill",
        color="#ff0000",
        outline="#b00000",
        opacity=0.2,
        color_by="ring",
        palette={
            "isolation": "#b00000",
            "protective_action": "#ff7f00",
            "evacuation": "#d00000",
            "shelter_in_place": "#ffd000",
            "downwind_sector": "#ff9f40",
        },
        zoom_attributes={0: ("incident_id", "ring", "preset", "material", "distance_m")},
    ),
)
