"""Received power of every sector on a square grid, and the best server: pure numpy.

The grid lives in a metric CRS (a CGCS2000 3° Gauss-Krüger zone, EPSG:4534–4554, whose
central meridian is nearest the data: EPSG:4549 for Qingdao), with cells on one lattice,
multiples of `cell_m`, so that every answer over the same zone shares its cells. Each
sector is computed only on the box of cells it can reach (`footprint`: its budget against
the pattern, bounded per bearing interval), and that window is kept (`WINDOWS`, keyed by
everything it depends on) so that the next answer, or an edit of one sector, recomputes
only what changed.

Per cell: received power = EIRP − path loss(model) + antenna pattern (TR 38.901 Table 7.3-1,
horizontal and vertical with tilt) − terrain diffraction when a DEM is loaded (knife_edge.py,
ITU-R P.526 single knife edge, on a lattice of TERRAIN_STEP_M); without one the earth is
flat. There is no clutter.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from layers.errors import InvalidParameter, TooLarge
from loaders.crs import gauss_kruger_epsg
from spatial_api.analysis import knife_edge
from spatial_api.analysis import propagation as prop
from spatial_api.analysis.dem import Dem

Array = NDArray[np.float64]

MAX_CELLS = 40_000_000  # cells in one grid (25 m: 25,000 km²)
MAX_REACH_M = 20_000.0  # no sector is computed farther than this
REACH_SAMPLES = 256  # distances the reach is searched over, log-spaced (3.4 % apart)
BEARING_STEP = 10.0  # degrees: bearing intervals the reach is bounded over
SIDE_LOBE_DB = 30.0  # TR 38.901 Table 7.3-1: Am and SLA_V
MIN_DISTANCE_M = 1.0  # a cell centre closer than this to the mast is taken at this distance
# Terrain loss is computed on every k-th cell (k·cell ≥ this) and spread to the cells
# between: a path profile per 25 m cell would be 16× the work for a loss that varies at
# the DEM's scale (30 m or coarser).
TERRAIN_STEP_M = 100.0

# Downlink thresholds commonly used as the outdoor coverage criterion by Chinese operators
# (planner defaults, not a standard): GSM RxLev, UMTS RSCP, LTE RSRP, NR SS-RSRP.
THRESHOLDS_DBM = {"gsm": -90.0, "umts": -95.0, "lte": -110.0, "nr": -105.0}
AREAS = {"urban": "urban", "suburban": "suburban", "rural": "open"}  # Hata's names


def metric_epsg(lon: float) -> int:
    """The CGCS2000 3° Gauss-Krüger zone (central meridian in the CRS, no zone prefix)."""
    epsg = gauss_kruger_epsg(lon)
    if epsg is None:
        raise InvalidParameter(
            f"grid coverage needs data within China's 3° zones (73.5–136.5°E), got {lon:.2f}°E"
        )
    return epsg


@dataclass(frozen=True)
class Radio:
    """One sector's link budget and antenna, in the grid's metres."""

    x: float
    y: float
    eirp_dbm: float
    threshold_dbm: float
    frequency_mhz: float
    height_m: float
    model: str
    azimuth_deg: float | None  # None: omnidirectional
    beamwidth_deg: float
    tilt_deg: float
    vertical_beamwidth_deg: float
    reach_m: float = 0.0  # boresight reach, set by `with_reach`
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # around the mast, metres

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Grid metres that hold every cell this sector can cover."""
        b = self.box
        return (self.x + b[0], self.y + b[1], self.x + b[2], self.y + b[3])


