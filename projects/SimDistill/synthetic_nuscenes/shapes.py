"""Objects built from a few parts (a car's body, cabin, wheels and lights; a pedestrian's legs,
torso, arms and head; ...), all inside the annotated box, so that class and heading show in the
LiDAR's shape and the images, not only in a colour."""
import colorsys
from dataclasses import dataclass

import numpy as np

from .materials import PATTERN_BUS, PATTERN_NONE, material_id, paint_colour

__all__ = ['ObjectShape', 'build_shape']

# Part: (x0, x1, y0, y1, z0, z1, role) as fractions of the box: x along the length (front at
# +0.5), y along the width (left at +0.5), z up from the bottom (0) to the top (1).
_WHEELS = [(-0.38, -0.2, 0.38, 0.5, 0.0, 0.3, 'tyre'),
           (-0.38, -0.2, -0.5, -0.38, 0.0, 0.3, 'tyre'), (0.2, 0.38, 0.38, 0.5, 0.0, 0.3, 'tyre'),
           (0.2, 0.38, -0.5, -0.38, 0.0, 0.3, 'tyre')]
_LIGHTS = [(0.47, 0.5, 0.25, 0.42, 0.42, 0.52, 'head_light'),
           (0.47, 0.5, -0.42, -0.25, 0.42, 0.52, 'head_light'),
           (-0.5, -0.47, 0.3, 0.45, 0.45, 0.55, 'tail_light'),
           (-0.5, -0.47, -0.45, -0.3, 0.45, 0.55, 'tail_light')]
_RIDER = [(-0.2, 0.02, -0.18, 0.18, 0.55, 0.86, 'torso'),
          (-0.14, -0.02, -0.12, 0.12, 0.86, 1.0, 'skin'),
          (-0.1, 0.12, 0.1, 0.3, 0.3, 0.58, 'legs'), (-0.1, 0.12, -0.3, -0.1, 0.3, 0.58, 'legs')]
_TWO_WHEELER = [(-0.5, -0.1, -0.1, 0.1, 0.0, 0.45, 'tyre'),
                (0.1, 0.5, -0.1, 0.1, 0.0, 0.45, 'tyre'),
                (0.22, 0.32, -0.5, 0.5, 0.58, 0.66, 'metal')]

