"""A dig's cross-section: distance along a line against depth for each pipe crossing it.

The line is the one drawn with the request, or one of the dig's axes through its centroid
(the sides of its minimum rotated rectangle), spanning the tolerance zone: the long one,
unless more pipes cross the short one, as when a trench follows the mains. Drawn
by matplotlib: each pipe a circle of its diameter at its depth (to the depth scale, so
round whatever the vertical exaggeration), in its utility's colour, labelled; the ground,
the dig and its tolerance zone, and the dig depth.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

import matplotlib as mpl
import numpy as np
import shapely
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse, Patch, Rectangle
from matplotlib.transforms import blended_transform_factory
from shapely import LineString, Point
from shapely.geometry.base import BaseGeometry

from layers.common import UTILITY_COLORS

UNKNOWN_DN_M = 0.1  # drawn size of a pipe with no diameter (hollow)
EXAGGERATIONS = (1, 2, 5, 10, 20, 50)
DIG_COLOUR, ZONE_COLOUR = "#e0c690", "#f2e6c9"
RC_LOCK = threading.Lock()
LABEL_BAND_IN = 2.0  # inches above the plot for the upright labels
LABEL_GAP = 0.016  # of the section's length: a 7 pt label's height on the 9-inch plot


class Buried(Protocol):
    """A pipe as the section sees it: plan view in the dig's plane, depth by chainage."""

    @property
    def props(self) -> dict[str, Any]: ...

    @property
    def line(self) -> LineString: ...

    @property
    def basis(self) -> str: ...

    def depth(self, at: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Crossing:
    asset_id: str
    utility: str | None
    diameter_mm: float | None
    distance_m: float  # along the section from its start
    depth_m: float | None  # of the centreline, below ground
    depth_basis: str


@dataclass(frozen=True)
class Section:
    line: LineString  # in the dig's plane
    crossings: list[Crossing]
    dig: list[tuple[float, float]]  # distance intervals of the line inside the dig
    zone: list[tuple[float, float]]  # … inside the tolerance zone
    axis: Axis  # the request's line, or which of the dig's axes

    def json(self) -> dict[str, Any]:
        return {
            "line": AXIS_NAMES[self.axis],
            "length_m": round(self.line.length, 3),
            "crossings": [asdict(c) for c in self.crossings],
        }


Axis = Literal["drawn", "long", "short"]
AXIS_NAMES: dict[Axis, str] = {
    "drawn": "drawn",
    "long": "longest axis through the centroid",
    "short": "shortest axis through the centroid (more pipes cross it)",
}


def axes(area: BaseGeometry, zone: BaseGeometry) -> tuple[LineString, LineString]:
    """The long and the short side's directions of the area's minimum rotated rectangle,
    through its centroid, from one side of the zone to the other; each west to east (or
    south to north)."""
    sides = np.diff(shapely.get_coordinates(area.minimum_rotated_rectangle)[:3], axis=0)
    u = sides[np.argmax(np.hypot(*sides.T))] if len(sides) else np.zeros(2)
    if not np.hypot(*u) > 0:  # a dig too small for a rectangle: west to east
        u = np.array([1.0, 0.0])
    u = u / np.hypot(*u)
    c = np.array(area.centroid.coords[0])
    out = []
    for d in (u, np.array([-u[1], u[0]])):
        if d[0] < -1e-12 or (abs(d[0]) <= 1e-12 and d[1] < 0):
            d = -d
        t = (shapely.get_coordinates(zone) - c) @ d
        out.append(LineString([c + t.min() * d, c + t.max() * d]))
    return out[0], out[1]


def spans(line: LineString, region: BaseGeometry) -> list[tuple[float, float]]:
    """Intervals of distance along the line inside the region, in order (a touch is a
    0-length one)."""
    out = []
    for part in shapely.get_parts(line.intersection(region)):
        ends = shapely.get_coordinates(part)
        if len(ends):
            a, b = (line.project(Point(ends[i])) for i in (0, -1))
            out.append((min(a, b), max(a, b)))
    return sorted(out)


def cross_section(
    area: BaseGeometry, zone: BaseGeometry, line: LineString | None, pipes: Sequence[Buried]
) -> Section:
    if line is not None:
        axis: Axis = "drawn"
        crossings = _crossings(line, pipes)
    else:
        long, short = axes(area, zone)
        along, across = _crossings(long, pipes), _crossings(short, pipes)
        if len(across) > len(along):  # a trench along the mains: across them
            axis, line, crossings = "short", short, across
        else:
            axis, line, crossings = "long", long, along
    return Section(line, crossings, spans(line, area), spans(line, zone), axis)


def _crossings(line: LineString, pipes: Sequence[Buried]) -> list[Crossing]:
    """Each pipe where it crosses the line, in order along it."""
    crossings = []
    for p in pipes:
        for part in shapely.get_parts(p.line.intersection(line)):
            if part.is_empty:
                continue
            at = part if part.geom_type == "Point" else part.interpolate(0.5, normalized=True)
            depth = float(p.depth(np.array([p.line.project(at)]))[0])
            crossings.append(
                Crossing(
                    p.props["asset_id"],
                    p.props.get("utility"),
                    p.props.get("diameter_mm"),
                    round(line.project(at), 3),
                    round(depth, 3) if np.isfinite(depth) else None,
                    p.basis,
                )
            )
    crossings.sort(key=lambda c: (c.distance_m, c.asset_id))
    return crossings


# --- drawing --------------------------------------------------------------------------------


def _exaggeration(length: float, depth_range: float) -> int:
    """The largest round exaggeration that keeps the drawing no taller than ~⅓ its width."""
    target = 0.35 * length / max(depth_range, 0.1)
    return max([e for e in EXAGGERATIONS if e <= target], default=1)


def render(section: Section, dig_depth: float | None, fmt: Literal["svg", "png"] = "svg") -> bytes:
    """The section drawn; SVG keeps its text as text, so labels can be searched and read.

    Labels stand in a band above the ground, upright, spread apart where pipes crowd (six
    utilities may run a metre apart), each with a leader to its pipe.
    """
    length = max(section.line.length, 1.0)
    known = [c.depth_m + (c.diameter_mm or 0) / 1000 for c in section.crossings if c.depth_m]
    bottom = max(max(known, default=1.0), dig_depth or 0.0) + 0.5
    ve = _exaggeration(length, bottom + 0.5)
    tall = (bottom + 0.5) * ve / length  # the plot's height over its width
    inches = min(9.0, LABEL_BAND_IN + 1.0 + 9.0 * tall)  # margins set by hand: constrained
    fig = Figure(figsize=(10, inches))  # layout doubled the drawing time
    fig.subplots_adjust(left=0.07, right=0.98, bottom=1.0 / inches, top=1 - LABEL_BAND_IN / inches)
    ax = fig.subplots()
    ax.set_xlim(0, length)
    ax.set_ylim(bottom, -0.5)  # depth grows downwards
    ax.set_aspect(ve)
    for spans, colour, depth in (
        (section.zone, ZONE_COLOUR, bottom),
        (section.dig, DIG_COLOUR, dig_depth or bottom),
    ):
        for a, b in spans:
            ax.add_patch(Rectangle((a, 0), b - a, depth, color=colour, zorder=0.5, lw=0))
    ax.axhline(0, color="#6b4f2a", lw=2, zorder=1)
    ax.text(0.01 * length, -0.05, "ground", color="#6b4f2a", va="bottom", fontsize=8)
    if dig_depth is not None:
        ax.axhline(dig_depth, color="#c00000", ls="--", lw=1, zorder=1)
        ax.text(
            0.01 * length,
            dig_depth - 0.05,
            f"dig depth {dig_depth:g} m",
            color="#c00000",
            va="bottom",
            fontsize=8,
        )
    spread = _spread([c.distance_m for c in section.crossings], length)
    for c, x in zip(section.crossings, spread, strict=True):
        _draw_pipe(ax, c, x, ve, bottom)
    if not section.crossings:
        ax.text(length / 2, bottom / 2, "no pipe crosses the section line", ha="center")
    fig.legend(handles=_legend(section), loc="lower center", fontsize=7, ncols=8)
    ax.set_xlabel("distance along the section (m)")
    ax.set_ylabel("depth below ground (m)")
    what = {
        "drawn": "drawn line",
        "long": "longest axis of the dig",
        "short": "shortest axis of the dig (more pipes cross it)",
    }[section.axis]
    fig.suptitle(
        f"Cross-section along the {what} (vertical exaggeration ×{ve})",
        y=1 - 0.06 / inches,
        va="top",
        fontsize=10,
    )
    buf = io.BytesIO()
    # rcParams are global: one drawing at a time, or a neighbour's SVG could lose its text.
    with RC_LOCK, mpl.rc_context({"svg.fonttype": "none", "svg.hashsalt": "citygis-dig"}):
        fig.savefig(buf, format=fmt, metadata={"Date": None} if fmt == "svg" else None, dpi=150)
    return buf.getvalue()


def _spread(xs: list[float], length: float) -> list[float]:
    """Label positions at least a label's height apart, as near their pipes as that allows."""
    gap = LABEL_GAP * length
    out: list[float] = []
    for x in xs:  # crossings come sorted by distance
        out.append(max(x, out[-1] + gap) if out else x)
    overflow = (out[-1] - length) if out else 0.0
    if overflow > 0:  # pushed past the end: slide the crowd back, keeping the gaps
        out = [x - overflow for x in out]
        for i in range(len(out) - 2, -1, -1):
            out[i] = min(out[i], out[i + 1] - gap)
    return out


def _plain(label: str) -> str:
    """Data as text: a `$` would start matplotlib's mathtext (and can fail the drawing)."""
    return label.replace("$", r"\$")


def _legend(section: Section) -> list[Patch]:
    utilities = sorted({c.utility for c in section.crossings if c.utility})
    return [
        Patch(color=DIG_COLOUR, label="dig"),
        Patch(color=ZONE_COLOUR, label="tolerance zone"),
        *(Patch(color=UTILITY_COLORS.get(u, "#666666"), label=_plain(u)) for u in utilities),
    ]


def _draw_pipe(ax: Any, c: Crossing, label_x: float, ve: int, bottom: float) -> None:
    colour = UTILITY_COLORS.get(c.utility or "", "#666666")
    size = f" DN{c.diameter_mm:g}" if c.diameter_mm else ""
    label = _plain(f"{c.asset_id} {c.utility or '?'}{size}")
    d = (c.diameter_mm or UNKNOWN_DN_M * 1000) / 1000
    if c.depth_m is None:  # depth unknown: no circle, a leader to the bottom, said in words
        at, label = (c.distance_m, bottom), f"{label} (depth unknown)"
    else:
        at = (c.distance_m, c.depth_m - d / 2)
        ax.add_patch(
            Ellipse(
                (c.distance_m, c.depth_m),
                d * ve,
                d,
                facecolor=colour if c.diameter_mm else "none",
                edgecolor=colour,
                lw=1,
                zorder=3,
                gid=c.asset_id,
            )
        )
    ax.plot([label_x, at[0]], [-0.5, at[1]], color=colour, lw=0.6, zorder=2)  # the leader
    band = blended_transform_factory(ax.transData, ax.transAxes)
    ax.text(
        label_x,
        1.01,
        label,
        transform=band,
        rotation=90,
        ha="center",
        va="bottom",
        fontsize=7,
        color=colour,
        clip_on=False,
    )