@dataclass
class Notes:
    """What the answer must say about how far the numbers can be trusted."""

    cells_computed: dict[str, int] = field(default_factory=dict)  # per model
    cells_extrapolated: dict[str, int] = field(default_factory=dict)
    uma_other_heights: int = 0
    terrain_points: int = 0  # paths profiled against the DEM
    terrain_shadowed: int = 0
    terrain_beyond_dem: int = 0

    def lines(self) -> list[str]:
        out = []
        if self.uma_other_heights:
            out.append(
                f"uma is specified for hBS = 25 m: {self.uma_other_heights} sectors at other "
                "heights were computed with its formula (as ns-3 does)"
            )
        if self.terrain_beyond_dem:
            out.append(
                f"terrain: {self.terrain_beyond_dem} of {self.terrain_points} paths leave the "
                "DEM and were taken over flat ground"
            )
        for model, n in sorted(self.cells_extrapolated.items()):
            valid = prop.MODELS[model].distance_m
            out.append(
                f"{model} is valid for distance {valid}: {n} of the "
                f"{self.cells_computed[model]} cells it computed lie closer to their sector "
                "(extrapolated)"
            )
        return out


def path_loss(radio: Radio, d_m: Array, rx_height_m: float, environment: str) -> prop.Loss:
    """The sector's model at these distances; NLOS for uma (no building data)."""
    return model_loss(
        radio.model, d_m, radio.frequency_mhz, radio.height_m, rx_height_m, environment
    )


def model_loss(
    model: str,
    d_m: Array,
    f_mhz: prop.Param,
    h_base_m: prop.Param,
    rx_height_m: float,
    environment: str,
) -> prop.Loss:
    """A model's loss; frequency and height may be one per sector, broadcasting over d."""
    f, hb, hm = f_mhz, h_base_m, rx_height_m
    if model == "fspl":
        return prop.fspl(d_m, f)
    if model == "hata":
        return prop.hata(d_m, f, hb, hm, area=AREAS[environment])  # type: ignore[arg-type]
    if model == "cost231":
        if environment == "rural":
            raise InvalidParameter("cost231 defines urban and suburban areas only, not rural")
        return prop.cost231(d_m, f, hb, hm, area=environment)  # type: ignore[arg-type]
    if model == "uma":
        return prop.uma(d_m, f, hb, hm, los=False)
    raise InvalidParameter(f"model {model!r} is not a propagation model")


def model_range_m(model: str) -> float:
    valid = prop.MODELS[model].distance_m
    return min(valid.high, MAX_REACH_M) if valid is not None else MAX_REACH_M


@lru_cache(maxsize=16)
def _samples(model: str) -> NDArray[np.float64]:
    return np.geomspace(MIN_DISTANCE_M, model_range_m(model), REACH_SAMPLES)


# Bearing intervals off the azimuth: each is bounded by its edge nearest the boresight,
# where the horizontal pattern loses least, so a reach found per interval is an upper bound.
_EDGES = np.arange(-180.0, 181.0, BEARING_STEP)
_NEAREST = np.where(
    _EDGES[:-1] * _EDGES[1:] <= 0, 0.0, np.minimum(abs(_EDGES[:-1]), abs(_EDGES[1:]))
)
# Intervals mirrored about the boresight share that edge: the search runs once per angle.
_ANGLES, _ANGLE_OF = np.unique(_NEAREST, return_inverse=True)


@dataclass(frozen=True)
class Footprint:
    reach_m: float  # along the boresight at the receiver height, with the pattern
    box: tuple[float, float, float, float]  # cells beyond it, relative to the mast, fail


def footprint(radio: Radio, rx_height_m: float, environment: str) -> Footprint:
    """How far the sector meets its threshold: at boresight, and a box around everything."""
    return footprints([radio], rx_height_m, environment)[0]


_FOOTPRINTS: dict[tuple[Radio, float, str], Footprint] = {}
MAX_FOOTPRINTS = 200_000
CHUNK = 256  # sectors per vectorised pass (CHUNK × 36 × REACH_SAMPLES booleans)


