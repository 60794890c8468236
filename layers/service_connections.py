"""Who a pipe serves: one point per service connection, so an isolation can say who is out.

A connection hangs on the pipe `pipe_id` names; without one, /analysis/isolate hangs it on
the nearest pipe of its utility within 30 m and says so. Restricted as the network is:
critical customers (hospitals, care homes) on a map of shut-off pipes are a target list.
"""

from layers.common import UTILITY_COLORS, name, utility
from layers.spec import Access, Attribute, AttrType, LayerSpec, Style

KINDS = ("residential", "commercial", "critical")

SERVICE_CONNECTIONS = LayerSpec(
    id="service_connections",
    title="Service connections",
    title_zh="供水用户接入点",
    description=(
        "Customers' service connections: where a building or site takes supply from a pipe "
        "(`pipe_id`), with the people it serves and, for critical customers, what they are "
        "(hospital, school, care home). An isolation counts those on the stretches it shuts."
    ),
    geometry_type="Point",
    access=Access.restricted,  # as the pipes they hang on, and who depends on them
    readers=("crew", "emergency"),
    writers=("crew",),
    attributes=(
        Attribute(
            name="customer_id",
            type=AttrType.text,
            title="Customer id",
            required=True,
            description="The utility's account or meter number",
            aliases=("用户编号", "户号", "account", "meter_id", "customer"),
        ),
        Attribute(
            name="kind",
            type=AttrType.text,
            title="Kind",
            required=True,
            choices=KINDS,
            aliases=("用户类型", "类型", "customer_kind", "type"),
        ),
        name(),
        utility(),
        Attribute(
            name="pipe_id",
            type=AttrType.text,
            title="Pipe",
            description="asset_id of the pipe it hangs on; without it, the nearest within 30 m",
            aliases=("管线编号", "接入管线", "pipe", "link"),
        ),
        Attribute(
            name="people",
            type=AttrType.integer,
            title="People",
            unit="persons",
            minimum=0,
            description="Persons it serves (residents of a building, staff and patients)",
            aliases=("人数", "用水人口", "population", "persons"),
        ),
        Attribute(
            name="critical_kind",
            type=AttrType.text,
            title="Critical kind",
            description="What a critical customer is: hospital, school, care_home, dialysis …",
            aliases=("重要用户类型", "critical"),
        ),
        Attribute(name="address", type=AttrType.text, title="Address", aliases=("地址",)),
    ),
    style=Style(
        kind="circle",
        color="#0070c0",
        radius=2,
        color_by="utility",
        palette=UTILITY_COLORS,
        label="name",
        min_zoom=15,
        zoom_attributes={15: ("kind", "utility"), 17: ("kind", "utility", "name", "people")},
    ),
)
