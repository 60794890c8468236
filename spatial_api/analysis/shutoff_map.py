"""The shut-off order's map: the isolation answer drawn in plan, as SVG, by matplotlib.

Drawn as dig_section.py draws its section (matplotlib, text kept as text, one drawing at a
time under its rc lock) in the answer's own local plane: azimuthal equidistant about the
break, so north is up and the scale bar is true in every direction within 20 km.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
import shapely
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from shapely.geometry import shape

from spatial_api.analysis.dig_section import RC_LOCK
from spatial_api.analysis.isolation_network import Plane

ISOLATED, CUT_OFF, CLOSE, STUCK = "#c00000", "#e67e00", "#1f4e9c", "#7a0080"
NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


@dataclass(frozen=True)
class MapValve:
    asset_id: str
    lonlat: tuple[float, float]
    number: int | None  # its row in the order, for valves to close
    role: str


def _xy(plane: Plane, geometry: dict) -> shapely.Geometry:
    return plane.forward(np.array([shape(geometry)], dtype=object))[0]


def _nice(span: float) -> float:
    """A round scale-bar length near a fifth of the drawing's width."""
    target = max(span / 5, 1.0)
    step = 10 ** math.floor(math.log10(target))
    return max(m * step for m in (1, 2, 5) if m * step <= target)


def _plain(label: str) -> str:
    return label.replace("$", r"\$")  # data as text, never mathtext


def draw(
    pipes: list[tuple[str, dict]],
    valves: list[MapValve],
    customers: list[dict],
    plane: Plane,
) -> bytes:
    """Pipes out (isolated solid, cut-off dashed), valves numbered, stuck ones crossed,
    the break starred at the plane's centre, with a scale bar and a north arrow."""
    fig = Figure(figsize=(7.5, 6.0))
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.08, top=0.98)
    ax = fig.subplots()
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    xs: list[float] = [0.0]
    ys: list[float] = [0.0]
    for role, geometry in pipes:
        g = _xy(plane, geometry)
        for part in shapely.get_parts(g):
            c = shapely.get_coordinates(part)
            xs += list(c[:, 0])
            ys += list(c[:, 1])
            dashed = role == "cut_off_pipe"
            ax.plot(
                c[:, 0],
                c[:, 1],
                color=CUT_OFF if dashed else ISOLATED,
                lw=2.2,
                ls=(0, (4, 2)) if dashed else "-",
                zorder=2,
            )
    for cu in customers:
        if cu.get("geometry"):
            p = _xy(plane, cu["geometry"])
            ax.plot(p.x, p.y, "o", ms=2.5, color="#555", zorder=3)
    for v in valves:
        p = _xy(plane, {"type": "Point", "coordinates": list(v.lonlat)})
        xs.append(p.x)
        ys.append(p.y)
        if v.role == "close":
            ax.plot(p.x, p.y, "o", ms=11, mfc="white", mec=CLOSE, mew=1.6, zorder=5)
            ax.text(p.x, p.y, str(v.number), ha="center", va="center", fontsize=7, zorder=6)
        elif v.role in ("stuck_passed", "broken_passed"):
            ax.plot(p.x, p.y, "X", ms=10, color=STUCK, zorder=5)
            ax.annotate(
                _plain(v.asset_id),
                (p.x, p.y),
                xytext=(6, 6),
                textcoords="offset points",
                fontsize=7,
                color=STUCK,
            )
        else:
            ax.plot(p.x, p.y, "s", ms=7, color="#333", zorder=5)
    ax.plot(0, 0, "*", ms=16, color="#000", mfc="#ffd400", zorder=7)
    _frame(ax, xs, ys)
    fig.legend(handles=_legend(), loc="lower center", fontsize=7, ncols=6, frameon=False)
    buf = io.BytesIO()
    with RC_LOCK, mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "citygis-shutoff"}):
        fig.savefig(buf, format="svg", metadata=NO_METADATA)
    return buf.getvalue()


def _frame(ax: Axes, xs: list[float], ys: list[float]) -> None:
    """Limits with a margin, a scale bar at the bottom left and a north arrow at the top right."""
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    pad = max(x1 - x0, y1 - y0, 20.0) * 0.08
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - 2 * pad, y1 + pad
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    bar = _nice(x1 - x0)
    bx, by = x0 + pad / 2, y0 + pad / 2
    ax.plot([bx, bx + bar], [by, by], color="#000", lw=3, solid_capstyle="butt")
    ax.text(bx + bar / 2, by + pad / 4, f"{bar:g} m", ha="center", va="bottom", fontsize=8)
    ax.annotate(
        "N",
        xy=(0.95, 0.96),
        xytext=(0.95, 0.84),
        xycoords="axes fraction",
        ha="center",
        va="center",
        fontsize=10,
        fontweight="bold",
        arrowprops={"arrowstyle": "-|>", "color": "#000", "lw": 1.5},
    )


def _legend() -> list[Line2D]:
    def mark(label: str, **kw: object) -> Line2D:
        return Line2D([], [], label=label, **kw)  # type: ignore[arg-type]

    return [
        mark("isolated", color=ISOLATED, lw=2.2),
        mark("cut off", color=CUT_OFF, lw=2.2, ls=(0, (4, 2))),
        mark("close (№)", ls="", marker="o", mfc="white", mec=CLOSE, ms=8),
        mark("stuck / broken", ls="", marker="X", color=STUCK, ms=8),
        mark("already closed", ls="", marker="s", color="#333", ms=6),
        mark("break", ls="", marker="*", color="#000", mfc="#ffd400", ms=12),
    ]