def footprints(radios: list[Radio], rx_height_m: float, environment: str) -> list[Footprint]:
    """Footprints of many sectors at once (and kept: an answer asks again for the same).

    The budget is evaluated on REACH_SAMPLES log-spaced distances and BEARING_STEP-wide
    bearing intervals, with the vertical pattern at each distance and the horizontal one at
    each interval's most favourable edge; the box reaches the next sample out. Path loss
    is computed once per (model, frequency, height), the rest as arrays over the sectors.
    """
    keys = [(r, rx_height_m, environment) for r in radios]
    found = {k: f for k in keys if (f := _FOOTPRINTS.get(k)) is not None}
    by_model: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        if k not in found:
            by_model.setdefault(radios[i].model, []).append(i)
    for model, idx in by_model.items():
        for start in range(0, len(idx), CHUNK):
            part = idx[start : start + CHUNK]
            fs = _footprints([radios[i] for i in part], model, rx_height_m, environment)
            found.update((keys[i], f) for i, f in zip(part, fs, strict=True))
    if len(_FOOTPRINTS) + len(found) > MAX_FOOTPRINTS:
        _FOOTPRINTS.clear()
    _FOOTPRINTS.update(found)
    return [found[k] for k in keys]


def clear_footprints() -> None:
    _FOOTPRINTS.clear()


def _footprints(
    radios: list[Radio], model: str, rx_height_m: float, environment: str
) -> list[Footprint]:
    d = _samples(model)
    col = lambda name: np.array([getattr(r, name) for r in radios], float)[:, None]  # noqa: E731
    # Path loss once per distinct (frequency, height), all of them in one pass.
    pairs: dict[tuple[float, float], int] = {}
    which = [pairs.setdefault((r.frequency_mhz, r.height_m), len(pairs)) for r in radios]
    f, hb = np.array(list(pairs)).T[:, :, None]
    pl = model_loss(model, d[None, :], f, hb, rx_height_m, environment).db[which]
    margin = col("eirp_dbm") - col("threshold_dbm") - pl
    theta = col("tilt_deg") - np.degrees(np.arctan2(col("height_m") - rx_height_m, d[None, :]))
    l_v = np.minimum(12 * (theta / col("vertical_beamwidth_deg")) ** 2, SIDE_LOBE_DB)
    omni = np.array([r.azimuth_deg is None for r in radios])
    l_h = np.where(
        omni[:, None],
        0.0,
        np.minimum(12 * (_ANGLES[None, :] / col("beamwidth_deg")) ** 2, SIDE_LOBE_DB),
    )
    ok = margin[:, None, :] - np.minimum(l_h[:, :, None] + l_v[:, None, :], SIDE_LOBE_DB) >= 0
    passed = ok.any(axis=2)
    last = d.size - 1 - np.argmax(ok[:, :, ::-1], axis=2)
    # Sectors × intervals.
    bound = np.where(passed, d[np.minimum(last + 1, d.size - 1)], 0.0)[:, _ANGLE_OF]
    # Boresight: interpolate the root in log-distance between the last pass and the next.
    fore = margin - l_v
    good = fore >= 0
    i = np.where(good.any(axis=1), d.size - 1 - np.argmax(good[:, ::-1], axis=1), -1)
    j = np.minimum(i + 1, d.size - 1)
    rows = np.arange(len(radios))
    fi, fj = fore[rows, np.maximum(i, 0)], fore[rows, j]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(j > i, fi / (fi - fj), 0.0)
    log_d = np.log(d)
    reach = np.where(
        i < 0, 0.0, np.exp(log_d[np.maximum(i, 0)] + t * (log_d[j] - log_d[np.maximum(i, 0)]))
    )
    az = np.radians(np.nan_to_num(col("azimuth_deg")) + np.r_[_EDGES[:-1], _EDGES[1:]][None, :])
    radius = np.concatenate([bound, bound], axis=1) * 1.01  # arcs bulge < 0.4 % off chords
    x, y = radius * np.sin(az), radius * np.cos(az)
    b = bound[:, 0]
    boxes = np.where(
        omni[:, None],
        np.column_stack([-b, -b, b, b]),
        np.column_stack([x.min(axis=1), y.min(axis=1), x.max(axis=1), y.max(axis=1)]),
    ).tolist()
    return [Footprint(r, tuple(box)) for r, box in zip(reach.tolist(), boxes, strict=True)]


def with_reach(radio: Radio, rx_height_m: float, environment: str) -> Radio:
    return with_reaches([radio], rx_height_m, environment)[0]


