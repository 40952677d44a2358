"""What stands along a scene's streets besides the annotated objects: kerbs, buildings set back
from the sidewalks, trees, street lights, signs, bins, benches and parked dumpsters (none of
them a nuScenes detection class)."""
from typing import List

import numpy as np

from .layout import Road, StreetLayout
from .materials import PALETTES, PATTERN_FACADE, PATTERN_NONE, material_id
from .solids import Solids, concatenate_solids

__all__ = ['build_background', 'NEAR_PATH']

NEAR_PATH = 130.0  # m: background farther than this from every ego position is left out
KERB_WIDTH, KERB_HEIGHT = 0.2, 0.13  # m
_KERB_PIECE = 25.0  # m: kerbs are cut into pieces of at most this length
_FURNITURE_OFFSET = 0.8  # m from the kerb line to the furniture's centre line
_GREY = {
    'kerb': (0.66, 0.65, 0.63),
    'metal': (0.42, 0.43, 0.45),
    'dark_metal': (0.22, 0.23, 0.24),
    'bark': (0.3, 0.25, 0.2),
    'sign': (0.36, 0.4, 0.52),
    'bin': (0.24, 0.3, 0.26),
    'hydrant': (0.55, 0.34, 0.3),
    'wood': (0.45, 0.38, 0.3),
    'dumpster': (0.3, 0.36, 0.32),
    'roof': (0.3, 0.26, 0.25),
}


class _SolidList:
    """Collects background boxes in grid coordinates."""

    def __init__(self, layout: StreetLayout) -> None:
        self.layout = layout
        self.rows: List[tuple] = []

    def add(self, u: float, v: float, bottom: float, length_u: float, width_v: float,
            height: float, material: str, colour, pattern: int = PATTERN_NONE) -> None:
        """An axis-aligned (in the grid) box: centre (u, v), extents along u and v, from
        ``bottom`` to ``bottom + height`` metres."""
        self.rows.append((u, v, bottom, length_u, width_v, height, material_id(material),
                          tuple(colour), pattern))

    def add_along(self, road: Road, along: float, lateral: float, bottom: float, length: float,
                  width: float, height: float, material: str, colour,
                  pattern: int = PATTERN_NONE) -> None:
        """A box given in a road's (along, lateral) coordinates, aligned with the road."""
        if road.axis == 0:
            self.add(along, road.offset + lateral, bottom, length, width, height, material,
                     colour, pattern)
        else:
            self.add(road.offset + lateral, along, bottom, width, length, height, material,
                     colour, pattern)

    def solids(self) -> Solids:
        if not self.rows:
            return concatenate_solids([])
        u, v, bottom, lu, wv, h, mat, colour, pattern = (np.array(c) for c in zip(*self.rows))
        xy = self.layout.to_global(np.stack([u, v], 1))
        n = len(u)
        return Solids(
            centers=np.concatenate([xy, (bottom + 0.5 * h)[:, None]], 1),
            sizes_wlh=np.stack([wv, lu, h], 1),
            yaws=np.full(n, self.layout.angle),
            class_ids=np.full(n, -1),
            owners=np.full(n, -1),
            materials=mat.astype(np.int64),
            colours=colour.astype(np.float64).reshape(n, 3),
            patterns=pattern.astype(np.int64))


def _path_range(road: Road, path_uv: np.ndarray):
    """Along-road interval within NEAR_PATH of the drive, or None."""
    lateral = np.abs(path_uv[:, 1 - road.axis] - road.offset)
    near = lateral < NEAR_PATH
    if not near.any():
        return None
    reach = np.sqrt(NEAR_PATH**2 - lateral[near]**2)
    along = path_uv[near, road.axis]
    return float(np.min(along - reach)), float(np.max(along + reach))


def _corridors(layout: StreetLayout, road: Road) -> np.ndarray:
    """``(C, 2)`` along-road intervals taken by crossing roads and their sidewalks."""
    return np.array([(o.offset - o.half_width - o.sidewalk_width,
                      o.offset + o.half_width + o.sidewalk_width) for o in layout.roads
                     if o.axis != road.axis]).reshape(-1, 2)


def _free_intervals(lo: float, hi: float, taken: np.ndarray, margin: float) -> list:
    out, start = [], lo
    for a, b in sorted(map(tuple, taken)):
        if b + margin < start or a - margin > hi:
            continue
        if a - margin > start:
            out.append((start, min(a - margin, hi)))
        start = max(start, b + margin)
    if start < hi:
        out.append((start, hi))
    return [(a, b) for a, b in out if b - a > 1.0]


def _kerbs(layout: StreetLayout, out: _SolidList, path_uv: np.ndarray) -> None:
    for road in layout.roads:
        span = _path_range(road, path_uv)
        if span is None:
            continue
        for a, b in _free_intervals(*span, _corridors(layout, road), 0.0):
            pieces = int(np.ceil((b - a) / _KERB_PIECE))
            edges = np.linspace(a, b, pieces + 1)
            for side in (-1.0, 1.0):
                lateral = side * (road.half_width + 0.5 * KERB_WIDTH)
                for s0, s1 in zip(edges[:-1], edges[1:]):
                    out.add_along(road, 0.5 * (s0 + s1), lateral, 0.0, s1 - s0, KERB_WIDTH,
                                  KERB_HEIGHT, 'kerb_stone', _GREY['kerb'])


