"""A scene's street network: straight roads on a (possibly irregular) grid laid along the ego's
drive, with lanes, parking strips and sidewalks; what the ground is made of at any point (road,
lane paint, crossing, sidewalk, lawn or paving); and the drivable-area map mask."""
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from .materials import PALETTES, material_id
from .texture import tile_noise

__all__ = ['Road', 'StreetLayout', 'CITY_LAYOUTS', 'build_layout', 'LAYOUT_MARGIN']

CITY_LAYOUTS = ('downtown', 'suburban')
LAYOUT_MARGIN = 160.0  # m of streets laid out around the ego's drive (LiDAR range + objects)
LANE_LINE_HALF_WIDTH = 0.07  # m


@dataclass(frozen=True)
class Road:
    """A straight two-way road of the grid.

    Attributes:
        axis: 0: runs along the grid's u axis (at v = offset); 1: along v (at u = offset).
        offset: Grid coordinate of its centre line (m).
        lanes: Lanes per direction.
        lane_width: m.
        parking_width: Width of the parking strip along each kerb (m, 0: none).
        sidewalk_width: m, on each side.
    """

    axis: int
    offset: float
    lanes: int
    lane_width: float
    parking_width: float
    sidewalk_width: float

    @property
    def half_width(self) -> float:
        """Centre line to kerb (m)."""
        return self.lanes * self.lane_width + self.parking_width

    def local(self, uv: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Grid points ``(..., 2)`` as (along, lateral) coordinates of this road (m)."""
        return uv[..., self.axis], uv[..., 1 - self.axis] - self.offset


@dataclass(frozen=True)
class StreetLayout:
    """The streets of one scene, in a grid frame rotated by ``angle`` about ``origin``.

    Attributes:
        origin: ``(2,)`` global xy of the grid origin (m).
        angle: Heading of the grid's u axis (radians).
        roads: The roads.
        bounds: ``(u_min, u_max, v_min, v_max)`` laid-out area in grid coordinates (m).
        style: One of :data:`CITY_LAYOUTS`.
        palette: Colour palette name.
        drive_side: +1: traffic keeps right, -1: keeps left.
        seed: Seed of the ground's texture.
        drive_bounds: ``(u_min, u_max, v_min, v_max)`` of the ego's drive in grid coordinates.
    """

    origin: np.ndarray
    angle: float
    roads: Tuple[Road, ...]
    bounds: Tuple[float, float, float, float]
    style: str
    palette: str
    drive_side: int
    seed: int
    drive_bounds: Tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    @property
    def rotation(self) -> np.ndarray:
        """Grid -> global rotation ``(2, 2)``."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        return np.array([[c, -s], [s, c]])

    def to_grid(self, xy: np.ndarray) -> np.ndarray:
        """Global points ``(..., 2)`` -> grid ``(..., 2)``."""
        return (np.asarray(xy) - self.origin) @ self.rotation

    def to_global(self, uv: np.ndarray) -> np.ndarray:
        """Grid points ``(..., 2)`` -> global ``(..., 2)``."""
        return np.asarray(uv) @ self.rotation.T + self.origin

    def road_heading(self, road: Road, direction: int) -> float:
        """Global heading (radians) of traffic along ``road`` towards +along (1) or -along
        (-1)."""
        return self.angle + (np.pi / 2 if road.axis else 0.0) + (np.pi if direction < 0 else 0.0)

    def lane_offset(self, road: Road, direction: int, lane: int) -> float:
        """Lateral coordinate (m) of the centre of lane ``lane`` (0: next to the centre line)
        for traffic towards ``direction``: on the right of the centre line where traffic
        keeps right."""
        # Looking towards +along, the right is -lateral on axis-0 roads and +lateral on axis 1.
        right = -1.0 if road.axis == 0 else 1.0
        return direction * right * self.drive_side * (lane + 0.5) * road.lane_width

    def inside(self, uv: np.ndarray) -> np.ndarray:
        u0, u1, v0, v1 = self.bounds
        return (uv[..., 0] >= u0) & (uv[..., 0] <= u1) & (uv[..., 1] >= v0) & (uv[..., 1] <= v1)

    def _nearest(self, uv: np.ndarray, axis: int) -> dict:
        """For every grid point ``(N, 2)``, the nearest road running along ``axis`` (roads of
        one axis are parallel and far apart): its lateral coordinate and parameters ``(N,)``.
        """
        roads = sorted((r for r in self.roads if r.axis == axis), key=lambda r: r.offset)
        if not roads:
            inf = np.full(len(uv), np.inf)
            zero = np.zeros(len(uv))
            return dict(lateral=inf, half=zero, walk=zero, lanes=zero, lane_width=zero,
                        parking=zero, along=uv[:, axis])
        offsets = np.array([r.offset for r in roads])
        across = uv[:, 1 - axis]
        i = np.clip(np.searchsorted(offsets, across), 1, max(len(roads) - 1, 1))
        i = np.where(len(roads) > 1, i, 0)
        prev = np.maximum(i - 1, 0)
        i = np.where(np.abs(across - offsets[prev]) < np.abs(across - offsets[i]), prev, i)
        table = np.array([(r.half_width, r.sidewalk_width, r.lanes, r.lane_width,
                           r.parking_width) for r in roads])[i]
        return dict(lateral=across - offsets[i], half=table[:, 0], walk=table[:, 1],
                    lanes=table[:, 2], lane_width=table[:, 3], parking=table[:, 4],
                    along=uv[:, axis])

    def zones(self, uv: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Whether grid points ``(N, 2)`` are on a road and on a sidewalk (or a road):
        ``(N,)`` bool each."""
        road, walk, _ = self._zones(uv)
        return road, walk

    def _zones(self, uv: np.ndarray):
        near = [self._nearest(uv, axis) for axis in (0, 1)]
        inside = self.inside(uv)
        road = np.zeros(len(uv), dtype=bool)
        walk = np.zeros(len(uv), dtype=bool)
        for n in near:
            a = np.abs(n['lateral'])
            road |= a <= n['half']
            walk |= a <= n['half'] + n['walk']
        return road & inside, walk & inside, near

    def ground(self, xy: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """What the ground is at global points ``(N, 2)``.

        Returns:
            ``materials`` ``(N,)`` indices into ``MATERIALS`` and ``colours`` ``(N, 3)``
            float32 RGB in [0, 1].
        """
        uv = self.to_grid(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
        n = len(uv)
        on_road, on_walk, near = self._zones(uv)
        noise = tile_noise(np.floor(uv[:, 0] * 2.0), np.floor(uv[:, 1] * 2.0),
                           self.seed).astype(np.float64)
        lot_is_grass = self.style == 'suburban'
        if lot_is_grass:
            grey = None
            colours = np.asarray(PALETTES[self.palette]['grass']) * (0.85 + 0.3 * noise)[:, None]
        else:
            grey = 0.5 + 0.08 * noise
        materials = np.full(n, material_id('grass' if lot_is_grass else 'concrete'))
        walk = on_walk & ~on_road
        slab = (np.mod(uv[:, 0], 1.5) < 0.06) | (np.mod(uv[:, 1], 1.5) < 0.06)
        road_grey = 0.2 + 0.07 * noise
        walk_grey = np.where(slab, 0.45, 0.6 + 0.05 * noise)
        paint = self._paint(near) & on_road
        if grey is not None:
            grey = np.where(walk, walk_grey, grey)
            grey = np.where(on_road, road_grey, grey)
            grey = np.where(paint, 0.86, grey)
            colours = np.repeat(grey[:, None], 3, axis=1)
        else:
            colours[walk] = walk_grey[walk, None]
            colours[on_road] = road_grey[on_road, None]
            colours[paint] = 0.86
        materials[walk] = material_id('concrete')
        materials[on_road] = material_id('asphalt')
        materials[paint] = material_id('lane_paint')
        return materials, colours.astype(np.float32)

    @staticmethod
    def _paint(near) -> np.ndarray:
        """Lane lines and zebra crossings given the nearest roads of both axes."""
        paint = None
        for k in (0, 1):
            r, other = near[k], near[1 - k]
            a = np.abs(r['lateral'])
            on = a <= r['half']
            o = np.abs(other['lateral'])
            junction = o <= other['half']
            crossing = (o >= other['half'] + 0.4) & (o <= other['half'] + other['walk'] - 0.4)
            lines = np.abs(a - 0.12) < LANE_LINE_HALF_WIDTH  # double centre line
            dashed = np.mod(r['along'], 9.0) < 3.0
            width = np.maximum(r['lane_width'], 1e-9)
            nearest_divider = np.round(a / width)
            lines |= (np.abs(a - nearest_divider * width) < LANE_LINE_HALF_WIDTH) & dashed & \
                (nearest_divider >= 1) & (nearest_divider < r['lanes'])
            lines |= (r['parking'] > 0) & (np.abs(a - r['lanes'] * width) < LANE_LINE_HALF_WIDTH)
            zebra = crossing & (np.mod(r['lateral'], 1.0) < 0.5) & (a < r['half'] - 0.3)
            mark = on & ((lines & ~junction & ~crossing) | zebra)
            paint = mark if paint is None else paint | mark
        return paint

    def walkable_polygons(self, bounds=None) -> np.ndarray:
        """Roads with their sidewalks as global quadrilaterals ``(R, 4, 2)`` (m), clipped to
        ``bounds`` ``(u0, u1, v0, v1)`` (default: the laid-out area): what a semantic-prior map
        marks as drivable surface and sidewalks."""
        u0, u1, v0, v1 = self.bounds if bounds is None else bounds
        quads = []
        for r in self.roads:
            reach = r.half_width + r.sidewalk_width
            lo, hi = max(r.offset - reach, (v0, u0)[r.axis]), min(r.offset + reach,
                                                                   (v1, u1)[r.axis])
            if lo >= hi:
                continue
            a0, a1 = (u0, u1) if r.axis == 0 else (v0, v1)
            corners = [(a0, lo), (a1, lo), (a1, hi), (a0, hi)]
            uv = np.array([(a, b) if r.axis == 0 else (b, a) for a, b in corners])
            quads.append(self.to_global(uv))
        return np.array(quads).reshape(-1, 4, 2)


def _road(rng: np.random.Generator, axis: int, offset: float, style: str,
          min_lanes: int = 1) -> Road:
    if style == 'downtown':
        lanes = max(min_lanes, 2 if rng.random() < 0.55 else 1)
        parking = rng.uniform(2.2, 2.6) if rng.random() < 0.6 else 0.0
        sidewalk = rng.uniform(3.5, 5.0)
    else:
        lanes = max(min_lanes, 2 if rng.random() < 0.15 else 1)
        parking = rng.uniform(2.2, 2.6) if rng.random() < 0.35 else 0.0
        sidewalk = rng.uniform(2.8, 3.6)
    return Road(axis, float(offset), int(lanes), float(rng.uniform(3.2, 3.6)), float(parking),
                float(sidewalk))


def _grid_lines(rng: np.random.Generator, anchor: float, low: float, high: float,
                style: str) -> list:
    """Centre-line offsets from ``anchor`` outwards until they cover [low, high]."""
    block = rng.uniform(75.0, 105.0)

    def spacing() -> float:
        if style == 'downtown':
            return block + rng.normal(0.0, 4.0)
        return rng.uniform(80.0, 170.0)

    offsets = [anchor]
    x = anchor
    while x > low:
        x -= spacing()
        offsets.append(x)
    x = anchor
    while x < high:
        x += spacing()
        offsets.append(x)
    return sorted(offsets)


def build_layout(rng: np.random.Generator, style: str, palette: str, drive_side: int,
                 seed: int, origin: np.ndarray, heading: float, path_uv: np.ndarray,
                 ego_lane: int, turn_end_uv=None, turn_direction: int = 0) -> StreetLayout:
    """Lays out the streets around a drive that starts at ``origin`` along the grid's u axis.

    Args:
        rng: Random source.
        style: One of :data:`CITY_LAYOUTS`.
        palette: Colour palette name.
        drive_side: +1 keep right, -1 keep left.
        seed: Seed of the ground texture.
        origin: ``(2,)`` global position of the ego at t = 0 (the grid origin).
        heading: Ego heading at t = 0 (the grid's u axis).
        path_uv: ``(T, 2)`` the ego's drive in grid coordinates.
        ego_lane: Lane the ego drives in on the main road (0: next to the centre line).
        turn_end_uv: ``(2,)`` grid position after a turn onto a crossing road, or None.
        turn_direction: +1: the turn ends heading +v, -1: heading -v.
    """
    if style not in CITY_LAYOUTS:
        raise ValueError(f'city layout must be one of {CITY_LAYOUTS}, got {style!r}')
    lo = path_uv.min(0) - LAYOUT_MARGIN
    hi = path_uv.max(0) + LAYOUT_MARGIN
    probe = StreetLayout(np.asarray(origin, float), float(heading), (), (0, 0, 0, 0), style,
                         palette, drive_side, seed)
    main = _road(rng, 0, 0.0, style, min_lanes=ego_lane + 1)
    # The ego's lane centre is at v = 0: shift the main road so.
    main = Road(0, -probe.lane_offset(main, 1, ego_lane), main.lanes, main.lane_width,
                main.parking_width, main.sidewalk_width)
    roads = [main]
    for v in _grid_lines(rng, main.offset, lo[1], hi[1], style):
        if v != main.offset:
            roads.append(_road(rng, 0, v, style))
    if turn_end_uv is not None:
        cross = _road(rng, 1, 0.0, style)
        lane = int(rng.integers(cross.lanes))
        cross_offset = turn_end_uv[0] - probe.lane_offset(cross, turn_direction, lane)
        anchor = float(cross_offset)
    else:
        cross = None
        anchor = float(rng.uniform(-40.0, 90.0))
    for u in _grid_lines(rng, anchor, lo[0], hi[0], style):
        if cross is not None and u == anchor:
            roads.append(Road(1, u, cross.lanes, cross.lane_width, cross.parking_width,
                              cross.sidewalk_width))
        else:
            roads.append(_road(rng, 1, u, style))
    bounds = (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))
    drive = path_uv.min(0), path_uv.max(0)
    return StreetLayout(probe.origin, probe.angle, tuple(roads), bounds, style, palette,
                        drive_side, seed,
                        (float(drive[0][0]), float(drive[1][0]), float(drive[0][1]),
                         float(drive[1][1])))