def with_reaches(radios: list[Radio], rx_height_m: float, environment: str) -> list[Radio]:
    fs = footprints(radios, rx_height_m, environment)
    return [replace(r, reach_m=f.reach_m, box=f.box) for r, f in zip(radios, fs, strict=True)]


@dataclass(frozen=True)
class Grid:
    """Cell (row, col) has its centre at (x0 + (col + ½)·cell, y0 + (row + ½)·cell)."""

    x0: float
    y0: float
    cell: float
    rows: int
    cols: int

    def __post_init__(self) -> None:
        # Cells sit on one lattice (multiples of cell), so computed windows fit any grid.
        for v in (self.x0, self.y0):
            if abs(v / self.cell - round(v / self.cell)) > 1e-9:
                raise ValueError(f"grid origin {v} is not a multiple of the cell {self.cell}")

    @classmethod
    def around(cls, bounds: tuple[float, float, float, float], cell: float) -> Grid:
        x0, y0 = np.floor(bounds[0] / cell) * cell, np.floor(bounds[1] / cell) * cell
        cols = int(np.ceil((bounds[2] - x0) / cell)) or 1
        rows = int(np.ceil((bounds[3] - y0) / cell)) or 1
        if rows * cols > MAX_CELLS:
            raise TooLarge(
                f"the grid would have {rows * cols:,} cells of {cell:g} m, at most "
                f"{MAX_CELLS:,}: raise cell_m, filter the sectors or give a smaller area"
            )
        return cls(float(x0), float(y0), cell, rows, cols)

    def window_of(self, bounds: tuple[float, float, float, float]) -> tuple[slice, slice] | None:
        """Rows and columns of the cells that meet the box (None: it misses the grid)."""
        c0 = max(int(np.floor((bounds[0] - self.x0) / self.cell)), 0)
        c1 = min(int(np.ceil((bounds[2] - self.x0) / self.cell)), self.cols)
        r0 = max(int(np.floor((bounds[1] - self.y0) / self.cell)), 0)
        r1 = min(int(np.ceil((bounds[3] - self.y0) / self.cell)), self.rows)
        if c0 >= c1 or r0 >= r1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def centres(self, rows: slice, cols: slice) -> tuple[Array, Array]:
        xs = self.x0 + (np.arange(cols.start, cols.stop) + 0.5) * self.cell
        ys = self.y0 + (np.arange(rows.start, rows.stop) + 0.5) * self.cell
        return xs, ys


@dataclass(frozen=True)
class Window:
    """One sector's received power on its window of the grid (−inf: not computed)."""

    index: int
    rows: slice
    cols: slice
    rx_dbm: NDArray[np.float32]


@dataclass(frozen=True)
class Computed:
    """A sector's received power on its own window of the cell lattice (cached)."""

    row0: int  # lattice indices: the cell whose lower-left corner is (col·cell, row·cell)
    col0: int
    rx_dbm: NDArray[np.float32]
    extrapolated: int
    profiled: int = 0  # paths profiled against the DEM (one per terrain lattice point)
    shadowed: int = 0  # of them, out of line of sight
    beyond_dem: int = 0  # terrain lattice points whose path leaves the DEM (taken flat)


