from layers.common import install_date, owner, status, utility
from layers.spec import Access, Attribute, AttrType, LayerSpec, Style

SENSORS = LayerSpec(
    id="sensors",
    title="Network sensors",
    title_zh="管网监测点",
    description=(
        "Monitoring points of the pipe networks (智慧管网): pressure, flow, level, gas and "
        "leak sensors, usually mounted on a pipe node. Their readings are a time series "
        "(city.sensor_readings, /collections/sensors/items/{id}/readings)."
    ),
    geometry_type="Point",
    readers=("crew", "emergency"),
    writers=("crew",),
    access=Access.restricted,
    attributes=(
        utility(),
        Attribute(
            name="sensor_kind",
            type=AttrType.text,
            title="Measures",
            required=True,
            choices=("pressure", "flow", "level", "gas_concentration", "temperature", "leak_noise"),
            aliases=("监测类型", "kind", "SENSOR_TYPE"),
        ),
        Attribute(
            name="unit",
            type=AttrType.text,
            title="Unit of the readings",
            required=True,
            aliases=("单位", "UNIT"),
        ),
        Attribute(
            name="node_id",
            type=AttrType.text,
            title="Pipe node it is mounted on",
            aliases=("管线点编号", "node", "NODE_ID"),
        ),
        owner(),
        install_date(),
        status("in_service", "faulty", "removed", "planned"),
    ),
    style=Style(
        kind="circle",
        color="#00a0a0",
        radius=4,
        color_by="sensor_kind",
        palette={
            "pressure": "#0070c0",
            "flow": "#00a0a0",
            "level": "#7f6000",
            "gas_concentration": "#ff00ff",
            "temperature": "#ff6600",
            "leak_noise": "#c00000",
        },
        min_zoom=12,
        zoom_attributes={12: ("sensor_kind", "utility", "unit")},
    ),
)
