"""Who owns buried assets and whom to call: a dig report names them with their contacts."""

from layers.common import name
from layers.spec import Access, Attribute, AttrType, LayerSpec, Style

OWNERS = LayerSpec(
    id="owners",
    title="Asset owners",
    title_zh="管线权属单位",
    description=(
        "Utilities and operators that own network assets, with their 24-hour line; an asset's "
        "`owner` attribute names one of these by `name`. The point is the office."
    ),
    geometry_type="Point",
    access=Access.restricted,  # named contacts: for those who dig and those who respond
    readers=("crew", "emergency"),
    writers=("crew",),
    attributes=(
        name(required=True),
        Attribute(
            name="utility",
            type=AttrType.text,
            title="Utilities",
            description="Comma-separated utilities it owns (water, gas …)",
            aliases=("管线类别", "utilities"),
        ),
        Attribute(
            name="phone_24h",
            type=AttrType.text,
            title="24-hour phone",
            required=True,
            aliases=("24小时电话", "应急电话", "hotline", "phone"),
        ),
        Attribute(name="email", type=AttrType.text, title="Email", aliases=("邮箱", "mail")),
        Attribute(name="contact", type=AttrType.text, title="Contact person", aliases=("联系人",)),
        Attribute(name="address", type=AttrType.text, title="Address", aliases=("地址",)),
    ),
    style=Style(
        kind="circle",
        color="#404040",
        radius=5,
        label="name",
        min_zoom=10,
        zoom_attributes={0: ("name", "utility", "phone_24h")},
    ),
)
