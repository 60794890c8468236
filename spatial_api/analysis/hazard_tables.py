"""The hazard tables shipped in `data/`: ERG 2016 (Tables 1 and 3, Guide 115, BLEVE) and NCTC.

Each CSV names its edition and source in `# key: value` lines above the header, and lists
what it lacks under `# missing:`. Only values from the project's reference notes are shipped;
a lookup outside them is refused (`InvalidParameter`) with what the table does hold, never
filled in by interpolation or by a neighbouring row.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from layers.errors import InvalidParameter

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Table:
    meta: dict[str, str]
    rows: tuple[dict[str, str], ...]


@cache
def table(name: str) -> Table:
    """`data/<name>.csv`, read on first use; its `# key: value` lines become `meta`."""
    meta: dict[str, str] = {}
    lines = []
    with (DATA / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        for line in f:
            if line.startswith("#"):
                key, _, value = line[1:].partition(":")
                meta[key.strip()] = value.strip()
            elif line.strip():
                lines.append(line)
    return Table(meta, tuple(csv.DictReader(lines)))


def _un(text: str) -> str | None:
    """`1017`, `UN1017`, `un 1017` → `1017`; None if the text is not a UN number."""
    m = re.fullmatch(r"(?:UN\s*)?(\d{4})", text.strip(), re.IGNORECASE)
    return m.group(1) if m else None


def _name(text: str) -> str:
    return " ".join(re.sub(r"[,_()]", " ", text.lower()).split())


def _matches(text: str, un_number: str, *names: str) -> bool:
    """By UN number, or by a name: in full, or its head ("Ammonia, anhydrous" → ammonia)."""
    if un := _un(text):
        return un == un_number
    return _name(text) in {_name(v) for n in names for v in (n, n.split(",")[0])}


@dataclass(frozen=True)
class ErgMaterial:
    un_number: str
    name: str
    guide: str
    small_isolation_m: float
    small_day_m: float
    small_night_m: float
    large_spill: str
    atm_flag: bool


def erg_material(text: str, time_of_day: str) -> ErgMaterial:
    """The Table 1 entry for a UN number or name.

    Of several entries for one id (or one name), ERG's rule: the one with the largest
    protective action distance.
    """
    rows = [r for r in table("erg2016_table1").rows if _matches(text, r["un_number"], r["name"])]
    if not rows:
        if any(_matches(text, r["un_number"], r["material"], r["name"]) for r in guide115_rows()):
            raise InvalidParameter(
                f"material: {text[:60]!r} is an ERG Guide 115 flammable gas, which has no "
                "protective action zone in ERG 2016 Table 1: use preset erg115"
            )
        known = ", ".join(f"UN{r['un_number']} {r['name']}" for r in table("erg2016_table1").rows)
        raise InvalidParameter(
            f"material: {text[:60]!r} is not in the shipped ERG 2016 Table 1 extract "
            f"(erg2016_table1.csv), which holds only {known}"
        )
    key = f"small_{time_of_day}_m"
    r = max(rows, key=lambda r: float(r[key]))
    return ErgMaterial(
        un_number=r["un_number"],
        name=r["name"],
        guide=r["guide"],
        small_isolation_m=float(r["small_isolation_m"]),
        small_day_m=float(r["small_day_m"]),
        small_night_m=float(r["small_night_m"]),
        large_spill=r["large_spill"],
        atm_flag=r["atm_flag"] == "yes",
    )


@dataclass(frozen=True)
class Table3Entry:
    container: str
    container_title: str
    isolation_m: float
    protective_m: float


def erg_table3(
    material: ErgMaterial, container: str | None, wind_class: str | None, time_of_day: str
) -> Table3Entry:
    """A large spill of a Table 3 gas, by container and wind class (both required)."""
    label = f"{material.name} (UN{material.un_number})"
    rows = [r for r in table("erg2016_table3").rows if r["un_number"] == material.un_number]
    if not rows:
        raise InvalidParameter(
            f"material: ERG 2016 Table 3 values for a large spill of {label} are not in the "
            "shipped table (erg2016_table3.csv): only small spills of it can be answered"
        )
    containers = ", ".join(r["container"] for r in rows)
    if container is None or wind_class is None:
        raise InvalidParameter(
            f"container and wind_class: a large spill of {label} is in ERG 2016 Table 3, by "
            f"container ({containers}) and wind class (low, moderate, high)"
        )
    row = next((r for r in rows if r["container"] == container), None)
    if row is None:
        raise InvalidParameter(
            f"container: {container[:60]!r} for {label} is not in the shipped ERG 2016 "
            f"Table 3, which holds {containers}"
        )
    return Table3Entry(
        container=container,
        container_title=row["container_title"],
        isolation_m=float(row["isolation_m"]),
        protective_m=float(row[f"{time_of_day}_{wind_class}_m"]),
    )


def guide115_rows() -> tuple[dict[str, str], ...]:
    return table("erg2016_guide115").rows


def guide115(text: str) -> list[dict[str, str]]:
    """Every row (one per case) of a Guide 115 material: its id, UN number or name."""
    rows = [r for r in guide115_rows() if _matches(text, r["un_number"], r["material"], r["name"])]
    if not rows:
        known = dict.fromkeys(
            r["material"] + (f" (UN{r['un_number']})" if r["un_number"] else "")
            for r in guide115_rows()
        )
        raise InvalidParameter(
            f"material: {text[:60]!r} is not in the shipped ERG Guide 115 table "
            f"(erg2016_guide115.csv), which holds {', '.join(known)}"
        )
    return rows


def bleve(capacity_l: float) -> tuple[float, float]:
    """(tabulated capacity, evacuation distance): the smallest row at or above the tank."""
    rows = sorted(
        (float(r["capacity_l"]), float(r["evacuation_m"])) for r in table("erg2016_bleve").rows
    )
    for capacity, distance in rows:
        if capacity_l <= capacity:
            return capacity, distance
    raise InvalidParameter(
        f"tank_capacity_l: {capacity_l:g} L is above the largest tank in the shipped BLEVE "
        f"table ({rows[-1][0]:g} L, erg2016_bleve.csv)"
    )


@dataclass(frozen=True)
class Device:
    device: str
    title: str
    tnt_kg: float
    mandatory_m: float
    preferred_m: float


def bomb_device(device: str) -> Device:
    rows = table("nctc_bomb_standoff").rows
    row = next((r for r in rows if r["device"] == device.strip().lower()), None)
    if row is None:
        raise InvalidParameter(
            f"device: {device[:60]!r} is not in the NCTC stand-off table; use one of "
            + ", ".join(r["device"] for r in rows)
        )
    return Device(
        device=row["device"],
        title=row["title"],
        tnt_kg=float(row["tnt_kg"]),
        mandatory_m=float(row["mandatory_m"]),
        preferred_m=float(row["preferred_m"]),
    )
