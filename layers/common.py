"""Attributes several layers share, declared once."""

from layers.spec import Attribute, AttrType

UTILITIES = ("water", "drainage", "gas", "heating", "telecom", "power")
UTILITY_COLORS = {  # GB/T 50026-style utility colours used on Chinese pipeline maps
    "water": "#0070c0",
    "drainage": "#7f6000",
    "gas": "#ff00ff",
    "heating": "#ff6600",
    "telecom": "#00b050",
    "power": "#ff0000",
}


def name(required: bool = False) -> Attribute:
    return Attribute(
        name="name",
        type=AttrType.text,
        title="Name",
        required=required,
        aliases=("名称", "name_zh", "NAME", "Name", "title"),
    )


def name_pinyin() -> Attribute:
    return Attribute(
        name="name_pinyin",
        type=AttrType.text,
        title="Name (pinyin)",
        aliases=("pinyin", "name_en", "name:en"),
    )


def owner() -> Attribute:
    return Attribute(
        name="owner",
        type=AttrType.text,
        title="Owner",
        aliases=("权属单位", "OWNER", "operator_name"),
    )


def install_date() -> Attribute:
    return Attribute(
        name="install_date",
        type=AttrType.date,
        title="Install date",
        aliases=("建设年代", "INSTALL_DATE", "install_year", "built"),
    )


def status(*choices: str) -> Attribute:
    return Attribute(
        name="status",
        type=AttrType.text,
        title="Status",
        choices=choices,
        aliases=("状态", "STATUS"),
    )


def utility() -> Attribute:
    return Attribute(
        name="utility",
        type=AttrType.text,
        title="Utility",
        required=True,
        choices=UTILITIES,
        aliases=("管线类别", "type", "substance", "UTILITY"),
    )


def replaces() -> Attribute:
    """A renewal's link to what it renewed; the asset's history follows the chain."""
    return Attribute(
        name="replaces",
        type=AttrType.text,
        title="Replaces",
        description="asset_id of the asset this one replaced (a renewal or a re-laid section)",
        aliases=("替换管线", "REPLACES", "replaced_asset"),
        added_later=True,
    )


def capacity(unit: str, title: str = "Capacity") -> Attribute:
    return Attribute(
        name="capacity",
        type=AttrType.integer,
        title=title,
        unit=unit,
        minimum=0,
        aliases=("容量", "CAPACITY", "cap"),
    )