PARTS = {
    'car': [(-0.5, 0.5, -0.49, 0.49, 0.18, 0.56, 'body'),
            (-0.32, 0.18, -0.44, 0.44, 0.56, 0.97, 'glass'),
            (-0.3, 0.16, -0.42, 0.42, 0.97, 1.0, 'body')] + _WHEELS + _LIGHTS,
    'truck': [(0.26, 0.49, -0.48, 0.48, 0.18, 0.82, 'body'),
              (0.44, 0.5, -0.42, 0.42, 0.52, 0.78, 'glass'),
              (-0.5, 0.22, -0.5, 0.5, 0.24, 1.0, 'cargo'),
              (-0.45, 0.4, -0.35, 0.35, 0.14, 0.24, 'metal')] + _WHEELS + _LIGHTS,
    'construction_vehicle': [(-0.5, 0.18, -0.5, 0.5, 0.0, 0.28, 'tyre'),
                             (-0.45, 0.1, -0.45, 0.45, 0.28, 0.5, 'body'),
                             (-0.3, 0.05, -0.4, 0.1, 0.5, 0.86, 'glass'),
                             (-0.3, 0.05, -0.4, 0.1, 0.86, 0.9, 'body'),
                             (0.1, 0.42, -0.1, 0.1, 0.45, 1.0, 'body'),
                             (0.36, 0.5, -0.4, 0.4, 0.05, 0.4, 'metal')],
    'bus':
    [(-0.5, 0.5, -0.5, 0.5, 0.12, 1.0, 'bus_body')] + [(-0.4, -0.3, 0.4, 0.5, 0.0, 0.14, 'tyre'),
                                                       (-0.4, -0.3, -0.5, -0.4, 0.0, 0.14, 'tyre'),
                                                       (0.3, 0.4, 0.4, 0.5, 0.0, 0.14, 'tyre'),
                                                       (0.3, 0.4, -0.5, -0.4, 0.0, 0.14, 'tyre')],
    'trailer': [(-0.5, 0.38, -0.5, 0.5, 0.25, 1.0, 'cargo'),
                (0.38, 0.5, -0.05, 0.05, 0.22, 0.28, 'metal'),
                (-0.45, 0.3, -0.35, 0.35, 0.16, 0.25, 'metal'),
                (-0.42, -0.3, 0.38, 0.5, 0.0, 0.2, 'tyre'),
                (-0.42, -0.3, -0.5, -0.38, 0.0, 0.2, 'tyre'),
                (-0.28, -0.16, 0.38, 0.5, 0.0, 0.2, 'tyre'),
                (-0.28, -0.16, -0.5, -0.38, 0.0, 0.2, 'tyre')],
    'barrier': [(-0.5, 0.5, -0.5, -0.38, 0.0, 0.3, 'metal'),
                (-0.5, 0.5, 0.38, 0.5, 0.0, 0.3, 'metal'),
                (-0.15, 0.15, -0.5, 0.5, 0.3, 0.82, 'body'),
                (-0.15, 0.15, -0.5, 0.5, 0.82, 1.0, 'band')],
    'motorcycle':
    _TWO_WHEELER + [(-0.3, 0.25, -0.3, 0.3, 0.22, 0.55, 'body'),
                    (0.25, 0.35, -0.25, 0.25, 0.55, 0.75, 'glass')],
    'bicycle':
    _TWO_WHEELER + [(-0.3, 0.28, -0.06, 0.06, 0.3, 0.52, 'body'),
                    (-0.25, -0.12, -0.12, 0.12, 0.52, 0.58, 'metal')],
    'pedestrian': [(-0.25, 0.15, 0.04, 0.3, 0.0, 0.47, 'legs'),
                   (-0.25, 0.15, -0.3, -0.04, 0.0, 0.47, 'legs'),
                   (-0.2, 0.45, 0.02, 0.3, 0.0, 0.05, 'shoe'),
                   (-0.2, 0.45, -0.3, -0.02, 0.0, 0.05, 'shoe'),
                   (-0.3, 0.22, -0.32, 0.32, 0.46, 0.83, 'torso'),
                   (-0.15, 0.15, 0.33, 0.5, 0.48, 0.82, 'torso'),
                   (-0.15, 0.15, -0.5, -0.33, 0.48, 0.82, 'torso'),
                   (-0.18, 0.22, -0.16, 0.16, 0.85, 1.0, 'skin')],
    'traffic_cone': [(-0.5, 0.5, -0.5, 0.5, 0.0, 0.05, 'body'),
                     (-0.38, 0.38, -0.38, 0.38, 0.05, 0.3, 'body'),
                     (-0.29, 0.29, -0.29, 0.29, 0.3, 0.55, 'body'),
                     (-0.21, 0.21, -0.21, 0.21, 0.55, 0.75, 'band'),
                     (-0.13, 0.13, -0.13, 0.13, 0.75, 1.0, 'body')],
}
# Roles that take their colour from the object's paint, and their material.
_ROLE_MATERIAL = {
    'body': 'paint',
    'bus_body': 'paint',
    'cargo': 'paint',
    'torso': 'cloth',
    'legs': 'cloth',
    'glass': 'glass',
    'tyre': 'rubber',
    'head_light': 'lamp',
    'tail_light': 'lamp',
    'metal': 'metal',
    'band': 'reflective',
    'skin': 'skin',
    'shoe': 'rubber'
}
_FIXED_COLOURS = {
    'glass': (0.12, 0.15, 0.2),
    'tyre': (0.08, 0.08, 0.08),
    'head_light': (0.95, 0.93, 0.8),
    'tail_light': (0.75, 0.08, 0.06),
    'metal': (0.45, 0.46, 0.48),
    'band': (0.92, 0.92, 0.9),
    'skin': (0.78, 0.6, 0.48),
    'shoe': (0.1, 0.09, 0.08)
}
# Classes whose paint is not from the style's palette: cones are orange, barriers red to yellow.
_PAINT_HUES = {'traffic_cone': (0.02, 0.08), 'barrier': (0.0, 0.14)}


