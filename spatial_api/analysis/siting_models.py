"""Request of POST /analysis/siting-check: which sectors, and the rules to check them by."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spatial_api.analysis.models import Filter, GeometryInput, Options, Technology

# What power_dbm leaves out for EMF. The catalog's power_dbm is the power of the signal a
# coverage threshold is compared with (layers/base_stations.py): per resource element for
# LTE RSRP and NR SS-RSRP, the pilot for UMTS, the BCCH carrier for GSM. Exposure is from
# the carrier's total power, so each technology's power is raised by this many dB:
# LTE 20 MHz, 100 PRB × 12 subcarriers; NR 100 MHz at 30 kHz, 273 PRB × 12; UMTS's CPICH
# is commonly set to 10 % of the total; a GSM BCCH carrier is one TRX at full power.
FULL_POWER_OFFSET_DB: dict[Technology, float] = {
    "lte": 10 * math.log10(1200),
    "nr": 10 * math.log10(3276),
    "umts": 10.0,
    "gsm": 0.0,
}
SENSITIVE = ("school", "kindergarten", "hospital")


class EmfRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    radius_m: float = Field(
        default=200, ge=1, le=2000, description="Sensitive buildings within this of a sector"
    )
    kinds: list[str] = Field(
        default_factory=lambda: list(SENSITIVE),
        min_length=1,
        max_length=20,
        description="Protected-target kinds that are sensitive buildings",
    )
    limit_fraction: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Share of the GB 8702-2014 limit allowed (0.2: HJ/T 10.3-1996's single-"
        "project share)",
    )
    full_power_offset_db: dict[Technology, float] = Field(
        default_factory=lambda: dict(FULL_POWER_OFFSET_DB),
        description="dB from power_dbm to the carrier's total power, per technology (0 when "
        "your power_dbm is already the total)",
    )


class SitingRules(BaseModel):
    """Planner defaults, not a standard: no national spacing or height rule was found."""

    model_config = ConfigDict(extra="forbid")

    min_spacing_m: float = Field(
        default=100, ge=0, le=5000, description="Closest two sites of one operator may be"
    )
    min_antenna_height_m: float = Field(default=5, ge=0, le=500)
    max_antenna_height_m: float = Field(default=80, ge=0, le=500)
    emf: EmfRules = Field(default_factory=EmfRules)

    @model_validator(mode="after")
    def _ordered(self) -> SitingRules:
        if self.min_antenna_height_m > self.max_antenna_height_m:
            raise ValueError("min_antenna_height_m is above max_antenna_height_m")
        return self


class SitingRequest(Options, SitingRules):
    filter: Filter | None = Field(
        default=None, max_length=20, description='Which sectors, e.g. {"operator": "china_mobile"}'
    )
    sectors: list[str] | None = Field(default=None, max_length=1000, description="Sector ids")
    sites: list[str] | None = Field(
        default=None, max_length=1000, description="Base-station ids: their sectors"
    )
    area: GeometryInput | None = Field(default=None, description="Sectors inside this polygon")
