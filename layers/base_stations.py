from layers.common import name, owner, status
from layers.spec import Attribute, AttrType, LayerSpec, Style

OPERATORS = ("china_mobile", "china_unicom", "china_telecom", "china_broadnet")
OPERATOR_COLORS = {
    "china_mobile": "#0085d0",
    "china_unicom": "#e60012",
    "china_telecom": "#1f5eab",
    "china_broadnet": "#f39800",
}

BASE_STATIONS = LayerSpec(
    id="base_stations",
    title="Base-station sites",
    title_zh="通信基站站址",
    description=(
        "Physical sites (towers, rooftops, poles) that carry antennas; a shared site hosts "
        "several operators (统建共用). Sectors live in their own layer."
    ),
    geometry_type="Point",
    writers=("planner",),
    attributes=(
        name(),
        Attribute(
            name="site_code",
            type=AttrType.text,
            title="Site code",
            aliases=("站址编码", "site_id", "SITE_ID", "enodeb_id"),
        ),
        Attribute(
            name="structure",
            type=AttrType.text,
            title="Structure",
            choices=("tower", "rooftop", "pole", "indoor", "small_cell"),
        ),
        Attribute(
            name="height_m",
            type=AttrType.real,
            title="Structure height",
            unit="m",
            minimum=0,
            maximum=500,
            aliases=("塔高", "height"),
        ),
        Attribute(name="shared", type=AttrType.boolean, title="Shared by operators"),
        owner(),
        status("planned", "under_construction", "in_service", "decommissioned"),
    ),
    style=Style(
        kind="circle",
        color="#7030a0",
        radius=5,
        label="name",
        min_zoom=11,
        zoom_attributes={
            11: ("structure", "shared"),
            15: ("name", "site_code", "structure", "shared"),
        },
    ),
)

SECTORS = LayerSpec(
    id="sectors",
    title="Base-station sectors",
    title_zh="基站扇区",
    description=(
        "One antenna sector at a site: operator, technology, band and the radio geometry "
        "(azimuth, beamwidth, tilt, height, power) from which coverage is computed."
    ),
    geometry_type="Point",
    writers=("planner",),
    attributes=(
        Attribute(
            name="site_id",
            type=AttrType.text,
            title="Site",
            required=True,
            description="asset_id of the base-station site",
            aliases=("站址", "site"),
        ),
        Attribute(
            name="operator",
            type=AttrType.text,
            title="Operator",
            required=True,
            choices=OPERATORS,
            aliases=("运营商", "OPERATOR", "carrier"),
        ),
        Attribute(
            name="technology",
            type=AttrType.text,
            title="Technology",
            required=True,
            choices=("gsm", "umts", "lte", "nr"),
            aliases=("制式", "tech", "rat"),
        ),
        Attribute(
            name="band",
            type=AttrType.text,
            title="Band",
            description="3GPP band, e.g. B3, n41, n78",
            aliases=("频段", "BAND"),
        ),
        Attribute(
            name="frequency_mhz",
            type=AttrType.real,
            title="Frequency",
            unit="MHz",
            minimum=0,
            exclusive_minimum=True,
            maximum=100000,
            aliases=("频率", "freq", "earfcn_mhz"),
        ),
        Attribute(
            name="azimuth_deg",
            type=AttrType.real,
            title="Azimuth",
            unit="degree",
            minimum=0,
            maximum=360,
            aliases=("方位角", "azimuth", "AZIMUTH", "az"),
        ),
        Attribute(
            name="beamwidth_deg",
            type=AttrType.real,
            title="Horizontal beamwidth",
            unit="degree",
            minimum=0,
            exclusive_minimum=True,
            maximum=360,
            aliases=("波瓣宽度", "水平波瓣宽度", "水平半功率角", "beamwidth", "hbw"),
        ),
        Attribute(
            name="tilt_deg",
            type=AttrType.real,
            title="Downtilt",
            unit="degree",
            minimum=-90,
            maximum=90,
            aliases=("下倾角", "tilt", "downtilt"),
        ),
        Attribute(
            name="antenna_height_m",
            type=AttrType.real,
            title="Antenna height",
            unit="m",
            minimum=0,
            maximum=500,
            aliases=("挂高", "antenna_height", "ant_h"),
        ),
        Attribute(
            name="power_dbm",
            type=AttrType.real,
            title="Transmit power",
            unit="dBm",
            minimum=-30,
            maximum=90,
            description=(
                "Transmit power at the antenna port (after the feeder) of the signal a "
                "coverage threshold is compared with: the reference-signal power per "
                "resource element for LTE RSRP (SS/PBCH power for NR SS-RSRP), the BCCH "
                "carrier power for GSM, the pilot (CPICH) power for UMTS. "
                "EIRP = power_dbm + antenna_gain_dbi − feeder_loss_db."
            ),
            # Not "eirp": an EIRP already includes the antenna gain, which would count twice.
            aliases=(
                "RS功率",
                "参考信号功率",
                "导频功率",
                "功率",
                "rs_power",
                "rs_power_dbm",
                "reference_signal_power",
                "power",
            ),
        ),
        Attribute(
            name="antenna_gain_dbi",
            type=AttrType.real,
            title="Antenna gain",
            unit="dBi",
            minimum=-10,
            maximum=40,
            description="Boresight gain of the antenna (or of an AAU's beam) over isotropic",
            aliases=("天线增益", "增益", "antenna_gain", "gain_dbi", "ant_gain"),
        ),
        Attribute(
            name="feeder_loss_db",
            type=AttrType.real,
            title="Feeder loss",
            unit="dB",
            minimum=0,
            maximum=20,
            description="Cable, jumper and connector loss between the port and the antenna",
            aliases=("馈线损耗", "馈损", "线缆损耗", "feeder_loss", "cable_loss"),
        ),
        Attribute(
            name="vertical_beamwidth_deg",
            type=AttrType.real,
            title="Vertical beamwidth",
            unit="degree",
            minimum=0,
            exclusive_minimum=True,
            maximum=180,
            description="Half-power (3 dB) beamwidth in elevation, θ3dB of TR 38.901 Table 7.3-1",
            aliases=("垂直波瓣宽度", "垂直半功率角", "vertical_beamwidth", "vbw"),
        ),
        Attribute(
            name="antenna_model",
            type=AttrType.text,
            title="Antenna model",
            description="Manufacturer and type of the antenna or AAU, as on its data sheet",
            aliases=("天线型号", "antenna_type", "antenna"),
        ),
        status("planned", "under_construction", "in_service", "decommissioned"),
    ),
    style=Style(
        kind="circle",
        color="#0085d0",
        radius=3,
        color_by="operator",
        palette=OPERATOR_COLORS,
        min_zoom=13,
        zoom_attributes={13: ("operator", "technology", "azimuth_deg", "beamwidth_deg")},
    ),
)