@dataclass(frozen=True)
class ObjectShape:
    """An object's parts in its box frame (x forward, z up, origin at the box centre).

    Attributes:
        centers: ``(K, 3)`` part centres (m).
        sizes_wlh: ``(K, 3)`` part width, length, height (m).
        materials: ``(K,)`` indices into ``MATERIALS``.
        colours: ``(K, 3)`` RGB in [0, 1].
        patterns: ``(K,)`` PATTERN_* values.
    """

    centers: np.ndarray
    sizes_wlh: np.ndarray
    materials: np.ndarray
    colours: np.ndarray
    patterns: np.ndarray


def _paint(rng: np.random.Generator, class_name: str, palette: str) -> np.ndarray:
    if class_name in _PAINT_HUES:
        return np.array(
            colorsys.hsv_to_rgb(
                rng.uniform(*_PAINT_HUES[class_name]), rng.uniform(0.75, 0.95),
                rng.uniform(0.75, 0.95)))
    return paint_colour(rng, palette)


def build_shape(rng: np.random.Generator, class_name: str, size_wlh: np.ndarray, with_rider: bool,
                palette: str) -> ObjectShape:
    """The parts of one object of ``class_name`` filling a box of ``size_wlh`` (w, l, h) metres.

    Args:
        rng: Source of the paint colours.
        class_name: One of ``CLASS_NAMES``.
        size_wlh: ``(3,)`` the annotated box's size.
        with_rider: Whether a bicycle or motorcycle carries a rider (drawn on it).
        palette: Colour palette name (a key of ``PALETTES``).
    """
    parts = list(PARTS[class_name])
    if class_name in ('bicycle', 'motorcycle') and with_rider:
        parts += _RIDER
    elif class_name in ('bicycle', 'motorcycle'):
        # No rider: the box is lower; keep the vehicle's parts in its lower part.
        parts = [(x0, x1, y0, y1, z0 / 0.75 if z0 < 0.75 else 1.0, min(z1 / 0.75, 1.0), role)
                 for x0, x1, y0, y1, z0, z1, role in parts]
    colours = {role: np.asarray(c) for role, c in _FIXED_COLOURS.items()}
    colours['body'] = colours['bus_body'] = _paint(rng, class_name, palette)
    colours['cargo'] = colours['body'] if rng.random() < 0.5 else paint_colour(rng, palette)
    colours['torso'] = paint_colour(rng, palette)
    colours['legs'] = paint_colour(rng, palette) * 0.6
    w, l, h = (float(v) for v in size_wlh)
    fractions = np.array([p[:6] for p in parts], dtype=np.float64)
    x0, x1, y0, y1, z0, z1 = fractions.T
    centers = np.stack([0.5 * (x0 + x1) * l, 0.5 * (y0 + y1) * w, (0.5 * (z0 + z1) - 0.5) * h], 1)
    sizes = np.stack([(y1 - y0) * w, (x1 - x0) * l, (z1 - z0) * h], 1)
    roles = [p[6] for p in parts]
    return ObjectShape(centers, sizes, np.array([material_id(_ROLE_MATERIAL[r]) for r in roles]),
                       np.array([colours[r] for r in roles]),
                       np.array([PATTERN_BUS if r == 'bus_body' else PATTERN_NONE for r in roles]))