def _tree(out: _SolidList, road: Road, s: float, lateral: float, rng, palette: str) -> None:
    trunk = rng.uniform(2.2, 3.0)
    crown = rng.uniform(2.2, 3.2)
    foliage = np.asarray(PALETTES[palette]['foliage']) * rng.uniform(0.8, 1.15)
    out.add_along(road, s, lateral, 0.0, 0.3, 0.3, trunk, 'bark', _GREY['bark'])
    h1 = rng.uniform(1.8, 2.8)
    out.add_along(road, s, lateral, trunk - 0.3, crown, crown, h1, 'foliage', foliage)
    out.add_along(road, s, lateral, trunk - 0.3 + h1, 0.6 * crown, 0.6 * crown, 0.6 * h1,
                  'foliage', foliage * 1.1)


def _furniture(layout: StreetLayout, out: _SolidList, path_uv: np.ndarray, rng,
               density: float) -> None:
    suburban = layout.style == 'suburban'
    kinds = ('tree', 'light', 'sign', 'bin', 'hydrant', 'bench', 'bollard')
    weights = np.array([0.45, 0.12, 0.1, 0.1, 0.08, 0.08, 0.07] if suburban else
                       [0.25, 0.18, 0.14, 0.15, 0.08, 0.1, 0.1])
    for road in layout.roads:
        span = _path_range(road, path_uv)
        if span is None:
            continue
        for a, b in _free_intervals(*span, _corridors(layout, road), 1.5):
            for side in (-1.0, 1.0):
                lateral = side * (road.half_width + _FURNITURE_OFFSET)
                s = a + rng.uniform(0.0, 6.0) / density
                while s < b - 1.0:
                    kind = kinds[rng.choice(len(kinds), p=weights / weights.sum())]
                    _furniture_item(out, road, s, lateral, side, kind, rng, layout.palette)
                    s += rng.uniform(5.0, 14.0) / density
            if road.parking_width > 0:  # parked dumpsters and skips
                for side in (-1.0, 1.0):
                    s = a + rng.uniform(5.0, 60.0) / density
                    lateral = side * (road.half_width - 0.5 * road.parking_width)
                    while s < b - 3.0:
                        out.add_along(road, s, lateral, 0.0, rng.uniform(1.8, 2.6),
                                      rng.uniform(1.3, 1.7), rng.uniform(1.1, 1.5), 'metal',
                                      np.asarray(_GREY['dumpster']) * rng.uniform(0.8, 1.2, 3))
                        s += rng.uniform(40.0, 110.0) / density


def _furniture_item(out: _SolidList, road: Road, s: float, lateral: float, side: float, kind: str,
                    rng, palette: str) -> None:
    if kind == 'tree':
        _tree(out, road, s, lateral + side * 0.4, rng, palette)
    elif kind == 'light':
        height = rng.uniform(6.0, 8.0)
        out.add_along(road, s, lateral, 0.0, 0.2, 0.2, height, 'metal', _GREY['metal'])
        out.add_along(road, s, lateral - side * 1.0, height - 0.15, 0.15, 2.0, 0.15, 'metal',
                      _GREY['metal'])
        out.add_along(road, s, lateral - side * 2.0, height - 0.35, 0.35, 0.6, 0.2, 'lamp',
                      (0.85, 0.85, 0.8))
    elif kind == 'sign':
        out.add_along(road, s, lateral, 0.0, 0.08, 0.08, 2.0, 'metal', _GREY['metal'])
        out.add_along(road, s + 0.07, lateral, 2.0, 0.05, 0.65, 0.65, 'reflective',
                      np.asarray(_GREY['sign']) * rng.uniform(0.85, 1.2))
    elif kind == 'bin':
        out.add_along(road, s, lateral, 0.0, 0.6, 0.6, rng.uniform(0.9, 1.1), 'metal',
                      _GREY['bin'])
    elif kind == 'hydrant':
        out.add_along(road, s, lateral, 0.0, 0.3, 0.3, 0.75, 'metal', _GREY['hydrant'])
    elif kind == 'bench':
        out.add_along(road, s, lateral, 0.0, 1.8, 0.55, 0.45, 'metal', _GREY['wood'])
        out.add_along(road, s, lateral + side * 0.25, 0.45, 1.8, 0.08, 0.45, 'metal',
                      _GREY['wood'])
    else:  # a row of bollards
        for k in range(3):
            out.add_along(road, s + 1.2 * k, lateral, 0.0, 0.2, 0.2, 0.9, 'metal',
                          _GREY['dark_metal'])