class WindowCache:
    """Computed windows by (radio, receiver height, environment, cell), least recently used
    out first beyond `max_bytes`. An edited sector is a new key: only it is recomputed."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[Any, ...], Computed] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> Computed | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: tuple[Any, ...], value: Computed) -> None:
        with self._lock:
            if key in self._items:
                return
            self._items[key] = value
            self._bytes += value.rx_dbm.nbytes
            while self._bytes > self.max_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.rx_dbm.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


WINDOWS = WindowCache(max_bytes=512 * 2**20)


def compute_window(
    radio: Radio,
    cell: float,
    rx_height_m: float,
    environment: str,
    terrain: knife_edge.Terrain | None = None,
) -> Computed:
    """Received power on every lattice cell of the sector's box (−inf beyond its model),
    less the terrain's diffraction loss on each path when a DEM is given."""
    got = _stack([radio], [_span(radio, cell)], cell, rx_height_m, environment)[0]
    if terrain is None:
        got.rx_dbm.flags.writeable = False
        return got
    rx, (r0, c0) = got.rx_dbm, (got.row0, got.col0)
    xs = (np.arange(c0, c0 + rx.shape[1]) + 0.5) * cell
    ys = (np.arange(r0, r0 + rx.shape[0]) + 0.5) * cell
    k = max(1, int(np.ceil(TERRAIN_STEP_M / cell)))
    # The middle cell of each k × k block (the last block's may be cut short).
    cx = np.minimum(np.arange(0, len(xs), k) + k // 2, len(xs) - 1)
    cy = np.minimum(np.arange(0, len(ys), k) + k // 2, len(ys) - 1)
    px, py = np.meshgrid(xs[cx], ys[cy])
    path = knife_edge.path_loss(
        terrain, radio.x, radio.y, radio.height_m, px, py, rx_height_m, radio.frequency_mhz
    )
    # Free space has no ground; the empirical models were fitted over it (knife_edge).
    lost = path.loss_db if radio.model == "fspl" else path.obstructed_only()
    rx -= np.repeat(np.repeat(lost, k, axis=0), k, axis=1)[: len(ys), : len(xs)]
    rx.flags.writeable = False  # shared between answers
    shadowed, beyond_dem = int((~path.line_of_sight).sum()), int((~path.covered).sum())
    return replace(got, profiled=path.loss_db.size, shadowed=shadowed, beyond_dem=beyond_dem)


# Cells in one vectorised pass. A window of a few thousand cells costs numpy as much in
# per-call overhead as in arithmetic, so sectors with windows of similar size are stacked,
# padded to the largest, and computed together: the city's cold answer took 1.4× as long
# one window at a time (3.05 s against 2.15 s, 2026-12-04).
STACK_CELLS = 1 << 20
STACK_PADDING = 1.25  # padded cells per cell computed, at most
LOOK_AHEAD = 512  # sectors whose windows are computed together when `received` walks them


def compute_windows(
    radios: list[Radio], cell: float, rx_height_m: float, environment: str
) -> list[Computed]:
    """compute_window over flat earth for many sectors, stacked (STACK_CELLS)."""
    spans = [_span(r, cell) for r in radios]
    size = [(s[1] - s[0]) * (s[3] - s[2]) for s in spans]
    kind = [(r.model, r.azimuth_deg is None) for r in radios]
    order = sorted(range(len(radios)), key=lambda i: (kind[i], size[i]))
    out: dict[int, Computed] = {}
    for part in _parts(order, kind, spans, size):
        got = _stack(
            [radios[j] for j in part], [spans[j] for j in part], cell, rx_height_m, environment
        )
        out.update(zip(part, got, strict=True))
    for c in out.values():
        c.rx_dbm.flags.writeable = False  # shared between answers
    return [out[i] for i in range(len(radios))]


def _parts(
    order: list[int], kind: list[Any], spans: list[tuple[int, int, int, int]], size: list[int]
) -> Iterator[list[int]]:
    """Runs of `order` of one kind whose padded stack stays within STACK_CELLS and
    STACK_PADDING."""
    part: list[int] = []
    h = w = cells = 0  # the run's padded window and the cells it really needs
    for i in order:
        r0, r1, c0, c1 = spans[i]
        h2, w2, cells2 = max(h, r1 - r0), max(w, c1 - c0), cells + size[i]
        padded = (len(part) + 1) * h2 * w2
        if part and (kind[i] != kind[part[0]] or padded > min(STACK_CELLS, STACK_PADDING * cells2)):
            yield part
            part, h2, w2, cells2 = [], r1 - r0, c1 - c0, size[i]
        part.append(i)
        h, w, cells = h2, w2, cells2
    if part:
        yield part


def _span(radio: Radio, cell: float) -> tuple[int, int, int, int]:
    """Lattice rows r0..r1 and columns c0..c1 (ends excluded) of the sector's box."""
    b = radio.bounds
    c0, c1 = int(np.floor(b[0] / cell)), int(np.ceil(b[2] / cell))
    r0, r1 = int(np.floor(b[1] / cell)), int(np.ceil(b[3] / cell))
    return r0, r1, c0, c1


def _stack(
    radios: list[Radio],
    spans: list[tuple[int, int, int, int]],
    cell: float,
    rx_height_m: float,
    environment: str,
) -> list[Computed]:
    """Sectors of one model and pattern kind on their windows, padded to one array (n, H, W).

    Per-sector values broadcast as (n, 1, 1) float32: the loss is wanted to 0.01 dB and
    float32 resolves 130 dB to 1e-5 dB, at half the memory and time of float64.
    """
    model, omni = radios[0].model, radios[0].azimuth_deg is None
    r0, r1, c0, c1 = (np.array(v) for v in zip(*spans, strict=True))
    h, w = r1 - r0, c1 - c0
    col = lambda name: np.array([getattr(r, name) for r in radios], np.float32)[:, None, None]  # noqa: E731
    xs = (c0[:, None, None] + np.arange(w.max())[None, None, :] + 0.5) * cell
    ys = (r0[:, None, None] + np.arange(h.max())[None, :, None] + 0.5) * cell
    x = np.array([r.x for r in radios])[:, None, None]
    y = np.array([r.y for r in radios])[:, None, None]
    dx, dy = (xs - x).astype(np.float32), (ys - y).astype(np.float32)
    d = np.maximum(np.hypot(dx, dy), np.float32(MIN_DISTANCE_M))
    hb = col("height_m")
    loss = model_loss(model, d, col("frequency_mhz"), hb, rx_height_m, environment)
    elevation = np.degrees(np.arctan2(np.float32(rx_height_m) - hb, d))
    gain = prop.antenna_gain_db(
        np.float32(0) if omni else np.degrees(np.arctan2(dx, dy)),
        elevation,
        azimuth_deg=0.0 if omni else col("azimuth_deg"),
        downtilt_deg=col("tilt_deg"),
        h_beamwidth_deg=col("beamwidth_deg"),
        v_beamwidth_deg=col("vertical_beamwidth_deg"),
    )
    rx = (col("eirp_dbm") - loss.db + gain).astype(np.float32, copy=False)
    far = d > model_range_m(model)  # beyond the model's range: not computed
    rx[far] = -np.inf
    ranged = prop.MODELS[model].distance_m is not None
    outside = ~loss.in_range & ~far if ranged else None
    out = []
    for k in range(len(radios)):
        extrapolated = int(outside[k, : h[k], : w[k]].sum()) if outside is not None else 0
        rx_k = rx[k, : h[k], : w[k]].copy()
        out.append(Computed(int(r0[k]), int(c0[k]), rx_k, extrapolated))
    return out


def received(
    grid: Grid,
    radios: list[Radio],
    rx_height_m: float,
    environment: str,
    notes: Notes,
    cache: WindowCache | None = WINDOWS,
    terrain: Dem | None = None,
) -> Iterator[Window]:
    """Each sector's received power on the grid's cells within its box, one at a time,
    over `terrain` when a DEM is loaded (its load is in the cache key)."""
    g_r0, g_c0 = round(grid.y0 / grid.cell), round(grid.x0 / grid.cell)
    load = terrain.load_id if terrain else None
    todo = [
        (i, r, (r, rx_height_m, environment, grid.cell, load))
        for i, r in enumerate(radios)
        if r.box != (0.0, 0.0, 0.0, 0.0) and grid.window_of(r.bounds) is not None
    ]
    for start in range(0, len(todo), LOOK_AHEAD):
        ahead = todo[start : start + LOOK_AHEAD]
        cached = [cache.get(key) if cache is not None else None for _, _, key in ahead]
        missing = [k for k, got in enumerate(cached) if got is None]
        if terrain is None:
            new = compute_windows(
                [ahead[k][1] for k in missing], grid.cell, rx_height_m, environment
            )
        else:
            heights = terrain.terrain
            new = [
                compute_window(ahead[k][1], grid.cell, rx_height_m, environment, heights)
                for k in missing
            ]
        for k, fresh in zip(missing, new, strict=True):
            cached[k] = fresh
            if cache is not None:
                cache.put(ahead[k][2], fresh)
        for (i, radio, _), hit in zip(ahead, cached, strict=True):
            assert hit is not None
            yield from _placed(grid, g_r0, g_c0, i, radio, hit, notes)


def _placed(
    grid: Grid, g_r0: int, g_c0: int, i: int, radio: Radio, got: Computed, notes: Notes
) -> Iterator[Window]:
    """The computed window's part inside the grid (if any), counted in the notes."""
    if radio.model == "uma" and radio.height_m != 25.0:
        notes.uma_other_heights += 1
    notes.cells_computed[radio.model] = notes.cells_computed.get(radio.model, 0) + got.rx_dbm.size
    notes.terrain_points += got.profiled
    notes.terrain_shadowed += got.shadowed
    notes.terrain_beyond_dem += got.beyond_dem
    if got.extrapolated:
        notes.cells_extrapolated[radio.model] = (
            notes.cells_extrapolated.get(radio.model, 0) + got.extrapolated
        )
    # The window's part inside the grid, in grid rows and columns.
    h, w = got.rx_dbm.shape
    r0, c0 = got.row0 - g_r0, got.col0 - g_c0
    rr0, rr1 = max(r0, 0), min(r0 + h, grid.rows)
    cc0, cc1 = max(c0, 0), min(c0 + w, grid.cols)
    if rr0 < rr1 and cc0 < cc1:
        rx = got.rx_dbm[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0]
        yield Window(i, slice(rr0, rr1), slice(cc0, cc1), rx)


@dataclass
class BestServer:
    """Per cell: the strongest sector of one group (operator) and its power."""

    rx_dbm: NDArray[np.float32]
    server: NDArray[np.int32]  # index into the radios, −1: none
    covered: NDArray[np.bool_]  # some sector of the group meets its own threshold

    @classmethod
    def empty(cls, grid: Grid) -> BestServer:
        shape = (grid.rows, grid.cols)
        return cls(
            np.full(shape, -np.inf, np.float32),
            np.full(shape, -1, np.int32),
            np.zeros(shape, bool),
        )

    def add(self, w: Window, threshold_dbm: float) -> None:
        best = self.rx_dbm[w.rows, w.cols]
        better = w.rx_dbm > best
        best[better] = w.rx_dbm[better]
        self.server[w.rows, w.cols][better] = w.index
        self.covered[w.rows, w.cols] |= w.rx_dbm >= threshold_dbm


def mask_polygons(
    mask: NDArray[np.bool_], grid: Grid, row0: int = 0, col0: int = 0
) -> shapely.Geometry:
    """The cells of a boolean mask as one (Multi)Polygon in the grid's CRS.

    `mask` is the window of the grid whose first cell is (row0, col0). Runs of cells along
    a row become rectangles, rectangles over the same columns on consecutive rows merge,
    and GEOS unions the rest (~0.3 s for 4 million cells).
    """
    m = np.asarray(mask, bool)
    if not m.any():
        return shapely.Polygon()
    pad = np.zeros((m.shape[0], m.shape[1] + 2), np.int8)
    pad[:, 1:-1] = m
    step = np.diff(pad, axis=1)
    run_row, start = np.nonzero(step == 1)
    _, stop = np.nonzero(step == -1)
    key = start.astype(np.int64) * (m.shape[1] + 1) + stop
    order = np.lexsort((run_row, key))
    key, run_row, start, stop = key[order], run_row[order], start[order], stop[order]
    new = np.ones(key.size, bool)
    new[1:] = (key[1:] != key[:-1]) | (run_row[1:] != run_row[:-1] + 1)
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, key.size - 1]
    c = grid.cell
    x0, y0 = grid.x0 + col0 * c, grid.y0 + row0 * c
    boxes = shapely.box(
        x0 + start[first] * c,
        y0 + run_row[first] * c,
        x0 + stop[first] * c,
        y0 + (run_row[last] + 1) * c,
    )
    return shapely.union_all(boxes)