def _lots(layout: StreetLayout):
    """The blocks between the roads: ``(u0, u1, v0, v1)`` of the land behind the sidewalks."""
    for axis_a, axis_b in ((1, 0), ):
        us = sorted((r for r in layout.roads if r.axis == axis_a), key=lambda r: r.offset)
        vs = sorted((r for r in layout.roads if r.axis == axis_b), key=lambda r: r.offset)
        for ra, rb in zip(us[:-1], us[1:]):
            u0 = ra.offset + ra.half_width + ra.sidewalk_width
            u1 = rb.offset - rb.half_width - rb.sidewalk_width
            for rc, rd in zip(vs[:-1], vs[1:]):
                v0 = rc.offset + rc.half_width + rc.sidewalk_width
                v1 = rd.offset - rd.half_width - rd.sidewalk_width
                if u1 - u0 > 10.0 and v1 - v0 > 10.0:
                    yield u0, u1, v0, v1


def _buildings(layout: StreetLayout, out: _SolidList, path_uv: np.ndarray, rng,
               density: float) -> None:
    suburban = layout.style == 'suburban'
    facades = PALETTES[layout.palette]['facade']
    for u0, u1, v0, v1 in _lots(layout):
        nearest = np.clip(path_uv, [u0, v0], [u1, v1])
        if np.min(np.linalg.norm(path_uv - nearest, axis=1)) > NEAR_PATH:
            continue
        max_depth = min(12.0 if suburban else 22.0, 0.5 * min(u1 - u0, v1 - v0) - 1.0)
        setback_range = (4.0, 9.0) if suburban else (0.0, 1.5)
        max_setback = min(setback_range[1], 0.25 * min(u1 - u0, v1 - v0))
        # Four sides: (axis of the frontage, frontage start, end, line, inward sign).
        sides = [(0, u0, u1, v0, 1.0), (0, u0, u1, v1, -1.0),
                 (1, v0 + max_depth + max_setback + 1.0, v1 - max_depth - max_setback - 1.0, u0,
                  1.0),
                 (1, v0 + max_depth + max_setback + 1.0, v1 - max_depth - max_setback - 1.0, u1,
                  -1.0)]
        for axis, start, end, line, inward in sides:
            s = start + rng.uniform(0.0, 3.0)
            while s < end - 4.0:
                width = rng.uniform(8.0, 14.0) if suburban else rng.uniform(10.0, 30.0)
                width = min(width, end - s)
                if width < 4.0:
                    break
                depth = rng.uniform(min(8.0, max_depth), max_depth) if max_depth > 4 else max_depth
                setback = rng.uniform(setback_range[0], max_setback) if \
                    max_setback > setback_range[0] else max_setback
                height = rng.uniform(3.5, 7.0) if suburban else float(
                    np.exp(rng.uniform(np.log(8.0), np.log(45.0))))
                across = line + inward * (setback + 0.5 * depth)
                colour = np.asarray(facades[rng.integers(len(facades))]) * rng.uniform(0.9, 1.08)
                centre = (s + 0.5 * width, across) if axis == 0 else (across, s + 0.5 * width)
                extents = (width, depth) if axis == 0 else (depth, width)
                if depth > 2.0:
                    out.add(*centre, 0.0, *extents, height, 'facade', colour, PATTERN_FACADE)
                    _roof(out, centre, extents, height, suburban, rng, colour)
                    if suburban and rng.random() < 0.5 * density and setback > 4.0:
                        yard = line + inward * 0.5 * setback
                        offset = s + rng.uniform(0.2, 0.8) * width
                        road = Road(axis, yard, 1, 0.0, 0.0, 0.0)
                        _tree(out, road, offset, 0.0, rng, layout.palette)
                s += width + (rng.uniform(4.0, 14.0) if suburban else
                              (0.0 if rng.random() < 0.6 else rng.uniform(1.0, 4.0)))


def _roof(out: _SolidList, centre, extents, height: float, suburban: bool, rng, colour) -> None:
    if suburban:  # a darker, smaller roof block, the nearest a box comes to a gable
        inset = 1.0
        out.add(*centre, height, extents[0] - 2 * inset, extents[1] - 2 * inset,
                rng.uniform(1.2, 2.0), 'roof', _GREY['roof'])
    elif rng.random() < 0.35 and min(extents) > 8.0:  # an upper tier set back
        inset = rng.uniform(2.0, 4.0)
        out.add(*centre, height, extents[0] - 2 * inset, extents[1] - 2 * inset,
                rng.uniform(4.0, 15.0), 'facade', colour * 0.95, PATTERN_FACADE)


def build_background(rng: np.random.Generator, layout: StreetLayout, path_uv: np.ndarray,
                     density: float) -> Solids:
    """Every background solid of a scene.

    Args:
        rng: Random source.
        layout: The streets.
        path_uv: ``(T, 2)`` the ego's drive in grid coordinates (for what to lay out).
        density: Multiplies how much street furniture and clutter there is (1: default).

    Returns:
        The solids, ``owners`` all -1.
    """
    out = _SolidList(layout)
    _kerbs(layout, out, path_uv)
    _buildings(layout, out, path_uv, rng, density)
    _furniture(layout, out, path_uv, rng, density)
    return out.solids()
